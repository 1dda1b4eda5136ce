"""Camera intrinsics and the pose of one square marker from its four image corners.

A planar square seen nearly face-on has two poses that explain its corners almost equally well
(the picture of a tilted square and of the mirror tilt differ by a fraction of a pixel). Taking
whichever OpenCV lists first makes the heritage object flip back and forth between frames, so
`marker_pose` keeps both candidates and decides explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ar_markers.rotations import (
    quaternion_to_rvec,
    rotation_angle_deg,
    rvec_to_quaternion,
    slerp,
)
from core.errors import Invalid

# Rear cameras of school tablets stream video with 60–70° across the long side; a default in
# that range puts the distance within ~10 % when the page cannot say which tablet it runs on.
DEFAULT_FOV_DEG = 64.0

# Corner noise assumed at least this large when weighing the two pose candidates.
NOISE_FLOOR_PX = 0.02
# How far a hand-held tablet typically turns between two frames a fifth of a second apart.
FRAME_TO_FRAME_DEG = 10.0


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole camera without distortion (tablet video is already undistorted by the OS)."""

    fx: float
    fy: float
    cx: float
    cy: float

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    def as_dict(self) -> dict[str, float]:
        return {"fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}


def default_intrinsics(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> Intrinsics:
    """Square pixels, principal point at the centre, `fov_deg` across the longer side."""
    f = (max(width, height) / 2) / math.tan(math.radians(fov_deg) / 2)
    return Intrinsics(f, f, (width - 1) / 2, (height - 1) / 2)


def parse_intrinsics(value: Mapping[str, object] | None, width: int, height: int) -> Intrinsics:
    """Intrinsics as a page sends them (`{fx, fy, cx, cy}`), or the default when absent."""
    if value is None:
        return default_intrinsics(width, height)
    if not isinstance(value, Mapping):
        raise Invalid("Camera intrinsics must be an object {fx, fy, cx, cy}.", field="intrinsics")
    numbers: dict[str, float] = {}
    for key in ("fx", "fy", "cx", "cy"):
        raw = value.get(key)
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise Invalid(f"Camera intrinsics need a number for {key}.", field="intrinsics")
        numbers[key] = float(raw)
    longest = max(width, height)
    # focal lengths outside 0.1×–20× the frame size mean a unit mix-up (mm, normalised), not a lens
    if not all(0.1 * longest <= numbers[k] <= 20 * longest for k in ("fx", "fy")):
        raise Invalid("Camera focal lengths must be given in pixels.", field="intrinsics")
    if not (-width <= numbers["cx"] <= 2 * width and -height <= numbers["cy"] <= 2 * height):
        raise Invalid("The camera centre must lie near the frame.", field="intrinsics")
    return Intrinsics(**numbers)


@dataclass(frozen=True)
class Pose:
    """Marker → camera transform in OpenCV's camera frame (x right, y down, z forward), metres."""

    rvec: tuple[float, float, float]
    tvec: tuple[float, float, float]
    reprojection_error_px: float
    mirror_weight: float  # share of the mirrored candidate in the result; 0 when clear-cut

    @property
    def ambiguous(self) -> bool:
        """Both candidates explained the corners, so the result is a blend of them."""
        return self.mirror_weight > 0.05


def square_object_points(size_m: float) -> np.ndarray:
    """Corners TL, TR, BR, BL of the black square, marker frame with z out of the paper.

    This order and layout is what SOLVEPNP_IPPE_SQUARE requires.
    """
    h = size_m / 2
    return np.array([[-h, h, 0], [h, h, 0], [h, -h, 0], [-h, -h, 0]], np.float64)


def marker_pose(
    corners: np.ndarray,
    size_m: float,
    intrinsics: Intrinsics,
    previous_rvec: Sequence[float] | None = None,
) -> Pose | None:
    """Pose of a square marker from its corners (4×2, TL, TR, BR, BL, pixels).

    IPPE gives two candidates: the true tilt and its mirror image about the line of sight.
    Each is weighted by how well it explains the corners (a clear winner takes all) and, when
    a previous orientation is known, by how close it stays to it, so a steady marker does not
    flip. When neither evidence decides — a marker seen almost face-on, where the two
    candidates are small tilts either way — the weighted blend of the two is returned: its
    error is half the gap between them, where picking one risks the whole gap and makes the
    object rock from frame to frame. Returns None when no candidate puts the marker in front
    of the camera (a degenerate quad).
    """
    image_points = np.ascontiguousarray(corners, np.float64).reshape(4, 1, 2)
    object_points = square_object_points(size_m)
    camera = intrinsics.matrix()
    _n, rvecs, tvecs, errors = cv2.solvePnPGeneric(
        object_points, image_points, camera, None, flags=cv2.SOLVEPNP_IPPE_SQUARE
    )
    candidates = sorted(
        (
            (float(err), r.reshape(3), t.reshape(3))
            for r, t, err in zip(rvecs, tvecs, np.asarray(errors).reshape(-1), strict=True)
            if t.reshape(3)[2] > 0 and np.isfinite(err)
        ),
        key=lambda c: c[0],
    )
    if not candidates:
        return None
    best_err, best_r, best_t = candidates[0]
    if len(candidates) == 1:
        return Pose(_tuple(best_r), _tuple(best_t), best_err, 0.0)
    other_err, other_r, other_t = candidates[1]
    weight = _mirror_weight(best_err, other_err, best_r, other_r, previous_rvec)
    if weight < 1e-3:
        return Pose(_tuple(best_r), _tuple(best_t), best_err, weight)
    q = slerp(rvec_to_quaternion(best_r), rvec_to_quaternion(other_r), weight)
    rvec = quaternion_to_rvec(q)
    tvec = (1 - weight) * best_t + weight * other_t
    projected, _ = cv2.projectPoints(object_points, rvec, tvec, camera, None)
    err = float(np.sqrt(np.mean(np.sum((projected - image_points) ** 2, axis=2))))
    return Pose(_tuple(rvec), _tuple(tvec), err, weight)


def _mirror_weight(
    best_err: float,
    other_err: float,
    best_r: np.ndarray,
    other_r: np.ndarray,
    previous_rvec: Sequence[float] | None,
) -> float:
    """Share of the second candidate: its likelihood relative to the best one's.

    Eight corner coordinates minus six pose parameters leave two degrees of freedom, so the
    best candidate's squared error estimates the corner noise; the floor keeps perfect
    synthetic corners from making every small difference decisive.
    """
    noise_sq = max(best_err**2, NOISE_FLOOR_PX**2)
    log_ratio = -(other_err**2 - best_err**2) / noise_sq
    if previous_rvec is not None:
        to_best = rotation_angle_deg(best_r, previous_rvec)
        to_other = rotation_angle_deg(other_r, previous_rvec)
        log_ratio -= (to_other**2 - to_best**2) / (2 * FRAME_TO_FRAME_DEG**2)
    if log_ratio < -30:
        return 0.0
    ratio = math.exp(min(log_ratio, 30.0))
    return ratio / (1 + ratio)


def _tuple(v: np.ndarray) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))
