import cv2
import numpy as np
import pytest

from ar_markers.detection import detect_markers
from ar_markers.images import marker_array, marker_png
from core.errors import Invalid


@pytest.mark.parametrize(
    ("dictionary", "marker_id"), [("aruco_4x4_50", 17), ("apriltag_36h11", 301)]
)
def test_marker_png_decodes_to_its_own_id(dictionary, marker_id):
    png = marker_png(dictionary, marker_id, module_px=20)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    found = detect_markers(image, [dictionary])
    assert [(d.dictionary, d.marker_id) for d in found] == [(dictionary, marker_id)]


def test_marker_png_has_a_white_quiet_zone_of_two_cells_around_the_black_square():
    image = marker_array("aruco_4x4_50", 3, module_px=10)
    assert image.shape == (100, 100)  # 6 cells of square + 2 × 2 cells of quiet zone
    ring = np.ones_like(image, bool)
    ring[20:80, 20:80] = False
    assert np.all(image[ring] == 255)
    assert np.all(image[20, 20:80] == 0) and np.all(image[79, 20:80] == 0)  # black border


def test_marker_png_refuses_an_id_outside_the_dictionary():
    with pytest.raises(Invalid):
        marker_png("aruco_4x4_50", 50)
