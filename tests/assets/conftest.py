"""Shared inputs for the asset pipeline tests (generated, never downloaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from assets.limits import Limits
from tests.assets import asset_synth as synth


@pytest.fixture(scope="session")
def limits() -> Limits:
    return Limits()


@pytest.fixture(scope="session")
def textured_glb() -> bytes:
    """A 20 k-triangle textured scan as GLB (a 512² JPEG texture)."""
    v, f, uv = synth.scan_surface(20_000)
    return synth.build_glb(v, f, uv=uv, image=synth.jpeg_bytes(synth.texture_image(512)))


@pytest.fixture(scope="session")
def coloured_glb() -> bytes:
    """A 20 k-triangle vertex-coloured scan as GLB, no texture."""
    v, f, _ = synth.scan_surface(20_000)
    return synth.build_glb(v, f, colors=synth.vertex_colours(v))


@pytest.fixture()
def write(tmp_path):
    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write
