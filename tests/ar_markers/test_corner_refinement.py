"""Corners found in the small picture are brought to sub-pixel accuracy at full size."""

import cv2
import numpy as np
import pytest

from ar_markers.detection import DetectorSettings, detect_markers, fit_edges, refine_corners
from ar_markers.synthetic import PlacedMarker, Scene, facing_pose, project_corners, render


def corner_error(corners, truth) -> float:
    return float(np.max(np.linalg.norm(corners - truth, axis=1)))


@pytest.mark.parametrize("dictionary", ["aruco_4x4_50", "apriltag_36h11"])
def test_edge_fit_locates_corners_to_a_few_hundredths_of_a_pixel(dictionary):
    marker = PlacedMarker(dictionary, 7, 0.08, *facing_pose(0.9, 5, roll_deg=20))
    scene = Scene(markers=(marker,), seed=21, noise_sigma=2.0, motion_blur_px=3.0)
    gray = cv2.cvtColor(render(scene), cv2.COLOR_BGR2GRAY)
    truth = project_corners(marker, scene.camera())
    rough = truth + np.random.default_rng(0).normal(0, 0.7, truth.shape)
    windowed = refine_corners(gray, rough, dictionary)
    fitted = fit_edges(gray, windowed, dictionary)
    assert corner_error(fitted, truth) < 0.06
    assert corner_error(fitted, truth) < 0.5 * corner_error(windowed, truth)


def test_refinement_at_full_size_beats_the_small_pictures_corners():
    marker = PlacedMarker("aruco_4x4_50", 3, 0.08, *facing_pose(0.6, 35, tilt_axis_deg=70))
    scene = Scene(markers=(marker,), seed=22)
    gray = cv2.cvtColor(render(scene), cv2.COLOR_BGR2GRAY)
    truth = project_corners(marker, scene.camera())
    (coarse,) = detect_markers(gray, settings=DetectorSettings(refine=False))
    (refined,) = detect_markers(gray)
    assert corner_error(refined.corners, truth) < 0.5
    assert corner_error(refined.corners, truth) < corner_error(coarse.corners, truth)


def test_a_small_marker_is_found_by_the_fallback_search():
    # 36 px wide: too small for the quarter-size search, found at half size
    marker = PlacedMarker("aruco_4x4_50", 5, 0.05, *facing_pose(1.4, 10))
    scene = Scene(markers=(marker,), seed=23)
    gray = cv2.cvtColor(render(scene), cv2.COLOR_BGR2GRAY)
    without = detect_markers(gray, settings=DetectorSettings(fallback_side_px=None))
    with_fallback = detect_markers(gray)
    assert [d.marker_id for d in with_fallback] == [5]
    assert without == []
