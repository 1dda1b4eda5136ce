import numpy as np
import pytest

from ar_markers.detection import detect_markers
from ar_markers.synthetic import (
    PlacedMarker,
    Scene,
    facing_pose,
    orbit_clip_scenes,
    project_corners,
    render,
    write_y4m,
    y4m_clip,
)


def test_rendering_is_reproducible_and_puts_the_marker_where_projection_says():
    marker = PlacedMarker("aruco_4x4_50", 6, 0.1, *facing_pose(0.5, 30, roll_deg=15))
    scene = Scene(markers=(marker,), seed=4, noise_sigma=0.0, background="plain")
    image = render(scene)
    assert np.array_equal(image, render(scene))
    gray = image[..., 1]
    (found,) = detect_markers(gray)
    assert found.marker_id == 6
    assert np.max(np.abs(found.corners - project_corners(marker, scene.camera()))) < 0.5


def test_y4m_clip_has_the_fake_camera_header_and_one_i420_frame_each(tmp_path):
    marker = PlacedMarker("aruco_4x4_50", 1, 0.1, *facing_pose(0.5))
    scenes = orbit_clip_scenes(marker, 3, width=320, height=240)
    path = write_y4m(tmp_path / "camera.y4m", scenes)
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    assert header == b"YUV4MPEG2 W320 H240 F30:1 Ip A1:1 C420jpeg"
    frame_bytes = 320 * 240 * 3 // 2
    assert len(rest) == 3 * (len(b"FRAME\n") + frame_bytes)
    assert rest.count(b"FRAME\n") >= 3
    # the luma plane of the first frame shows the marker
    luma = np.frombuffer(rest[6 : 6 + 320 * 240], np.uint8).reshape(240, 320)
    assert [d.marker_id for d in detect_markers(luma.copy())] == [1]


def test_y4m_clip_refuses_odd_sizes():
    with pytest.raises(ValueError):
        y4m_clip([np.zeros((11, 10, 3), np.uint8)])
