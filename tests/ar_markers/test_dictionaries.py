import pytest

from ar_markers.dictionaries import DEFAULT_DICTIONARY, FAMILIES, check_marker, family
from core.errors import Invalid


def test_both_api_dictionaries_exist_with_their_id_ranges():
    assert DEFAULT_DICTIONARY == "aruco_4x4_50"
    assert family("aruco_4x4_50").count == 50
    assert family("apriltag_36h11").count == 587
    assert set(FAMILIES) == {"aruco_4x4_50", "apriltag_36h11"}


def test_unknown_dictionary_is_refused_naming_the_valid_ones():
    with pytest.raises(Invalid) as caught:
        family("DICT_4X4_50")
    assert caught.value.field == "dictionary"
    assert "aruco_4x4_50" in caught.value.message
    assert "apriltag_36h11" in caught.value.message


@pytest.mark.parametrize(
    ("name", "marker_id"), [("aruco_4x4_50", 50), ("aruco_4x4_50", -1), ("apriltag_36h11", 587)]
)
def test_id_outside_the_dictionary_is_refused_with_the_valid_range(name, marker_id):
    with pytest.raises(Invalid) as caught:
        check_marker(name, marker_id)
    assert caught.value.field == "marker_id"
    assert f"0 to {family(name).count - 1}" in caught.value.message


@pytest.mark.parametrize("marker_id", [True, 3.0, "3", None])
def test_id_must_be_a_whole_number(marker_id):
    with pytest.raises(Invalid):
        check_marker("aruco_4x4_50", marker_id)


def test_last_id_of_each_dictionary_is_accepted():
    assert check_marker("aruco_4x4_50", 49).name == "aruco_4x4_50"
    assert check_marker("apriltag_36h11", 586).name == "apriltag_36h11"
