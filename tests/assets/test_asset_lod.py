"""LOD chain: triangle counts per level, attributes kept on every level, bounded error."""

from __future__ import annotations

import numpy as np
import pytest

from assets import deviation, formats, lod, normalise
from assets.limits import Limits
from assets.model import Material, Model, Part
from tests.assets import asset_synth as synth


def scan_model(triangles: int, *, colours: bool = False, texture: bool = True) -> Model:
    v, f, uv = synth.scan_surface(triangles)
    material = Material()
    if texture:
        material.texture = synth.jpeg_bytes(synth.texture_image(256))
        material.texture_size = (256, 256)
    part = Part(v, f, 0, uv if texture else None, synth.vertex_colours(v) if colours else None)
    return normalise.normalise(Model([part], [material], {"units": "m", "up": "+Y"}))


@pytest.fixture(scope="module")
def levels():
    return lod.build_lods(scan_model(240_000, colours=True))


def test_levels_follow_the_ratios_and_stop_below_5k():
    assert lod.lod_ratios(1_300_000) == [1.0, 0.25, 0.05, 0.01]
    assert lod.lod_ratios(200_000) == [1.0, 0.25, 0.05]  # 1 % would be 2 k triangles
    assert lod.lod_ratios(4_000) == [1.0]


def test_triangle_counts_per_level(levels):
    full = levels[0].model.triangles
    assert [lv.ratio for lv in levels] == [1.0, 0.25, 0.05]
    for level in levels:
        assert level.model.triangles == pytest.approx(full * level.ratio, rel=0.03)


def test_uvs_and_colours_survive_on_every_level(levels):
    source = levels[0].model.parts[0]
    for level in levels:
        part = level.model.parts[0]
        assert part.uvs is not None and part.colors is not None
        assert len(part.uvs) == len(part.positions) == len(part.colors)
        assert part.uvs.min() >= source.uvs.min() - 1e-6
        assert part.uvs.max() <= source.uvs.max() + 1e-6


def test_transferred_colours_match_the_position(levels):
    # The colours encode the position (red = x, green = y, blue = z over the bounds), so a
    # correctly carried-over colour agrees with where its vertex ended up.
    source = levels[0].model.parts[0]
    lo, hi = source.positions.min(0), source.positions.max(0)
    for level in levels[1:]:
        part = level.model.parts[0]
        expected = (part.positions - lo) / (hi - lo) * 255
        diff = np.abs(part.colors[:, :3].astype(float) - expected)
        assert np.percentile(diff, 99) < 6, level.level


def test_uv_seams_are_split_like_the_source(levels):
    # The six-chart atlas has seams: a simplified level must still split vertices there,
    # otherwise a triangle would stretch its texture across two charts.
    for level in levels[1:]:
        part = level.model.parts[0]
        welded, _, _ = lod.weld(part.positions, part.faces)
        assert len(part.positions) > len(welded)
        uv = part.uvs[part.faces]
        span = uv.max(axis=1) - uv.min(axis=1)
        assert np.percentile(span.max(axis=1), 99.5) < 0.1  # no triangle spans the atlas


def test_error_is_bounded_relative_to_the_diagonal(levels):
    full = levels[0].model.parts[0]
    reference = deviation.Surface(full.positions, full.faces)
    diag = deviation.diagonal(full.positions)
    bounds = {1: 0.003, 2: 0.008}
    for level in levels[1:]:
        part = level.model.parts[0]
        error = deviation.max_deviation(reference, part.positions, part.faces) / diag
        assert 0 < error < bounds[level.level], (level.level, error)


def test_small_parts_are_kept_whole():
    box = Part(*_box(), material=0)
    v, f, _ = synth.scan_surface(40_000)
    scan = Part(v + np.float32([0, 0.5, 0]), f, 0)
    model = Model(
        [
            Part(
                np.concatenate([box.positions, scan.positions]),
                np.concatenate([box.faces, scan.faces + len(box.positions)]),
                0,
            )
        ],
        [Material()],
    )
    levels = lod.build_lods(model)
    low = levels[-1].model.parts[0]
    # The 12 box triangles are all still there, with their exact corners.
    corners = {tuple(c) for c in box.positions.tolist()}
    assert corners <= {tuple(c) for c in low.positions.tolist()}


def test_small_model_has_one_level():
    levels = lod.build_lods(scan_model(3_000))
    assert len(levels) == 1


def test_weld_merges_only_identical_positions():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1e-7]], np.float32)
    f = np.array([[0, 1, 2], [3, 5, 4]])
    wv, wf, inverse = lod.weld(v, f)
    assert wf.tolist() == [[0, 1, 2], [1, 3, 2]] or len(wf) == 2
    assert len(wv) == 4
    assert inverse[1] == inverse[3] and inverse[2] == inverse[4] and inverse[5] != inverse[1]


def test_lod_of_a_read_multi_part_scene(tmp_path):
    path = tmp_path / "scene.glb"
    path.write_bytes(synth.multi_mesh_scene())
    model = normalise.normalise(formats.read_model(path, path.name, Limits(), tmp_path))
    levels = lod.build_lods(model)
    assert len(levels) == 2
    for part0, part1 in zip(levels[0].model.parts, levels[1].model.parts, strict=True):
        assert (part0.uvs is None) == (part1.uvs is None)
        assert (part0.colors is None) == (part1.colors is None)


def _box():
    import trimesh

    box = trimesh.creation.box(extents=[0.5, 0.2, 0.5])
    return np.asarray(box.vertices, np.float32), np.asarray(box.faces, np.uint32)
