"""Helpers shared by the marker tests: render a scene, analyse it, compare with the truth."""

from __future__ import annotations

import numpy as np

from ar_markers.frame_analysis import analyse_frame
from ar_markers.rotations import rotation_angle_deg
from ar_markers.synthetic import PlacedMarker, Scene, project_corners, render_jpeg


def analyse_scene(scene: Scene, quality: int = 85, **kwargs) -> dict:
    sizes = {(m.dictionary, m.marker_id): m.size_m for m in scene.markers}
    kwargs.setdefault("dictionaries", sorted({m.dictionary for m in scene.markers}))
    kwargs.setdefault("sizes", sizes)
    return analyse_frame(render_jpeg(scene, quality), **kwargs)


def marker_width_px(marker: PlacedMarker, scene: Scene) -> float:
    """Shortest projected edge of the black square."""
    corners = project_corners(marker, scene.camera())
    return float(np.min(np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)))


def pose_errors(found: dict, marker: PlacedMarker) -> tuple[float, float]:
    """(rotation error in degrees, translation error as a fraction of the distance)."""
    rotation = rotation_angle_deg(found["pose"]["rvec"], marker.rvec)
    distance = float(np.linalg.norm(marker.tvec))
    translation = float(np.linalg.norm(np.subtract(found["pose"]["tvec"], marker.tvec)))
    return rotation, translation / distance


def by_id(result: dict) -> dict[tuple[str, int], dict]:
    return {(m["dictionary"], m["id"]): m for m in result["markers"]}
