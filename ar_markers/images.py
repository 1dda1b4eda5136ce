"""Marker pictures: the black square with its white quiet zone, as an array or a PNG.

The quiet zone is part of the marker, not decoration: the detector finds the black square by
its contrast with white paper around it, so a marker pasted onto a busy poster without it is
often missed.
"""

from __future__ import annotations

import cv2
import numpy as np

from ar_markers.dictionaries import check_marker, opencv_dictionary
from core.errors import Invalid

QUIET_MODULES = 2  # white cells around the black square; one is the minimum, two survive trimming


def marker_array(
    dictionary: str, marker_id: int, *, module_px: int = 32, quiet_modules: int = QUIET_MODULES
) -> np.ndarray:
    """A uint8 grayscale image of one marker: every cell exactly `module_px` pixels.

    Whole pixels per cell keep the edges sharp at any print or screen scale.
    """
    fam = check_marker(dictionary, marker_id)
    if not 1 <= module_px <= 256:
        raise Invalid("A marker cell must be 1 to 256 pixels wide.", field="module_px")
    if not 0 <= quiet_modules <= 16:
        raise Invalid("The quiet zone must be 0 to 16 cells wide.", field="quiet_modules")
    side = fam.modules * module_px
    square = cv2.aruco.generateImageMarker(opencv_dictionary(dictionary), marker_id, side, 1)
    pad = quiet_modules * module_px
    return cv2.copyMakeBorder(square, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)


def marker_png(
    dictionary: str, marker_id: int, *, module_px: int = 32, quiet_modules: int = QUIET_MODULES
) -> bytes:
    """PNG bytes of `marker_array`, for `GET /exhibits/{id}/marker.png`."""
    image = marker_array(dictionary, marker_id, module_px=module_px, quiet_modules=quiet_modules)
    ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - encoding a valid uint8 array does not fail
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()
