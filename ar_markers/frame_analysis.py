"""One camera frame in, the markers it shows and their poses out, ready to send as JSON.

This is the function the visitor edge runs in its thread pool for every `frame` event. Its
arguments are plain values (bytes, names, numbers, dicts) so it can equally run in a process
pool; it keeps no state between frames — the previous pose, when there is one, comes in as an
argument, and smoothing over time is `smoothing.PoseSmoother`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ar_markers.detection import (
    DEFAULT_SETTINGS,
    DetectorSettings,
    check_dictionaries,
    detect_markers,
    fit_edges,
)
from ar_markers.frames import DEFAULT_LIMITS, FrameLimits, decode_gray
from ar_markers.pose import marker_pose, parse_intrinsics
from core.errors import Invalid

DEFAULT_MARKER_SIZE_M = 0.10

MarkerKey = tuple[str, int]


def analyse_frame(
    image: bytes,
    *,
    dictionaries: Sequence[str] | None = None,
    sizes: Mapping[MarkerKey, float] | None = None,
    default_size_m: float = DEFAULT_MARKER_SIZE_M,
    intrinsics: Mapping[str, object] | None = None,
    previous_rvecs: Mapping[MarkerKey, Sequence[float]] | None = None,
    limits: FrameLimits = DEFAULT_LIMITS,
    settings: DetectorSettings = DEFAULT_SETTINGS,
) -> dict[str, object]:
    """Decode a JPEG/PNG frame, find markers, estimate each pose; JSON-ready result.

    `sizes` maps (dictionary, id) to the printed black-square edge in metres (the exhibit's
    `marker.size_m`); unknown markers get `default_size_m`, so their distance is a guess but
    their direction and orientation are right. `previous_rvecs` (same keys) settles the
    two-fold pose ambiguity in favour of continuity. Raises Invalid/TooLarge for bad frames.

    Returns `{"width", "height", "markers": [{dictionary, id, corners, pose{rvec, tvec},
    reprojection_error_px, size_m}]}`, largest marker first; corners are full-size pixels
    TL, TR, BR, BL; rvec/tvec are in OpenCV's camera frame (x right, y down, z forward),
    metres.
    """
    names = check_dictionaries(dictionaries)
    if not isinstance(default_size_m, int | float) or not 0 < default_size_m < 10:
        raise Invalid(
            "The default marker size must be a positive number of metres.", field="size_m"
        )
    gray = decode_gray(image, limits)
    height, width = gray.shape
    camera = parse_intrinsics(intrinsics, width, height)
    sizes = sizes or {}
    previous_rvecs = previous_rvecs or {}
    markers: list[dict[str, object]] = []
    for found in detect_markers(gray, names, settings):
        key = (found.dictionary, found.marker_id)
        size_m = sizes.get(key, default_size_m)
        if isinstance(size_m, bool) or not isinstance(size_m, int | float) or not size_m > 0:
            raise Invalid(f"Marker {key[0]} #{key[1]} has no valid printed size.", field="sizes")
        size_m = float(size_m)
        corners = found.corners
        previous = previous_rvecs.get(key)
        pose = marker_pose(corners, size_m, camera, previous)
        # near face-on the orientation hangs on hundredths of a pixel: measure the edges then
        if settings.edge_fit == "always" or (
            settings.edge_fit == "auto" and (pose is None or pose.mirror_weight >= 1e-3)
        ):
            corners = fit_edges(gray, corners, found.dictionary)
            pose = marker_pose(corners, size_m, camera, previous)
        if pose is None:
            continue
        markers.append(
            {
                "dictionary": found.dictionary,
                "id": found.marker_id,
                "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in corners],
                "pose": {
                    "rvec": [round(v, 6) for v in pose.rvec],
                    "tvec": [round(v, 6) for v in pose.tvec],
                },
                "reprojection_error_px": round(pose.reprojection_error_px, 3),
                "size_m": size_m,
            }
        )
    return {"width": width, "height": height, "markers": markers}
