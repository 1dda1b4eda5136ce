"""Printable replica: closed, manifold, scaled, standing on its base, in the printer's frame."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

from assets import formats, normalise
from assets.limits import Limits
from assets.model import Material, Model, Part
from assets.printable import make_printable
from core.errors import Invalid
from tests.assets import asset_synth as synth


def as_model(mesh: trimesh.Trimesh) -> Model:
    return Model(
        [Part(np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.uint32))],
        [Material()],
    )


def reload(stl: bytes) -> trimesh.Trimesh:
    return trimesh.load(io.BytesIO(stl), file_type="stl", process=True)


def test_open_scan_with_holes_becomes_watertight():
    mesh = synth.open_mesh_with_holes(60_000)
    assert not mesh.is_watertight
    result = make_printable(as_model(mesh), height_mm=120)
    assert result.watertight
    back = reload(result.stl)
    assert back.is_watertight and back.is_winding_consistent and back.volume > 0
    assert any("closed" in r for r in result.repairs)
    assert result.volume_cm3 > 0
    # The patched solid lies inside the scan's convex hull and fills most of it.
    scale = 120 / (mesh.bounds[1][1] - mesh.bounds[0][1])
    hull_cm3 = mesh.convex_hull.volume * scale**3 / 1000
    assert 0.8 * hull_cm3 < result.volume_cm3 < hull_cm3


def test_height_and_placement_on_the_bed():
    mesh = trimesh.creation.box(extents=[0.2, 0.3, 0.2])  # +Y up, base 0.2 × 0.2, stays upright
    result = make_printable(as_model(mesh), height_mm=90)
    assert result.repairs == []
    back = reload(result.stl)
    lo, hi = back.bounds
    assert lo[2] == pytest.approx(0, abs=1e-6)  # on the bed
    assert hi[2] - lo[2] == pytest.approx(90, abs=1e-3)  # requested height along Z
    assert (lo[0] + hi[0]) == pytest.approx(0, abs=1e-6) and (lo[1] + hi[1]) == pytest.approx(
        0, abs=1e-6
    )
    assert result.volume_cm3 == pytest.approx(60 * 90 * 60 / 1000, rel=1e-6)


def test_rests_on_its_largest_flat_side():
    # A lying slab scanned upright (+Y) on its narrow edge: it should be printed lying flat.
    mesh = trimesh.creation.box(extents=[0.02, 0.2, 0.3])
    result = make_printable(as_model(mesh), height_mm=20)
    size = sorted(result.size_mm)
    assert result.size_mm[2] == pytest.approx(20, abs=1e-3)
    assert size[0] == pytest.approx(20, abs=1e-3)  # the thin side is now the height
    assert any("largest flat side" in r for r in result.repairs)


def test_overlapping_parts_are_joined_into_one_manifold_solid(tmp_path):
    path = tmp_path / "scene.glb"
    path.write_bytes(synth.multi_mesh_scene())
    model = normalise.normalise(formats.read_model(path, path.name, Limits(), tmp_path))
    result = make_printable(model, height_mm=150, build_volume_mm=(200, 200, 200))
    back = reload(result.stl)
    assert result.watertight and back.is_watertight
    assert len(back.split(only_watertight=False)) == 1
    assert result.fits is True


def test_reports_whether_it_fits_the_build_volume():
    mesh = trimesh.creation.box(extents=[0.2, 0.3, 0.25])
    tall = make_printable(as_model(mesh), height_mm=250, build_volume_mm=(250, 210, 220))
    assert tall.fits is False
    small = make_printable(as_model(mesh), height_mm=100, build_volume_mm=(250, 210, 220))
    assert small.fits is True
    assert make_printable(as_model(mesh), height_mm=100).fits is None


def test_triangle_soup_from_stl_is_welded_and_printed(tmp_path):
    v, f, _ = synth.scan_surface(20_000, size=80.0)
    soup = trimesh.Trimesh(v[f.reshape(-1)], np.arange(len(f) * 3).reshape(-1, 3), process=False)
    result = make_printable(soup, height_mm=60)
    assert result.watertight
    assert result.triangles <= len(f)


def test_bad_height_is_refused():
    with pytest.raises(Invalid, match="height"):
        make_printable(as_model(trimesh.creation.box()), height_mm=-5)
