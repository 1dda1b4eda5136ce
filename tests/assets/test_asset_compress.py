"""Compressed levels: valid Draco GLBs with a real material, decodable by the reference decoders."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import DracoPy
import numpy as np
import pytest
import trimesh
from PIL import Image

from assets import compress, formats, lod
from assets.limits import Limits
from assets.model import Material, Model, Part
from tests.assets import asset_synth as synth

ROOT = Path(__file__).resolve().parents[2]
PEERS = ROOT / "bench" / "peers"


def model(triangles: int = 30_000, *, colours: bool = True, tex: int = 2048) -> Model:
    v, f, uv = synth.scan_surface(triangles)
    material = Material(
        texture=synth.jpeg_bytes(synth.texture_image(tex)),
        texture_mime="image/jpeg",
        texture_size=(tex, tex),
    )
    return Model([Part(v, f, 0, uv, synth.vertex_colours(v) if colours else None)], [material])


@pytest.fixture(scope="module")
def encoded():
    return compress.encode_model(model(), 0.25)


def document(glb: bytes) -> tuple[dict, bytes]:
    return synth.split_glb(glb)


def test_glb_is_draco_compressed_with_quantised_attributes(encoded):
    gltf, binary = document(encoded.glb)
    assert gltf["extensionsRequired"] == ["KHR_draco_mesh_compression"]
    prim = gltf["meshes"][0]["primitives"][0]
    draco = prim["extensions"]["KHR_draco_mesh_compression"]
    view = gltf["bufferViews"][draco["bufferView"]]
    blob = binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
    mesh = DracoPy.decode(blob)
    assert len(mesh.faces) == 30_000 // 12 * 12 or len(mesh.faces) > 29_000
    assert gltf["accessors"][prim["indices"]]["count"] == mesh.faces.size
    assert gltf["accessors"][prim["attributes"]["POSITION"]]["count"] == len(mesh.points)
    assert mesh.tex_coord is not None and mesh.colors is not None
    # Every accessor of a Draco primitive has no bufferView (the extension supplies the data).
    assert all("bufferView" not in gltf["accessors"][a] for a in prim["attributes"].values())
    # Geometry is far smaller than float32 arrays would be.
    assert view["byteLength"] < len(mesh.points) * (12 + 8 + 4 + 12) / 4


def test_material_is_real_and_texture_resized_per_level(encoded):
    gltf, binary = document(encoded.glb)
    material = gltf["materials"][0]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0 and "baseColorTexture" in pbr
    image = gltf["images"][0]
    assert image["mimeType"] == "image/jpeg"
    view = gltf["bufferViews"][image["bufferView"]]
    img = Image.open(
        io.BytesIO(binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]])
    )
    assert img.size == (1024, 1024) == encoded.texture_sizes[0]  # 2048 at 25 %: half


@pytest.mark.parametrize("ratio,size", [(1.0, 2048), (0.25, 1024), (0.05, 512), (0.01, 256)])
def test_texture_sizes_shrink_with_detail(ratio, size):
    assert compress.texture_size((2048, 2048), ratio) == (size, size)
    assert compress.texture_size((8192, 4096), 1.0) == (2048, 1024)
    assert compress.texture_size((300, 200), 1.0) == (256, 128)


def test_our_glb_reads_back_through_our_own_reader(tmp_path, encoded):
    path = tmp_path / "lod.glb"
    path.write_bytes(encoded.glb)
    back = formats.read_model(path, path.name, Limits(), tmp_path)
    part = back.parts[0]
    assert part.uvs is not None and part.colors is not None
    assert back.materials[0].texture_size == (1024, 1024)
    assert back.triangles == len(encoded.decoded[0][1])


def test_uncompressed_glb_loads_in_trimesh():
    glb = compress.encode_model(model(5_000), 1.0, compress=False).glb
    scene = trimesh.load(io.BytesIO(glb), file_type="glb")
    mesh = next(iter(scene.geometry.values()))
    assert len(mesh.faces) == len(synth.scan_surface(5_000)[1])
    assert mesh.visual.uv is not None


def test_level_zero_keeps_every_triangle_with_tiny_quantisation_error():
    m = model(20_000, colours=False, tex=256)
    enc = compress.encode_model(m, 1.0)
    pos, faces = enc.decoded[0]
    assert len(faces) == m.triangles
    step = (m.parts[0].positions.max(0) - m.parts[0].positions.min(0)).max() / (2**15 - 1)
    from scipy.spatial import cKDTree

    d, _ = cKDTree(m.parts[0].positions).query(pos)
    assert d.max() <= step


@pytest.mark.skipif(
    not (PEERS / "node_modules" / "draco3dgltf").exists() or not shutil.which("node"),
    reason="npm peers not installed (npm install --prefix bench/peers)",
)
def test_reference_decoder_reads_every_attribute(tmp_path, encoded):
    # glTF-Transform with draco3dgltf: the same Draco decoder three.js's GLTFLoader uses.
    path = tmp_path / "lod.glb"
    path.write_bytes(encoded.glb)
    out = subprocess.run(
        ["node", str(PEERS / "decode.mjs"), str(path), str(tmp_path / "o.bin")],
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(out.stdout)
    prim = info["primitives"][0]
    assert set(prim["attributes"]) == {"POSITION", "TEXCOORD_0", "COLOR_0", "NORMAL"}
    lo, hi = prim["uvRange"]
    assert 0.0 <= lo < 0.05 and 0.95 < hi <= 1.0  # texture coordinates, not normals or colours
    data = (tmp_path / "o.bin").read_bytes()
    nv, nt = np.frombuffer(data[:8], np.uint32)
    assert nt == len(encoded.decoded[0][1])
    assert nv == len(encoded.decoded[0][0])


def test_every_level_of_a_chain_keeps_attributes_after_compression():
    levels = lod.build_lods(model(120_000, tex=512))
    assert len(levels) == 3
    for level in levels:
        enc = compress.encode_model(level.model, level.ratio)
        gltf, _ = document(enc.glb)
        attrs = gltf["meshes"][0]["primitives"][0]["attributes"]
        assert {"POSITION", "TEXCOORD_0", "COLOR_0"} <= set(attrs)
