"""Steadying each visitor's marker poses over time.

A pose from one frame trembles by a fraction of a degree and a few millimetres; drawn at
5–15 frames per second, the heritage object visibly shivers. Exponential smoothing of the
position and spherical interpolation of the orientation calm it, but plain smoothing also makes
the object lag and swim when the tablet really moves. So the blend adapts: small changes (noise)
are averaged strongly, large ones (motion) are followed almost at once. State is per marker and
is dropped when the marker has not been seen for a while, so a marker found again — or a new
exhibit's marker — starts from its measured pose instead of sliding in from an old one.

One `PoseSmoother` per visitor, owned by the edge; it does no I/O and reads no clock: the
caller passes the frame's time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ar_markers.rotations import (
    quaternion_angle_deg,
    quaternion_to_rvec,
    rvec_to_quaternion,
    slerp,
)

MarkerKey = tuple[str, int]


@dataclass(frozen=True)
class SmoothingSettings:
    """Blend factors: 0 keeps the old pose, 1 takes the new one."""

    min_blend: float = 0.25  # for changes the size of noise
    # changes this large count as real motion and are followed with blend 1
    motion_translation: float = 0.04  # fraction of the marker's distance
    motion_rotation_deg: float = 8.0
    forget_after_s: float = 0.6  # unseen this long: start afresh when seen again


@dataclass
class _Track:
    quaternion: np.ndarray  # (w, x, y, z), unit
    tvec: np.ndarray
    seen_at: float


class PoseSmoother:
    """Smooths the poses `analyse_frame` reports for one visitor, marker by marker."""

    def __init__(self, settings: SmoothingSettings | None = None) -> None:
        self.settings = settings or SmoothingSettings()
        self._tracks: dict[MarkerKey, _Track] = {}

    def reset(self) -> None:
        """Forget every marker: e.g. when the visitor switches exhibit or tour stop."""
        self._tracks.clear()

    def previous_rvecs(self) -> dict[MarkerKey, list[float]]:
        """Last smoothed orientation per marker, for `analyse_frame(previous_rvecs=...)`."""
        return {k: quaternion_to_rvec(t.quaternion).tolist() for k, t in self._tracks.items()}

    def _blend(self, motion: float) -> float:
        """Squared, so noise-sized changes (motion ≪ 1) get the strong smoothing and real
        motion (motion ≥ 1) is taken at once; position and orientation blend separately, so a
        tablet sliding sideways does not unsteady the object's orientation."""
        low = self.settings.min_blend
        return min(1.0, low + (1 - low) * motion * motion)

    def update(self, markers: Sequence[Mapping[str, object]], now: float) -> list[dict]:
        """Smoothed copies of the frame's markers (same shape as `analyse_frame` gives them).

        `now` is the frame's time in seconds on any steady clock.
        """
        s = self.settings
        for key in [k for k, t in self._tracks.items() if now - t.seen_at > s.forget_after_s]:
            del self._tracks[key]
        smoothed = []
        for marker in markers:
            key = (str(marker["dictionary"]), int(marker["id"]))
            pose = marker["pose"]
            q_new = rvec_to_quaternion(pose["rvec"])
            t_new = np.asarray(pose["tvec"], np.float64)
            track = self._tracks.get(key)
            if track is None or now < track.seen_at:
                track = _Track(q_new, t_new, now)
            else:
                distance = max(float(np.linalg.norm(t_new)), 1e-6)
                moved = float(np.linalg.norm(t_new - track.tvec)) / distance
                turned = quaternion_angle_deg(q_new, track.quaternion)
                track = _Track(
                    slerp(track.quaternion, q_new, self._blend(turned / s.motion_rotation_deg)),
                    track.tvec + self._blend(moved / s.motion_translation) * (t_new - track.tvec),
                    now,
                )
            self._tracks[key] = track
            out = dict(marker)
            out["pose"] = {
                "rvec": [round(float(v), 6) for v in quaternion_to_rvec(track.quaternion)],
                "tvec": [round(float(v), 6) for v in track.tvec],
            }
            smoothed.append(out)
        return smoothed
