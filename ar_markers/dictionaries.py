"""The marker families an exhibit may use, by the names every API speaks.

Exhibits store `marker{dictionary, id, size_m}`; the dictionary is one of the names below. The
OpenCV dictionary objects are not picklable, so callers pass names and this module turns them
into objects inside the worker that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2

from core.errors import Invalid

DEFAULT_DICTIONARY = "aruco_4x4_50"


@dataclass(frozen=True)
class MarkerFamily:
    """One dictionary: its API name, OpenCV constant and geometry."""

    name: str
    opencv_id: int
    bits: int  # data cells per side, without the black border
    count: int  # valid ids are 0 .. count - 1
    description: str

    @property
    def modules(self) -> int:
        """Cells per side of the black square, border included (one cell each side)."""
        return self.bits + 2


FAMILIES: dict[str, MarkerFamily] = {
    family.name: family
    for family in (
        MarkerFamily(
            "aruco_4x4_50",
            cv2.aruco.DICT_4X4_50,
            4,
            50,
            "large cells, the most robust choice; 50 markers",
        ),
        MarkerFamily(
            "apriltag_36h11",
            cv2.aruco.DICT_APRILTAG_36h11,
            6,
            587,
            "for collections with many exhibits; 587 markers",
        ),
    )
}


def family(name: str) -> MarkerFamily:
    """Look a dictionary up by its API name, refusing unknown names with the valid ones."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FAMILIES))
        raise Invalid(
            f"Unknown marker dictionary {name!r}; use one of: {known}.", field="dictionary"
        ) from None


def check_marker(name: str, marker_id: int) -> MarkerFamily:
    """Validate a (dictionary, id) pair as an exhibit or a sheet would store it."""
    fam = family(name)
    # bool is an int subclass; a JSON `true` must not become marker 1
    if not isinstance(marker_id, int) or isinstance(marker_id, bool):
        raise Invalid(f"A marker id must be a whole number, not {marker_id!r}.", field="marker_id")
    if not 0 <= marker_id < fam.count:
        raise Invalid(
            f"Marker id {marker_id} does not exist in {fam.name}; "
            f"choose an id from 0 to {fam.count - 1}.",
            field="marker_id",
        )
    return fam


def check_size(size_m: float) -> float:
    """A printed marker edge must fit on A4 and stay detectable from a tablet."""
    if not isinstance(size_m, int | float) or isinstance(size_m, bool):
        raise Invalid(f"A marker size must be a number of metres, not {size_m!r}.", field="size_m")
    if not 0.01 <= size_m <= 0.18:
        raise Invalid(
            f"A marker of {size_m * 100:g} cm cannot be printed on A4 and still be found by a "
            "camera; choose a size from 1 cm to 18 cm.",
            field="size_m",
        )
    return float(size_m)


@cache
def opencv_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The OpenCV object for a name; cached because building AprilTag's table is not free."""
    return cv2.aruco.getPredefinedDictionary(family(name).opencv_id)
