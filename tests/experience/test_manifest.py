from experience.manifest import (
    ExhibitSnapshot,
    LodView,
    build_manifest,
    device_budget,
    recommended_level,
)
from experience.texts import resolve

LODS = (
    LodView(0, "a" * 64, "glb", 1_200_000, 30_000_000),
    LodView(1, "b" * 64, "glb", 300_000, 8_000_000),
    LodView(2, "c" * 64, "glb", 60_000, 1_500_000),
    LodView(3, "d" * 64, "glb", 12_000, 300_000),
)


def _snap(**kw) -> ExhibitSnapshot:
    base = dict(
        id=3,
        slug="drum",
        title={"vi": "Trống đồng", "en": "Bronze drum"},
        narration={"vi": "Thuyết minh"},
        marker_dictionary="aruco_4x4_50",
        marker_id=7,
        marker_size_m=0.2,
        anchor_offset=(0.0, 0.0, 0.05),
        hotspots=(
            {
                "position": [0, 1, 0],
                "normal": [0, 1, 0],
                "title": {"en": "Star"},
                "body": {"vi": "Mặt trời", "en": "Sun"},
            },
        ),
        asset_id=9,
        lods=LODS,
        bounds_m=((-0.4, 0.0, -0.4), (0.4, 0.63, 0.4)),
    )
    base.update(kw)
    return ExhibitSnapshot(**base)


def test_language_falls_back_and_reports_the_language_used():
    assert resolve({"vi": "Trống", "en": "Drum"}, "en", "vi") == ("Drum", "en")
    assert resolve({"vi": "Trống"}, "en", "vi") == ("Trống", "vi")
    assert resolve({"fr": "Tambour"}, "en", "vi") == ("Tambour", "fr")
    assert resolve({}, "en", "vi") == ("", "en")


def test_device_budget_picks_the_most_detailed_level_that_fits():
    assert recommended_level(LODS, 2_000_000) == 0
    assert recommended_level(LODS, 300_000) == 1
    assert recommended_level(LODS, 299_999) == 2
    assert recommended_level(LODS, 5_000) == 3  # nothing fits: the lightest
    assert recommended_level(LODS, None) == 2  # the default budget is a modest tablet's
    assert recommended_level((), 100_000) is None


def test_manifest_has_the_design_shape_in_the_visitors_language():
    m = build_manifest(_snap(), "en", "vi", 100_000)
    assert set(m) == {"exhibit", "scene", "anchor", "hotspots", "catalog"}
    assert m["exhibit"] == {
        "id": 3,
        "slug": "drum",
        "title": "Bronze drum",
        "narration": "Thuyết minh",
        "narration_audio": None,
        "lang": "en",
    }
    assert m["scene"]["recommended_lod"] == 2
    assert [lod["url"] for lod in m["scene"]["lods"]][:1] == [f"/files/{'a' * 64}.glb"]
    assert m["scene"]["bounds_m"] == [[-0.4, 0.0, -0.4], [0.4, 0.63, 0.4]]
    assert m["anchor"] == {"marker_size_m": 0.2, "offset": [0.0, 0.0, 0.05]}
    assert m["hotspots"][0]["title"] == "Star" and m["hotspots"][0]["body"] == "Sun"
    vi = build_manifest(_snap(), "vi", "en", 100_000)
    assert vi["exhibit"]["title"] == "Trống đồng" and vi["hotspots"][0]["title"] == "Star"
    assert m["catalog"] is None


def test_devices_fall_into_the_largest_budget_they_can_afford():
    assert device_budget(None) == 150_000
    assert device_budget(1_000) == 20_000
    assert device_budget(149_999) == 50_000
    assert device_budget(150_000) == 150_000
    assert device_budget(10_000_000) == 2_000_000


def test_narration_audio_follows_the_language_with_fallback():
    snap = _snap(narration_audio={"vi": "e" * 64 + ".mp3"})
    assert build_manifest(snap, "en", "vi", 50_000)["exhibit"]["narration_audio"] == (
        f"/files/{'e' * 64}.mp3"
    )
