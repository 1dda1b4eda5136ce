"""Rotation vectors, unit quaternions and the angle between orientations.

OpenCV speaks rotation vectors (axis × angle); blending two orientations — the pose solver's two
candidates, or a visitor's poses over time — needs quaternions, where spherical interpolation
turns at constant speed and never shrinks the rotation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def rvec_to_quaternion(rvec: Sequence[float]) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation vector."""
    r = np.asarray(rvec, np.float64).reshape(3)
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.array([1.0, 0.0, 0.0, 0.0])
    return np.concatenate([[math.cos(angle / 2)], r / angle * math.sin(angle / 2)])


def quaternion_to_rvec(q: np.ndarray) -> np.ndarray:
    """Rotation vector of a (not necessarily unit) quaternion, the short way round."""
    q = np.asarray(q, np.float64) / np.linalg.norm(q)
    if q[0] < 0:  # q and -q are the same rotation; this one has angle ≤ 180°
        q = -q
    w = min(1.0, float(q[0]))
    s = math.sqrt(max(0.0, 1 - w * w))
    if s < 1e-12:
        return np.zeros(3)
    return q[1:] / s * (2 * math.acos(w))


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from q0 (t=0) to q1 (t=1) along the shorter arc."""
    dot = float(np.dot(q0, q1))
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly equal: the arc is a line, and sin(θ) would divide by ~0
        q = q0 + t * (q1 - q0)
        return q / np.linalg.norm(q)
    theta = math.acos(dot)
    return (math.sin((1 - t) * theta) * q0 + math.sin(t * theta) * q1) / math.sin(theta)


def quaternion_angle_deg(q0: np.ndarray, q1: np.ndarray) -> float:
    """Angle of the rotation between two orientations given as unit quaternions."""
    return math.degrees(2 * math.acos(min(1.0, abs(float(np.dot(q0, q1))))))


def rotation_angle_deg(rvec_a: Sequence[float], rvec_b: Sequence[float]) -> float:
    """Angle of the rotation taking one orientation (rotation vector) to the other."""
    return quaternion_angle_deg(rvec_to_quaternion(rvec_a), rvec_to_quaternion(rvec_b))
