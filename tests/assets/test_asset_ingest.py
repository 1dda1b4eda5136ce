"""Ingest: every format is read into metres/+Y, and every corruption is one clear `Invalid`."""

from __future__ import annotations

import copy
import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest
import trimesh

from assets import formats, normalise
from assets.limits import Limits
from core.errors import Invalid, TooLarge
from tests.assets import asset_synth as synth


def read(path, limits=None, scratch=None):
    return formats.read_model(path, path.name, limits or Limits(), scratch or path.parent)


def with_json(glb: bytes, change) -> bytes:
    gltf, binary = synth.split_glb(glb)
    gltf = copy.deepcopy(gltf)
    change(gltf)
    return synth.assemble_glb(gltf, binary)


# --- Valid inputs of every format ---------------------------------------------------------


def test_textured_glb_keeps_uvs_texture_and_triangles(write, textured_glb):
    model = read(write("scan.glb", textured_glb))
    assert model.triangles == len(synth.scan_surface(20_000)[1])
    assert model.parts[0].uvs is not None
    assert model.materials[0].texture_size == (512, 512)
    assert model.meta["units"] == "m"


def test_vertex_coloured_glb_keeps_colours(write, coloured_glb):
    model = read(write("scan.glb", coloured_glb))
    colors = model.parts[0].colors
    assert colors is not None and colors.shape[1] == 4
    assert len(np.unique(colors[:, 0])) > 100


def test_multi_mesh_scene_applies_node_transforms(write):
    model = read(write("scene.glb", synth.multi_mesh_scene()))
    lo, hi = model.bounds()
    # The torus (outer radius 0.1) is scaled ×2 and moved to x = 0.3: it reaches x ≈ 0.5.
    assert hi[0] == pytest.approx(0.5, abs=0.01)
    assert lo[1] == pytest.approx(0.0, abs=1e-6)  # the pedestal's bottom
    # Textured pot and face-coloured pedestal/torus stay separate materials.
    assert len(model.materials) >= 2
    assert any(p.uvs is not None for p in model.parts)
    assert any(p.colors is not None for p in model.parts)


def test_gltf_with_external_buffer_and_image_in_zip(write):
    model = read(write("scan.zip", synth.gltf_zip(10_000)))
    assert model.triangles == len(synth.scan_surface(10_000)[1])
    assert model.parts[0].uvs is not None and model.materials[0].texture is not None


def test_obj_with_mtl_in_millimetres_is_normalised_to_metres(write):
    model = read(write("scan.zip", synth.obj_zip(10_000, size=400.0)))
    assert model.parts[0].uvs is not None
    assert model.materials[0].texture_size == (256, 256)
    norm = normalise.normalise(model)
    lo, hi = norm.bounds()
    assert hi[1] - lo[1] == pytest.approx(0.4, rel=1e-3)
    assert lo[1] == pytest.approx(0.0, abs=1e-6)
    assert any("mm (guessed" in note for note in norm.meta["normalisation"])


def test_ply_with_vertex_colours(write):
    v, f, _ = synth.scan_surface(10_000, size=25.0)  # centimetres
    mesh = trimesh.Trimesh(v, f, vertex_colors=synth.vertex_colours(v), process=False)
    model = read(write("scan.ply", mesh.export(file_type="ply")))
    assert model.parts[0].colors is not None
    norm = normalise.normalise(model)
    lo, hi = norm.bounds()
    assert hi[1] - lo[1] == pytest.approx(0.25, rel=1e-3)


def test_stl_z_up_is_turned_y_up(write):
    box = trimesh.creation.box(extents=[20.0, 30.0, 100.0])  # mm, tall along Z
    model = normalise.normalise(read(write("part.stl", box.export(file_type="stl"))))
    lo, hi = model.bounds()
    assert hi - lo == pytest.approx([0.02, 0.1, 0.03], abs=1e-6)
    assert lo[1] == pytest.approx(0.0, abs=1e-9)
    assert (lo[0] + hi[0]) == pytest.approx(0.0, abs=1e-9)


# --- Corruptions: one Invalid each, naming what is wrong -----------------------------------


def _truncated(glb):
    return glb[:-1000]


def _lying_length(glb):
    return glb[:8] + struct.pack("<I", len(glb) + 4096) + glb[12:]


def _bad_magic(glb):
    return b"gLTF" + glb[4:]


def _version_1(glb):
    return glb[:4] + struct.pack("<I", 1) + glb[8:]


def _bad_json(glb):
    (n,) = struct.unpack_from("<I", glb, 12)
    return glb[:20] + b"{" + b"x" * (n - 1) + glb[20 + n :]


def _not_utf8(glb):
    return glb[:20] + b"\xff\xfe" + glb[22:]


def _buffer_longer_than_bin(glb):
    return with_json(
        glb, lambda g: g["buffers"][0].update(byteLength=g["buffers"][0]["byteLength"] + 4096)
    )


def _accessor_out_of_range(glb):
    return with_json(glb, lambda g: g["accessors"][1].update(count=g["accessors"][1]["count"] * 2))


def _view_outside_buffer(glb):
    return with_json(
        glb, lambda g: g["bufferViews"][0].update(byteOffset=g["buffers"][0]["byteLength"])
    )


def _index_out_of_range(glb):
    gltf, binary = synth.split_glb(glb)
    view = gltf["bufferViews"][gltf["accessors"][-1]["bufferView"]]
    b = bytearray(binary)
    b[view["byteOffset"] : view["byteOffset"] + 4] = struct.pack("<I", 10_000_000)
    return synth.assemble_glb(gltf, bytes(b))


def _nan_vertex(glb):
    gltf, binary = synth.split_glb(glb)
    view = gltf["bufferViews"][gltf["accessors"][0]["bufferView"]]
    b = bytearray(binary)
    b[view["byteOffset"] + 120 : view["byteOffset"] + 124] = struct.pack("<f", float("nan"))
    return synth.assemble_glb(gltf, bytes(b))


def _damaged_image(glb):
    gltf, binary = synth.split_glb(glb)
    view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
    b = bytearray(binary)
    b[view["byteOffset"] : view["byteOffset"] + 64] = b"\0" * 64
    return synth.assemble_glb(gltf, bytes(b))


def _node_cycle(glb):
    def change(g):
        g["nodes"].append({"children": [0]})
        g["nodes"][0]["children"] = [1]

    return with_json(glb, change)


def _unknown_extension(glb):
    return with_json(
        glb,
        lambda g: g.update(
            extensionsRequired=["EXT_meshopt_compression"],
            extensionsUsed=["EXT_meshopt_compression"],
        ),
    )


def _missing_mesh(glb):
    return with_json(glb, lambda g: g["nodes"][0].update(mesh=7))


def _external_uri_in_glb(glb):
    return with_json(
        glb, lambda g: g["images"][0].pop("bufferView") and g["images"][0].update(uri="tex.jpg")
    )


def _no_position(glb):
    return with_json(glb, lambda g: g["meshes"][0]["primitives"][0]["attributes"].pop("POSITION"))


CORRUPTIONS = {
    "truncated": (_truncated, "truncated"),
    "header length lies": (_lying_length, "truncated"),
    "bad magic": (_bad_magic, "not a GLB"),
    "glTF 1": (_version_1, "version 1"),
    "bad JSON": (_bad_json, "not valid JSON"),
    "JSON not UTF-8": (_not_utf8, "UTF-8"),
    "buffer longer than BIN chunk": (_buffer_longer_than_bin, "Buffer 0 declares"),
    "accessor out of range": (_accessor_out_of_range, "Accessor 1 (TEXCOORD_0 of mesh 0)"),
    "bufferView outside buffer": (_view_outside_buffer, "BufferView 0"),
    "index out of range": (_index_out_of_range, "point at vertex 10000000"),
    "NaN vertex": (_nan_vertex, "non-finite"),
    "damaged image": (_damaged_image, "Image 0"),
    "node cycle": (_node_cycle, "cycle"),
    "unsupported extension": (_unknown_extension, "EXT_meshopt_compression"),
    "node points at missing mesh": (_missing_mesh, "mesh 7"),
    "external image in a GLB": (_external_uri_in_glb, "tex.jpg"),
    "no POSITION": (_no_position, "POSITION"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_each_glb_corruption_is_one_clear_invalid(name, write, textured_glb):
    damage, phrase = CORRUPTIONS[name]
    path = write("broken.glb", damage(textured_glb))
    with pytest.raises(Invalid) as caught:
        read(path)
    message = caught.value.message
    assert phrase in message, message
    assert "Traceback" not in message and "\n" not in message
    assert type(caught.value) is Invalid  # a corruption, not a limit


def test_missing_image_in_gltf_zip_is_named(write):
    data = synth.gltf_zip(5_000)
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            if not info.filename.endswith((".png", ".jpg", ".jpeg")):
                z.writestr(info, src.read(info))
    with pytest.raises(Invalid, match="missing: include it in the zip"):
        read(write("model.zip", out.getvalue()))


def test_missing_buffer_in_gltf_zip_is_named(write):
    src = zipfile.ZipFile(io.BytesIO(synth.gltf_zip(5_000)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            if not info.filename.endswith(".bin"):
                z.writestr(info, src.read(info))
    with pytest.raises(Invalid, match=r"Buffer 0 refers to '.*\.bin', which is missing"):
        read(write("model.zip", out.getvalue()))


def test_obj_without_its_mtl_is_refused(write):
    src = zipfile.ZipFile(io.BytesIO(synth.obj_zip(2_000)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("scan.obj", src.read("scan.obj"))
    with pytest.raises(Invalid, match=r"material library 'scan\.mtl'"):
        read(write("scan.zip", out.getvalue()))


def test_stl_with_lying_triangle_count_is_refused(write):
    data = trimesh.creation.box().export(file_type="stl")
    data = data[:80] + struct.pack("<I", 2_000_000) + data[84:]
    with pytest.raises(Invalid, match="declares 2,000,000 triangles"):
        read(write("part.stl", data))


def test_truncated_binary_ply_is_refused(write):
    v, f, _ = synth.scan_surface(2_000)
    data = trimesh.Trimesh(v, f, process=False).export(file_type="ply")
    with pytest.raises(Invalid, match="PLY is truncated"):
        read(write("scan.ply", data[: len(data) // 2]))


@pytest.mark.parametrize(
    "content,phrase",
    [
        (b"", "empty"),
        (b"PK\x03\x04garbage", "zip archive is damaged"),
    ],
)
def test_damaged_uploads(write, content, phrase):
    with pytest.raises(Invalid, match=phrase):
        read(write("model.zip" if content else "model.glb", content))


def test_zip_with_two_models_or_escaping_paths(write):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.stl", b"x")
        z.writestr("b.obj", b"x")
    with pytest.raises(Invalid, match="holds 2 models"):
        read(write("two.zip", out.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("../../etc/evil.stl", b"x")
    with pytest.raises(Invalid, match="outside the archive"):
        read(write("evil.zip", out.getvalue()))


def test_unsupported_file_type_is_refused():
    with pytest.raises(Invalid, match="not a supported 3D file"):
        formats.suffix_of("statue.fbx")


# --- Limits: checked from headers, before decoding -------------------------------------------


def test_triangle_limit_is_checked_from_accessor_counts(write, textured_glb):
    with pytest.raises(TooLarge, match="triangles; the limit is 1,000"):
        read(write("scan.glb", textured_glb), Limits(max_triangles=1_000))


def test_upload_size_limit(write, textured_glb):
    with pytest.raises(TooLarge, match="the limit is"):
        read(write("scan.glb", textured_glb), Limits(max_bytes=10_000))


def png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size; the pixel data is a token."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_texture_pixel_limit_is_checked_from_the_image_header(write):
    v, f, uv = synth.scan_surface(2_000)
    glb = synth.build_glb(
        v, f, uv=uv, image=png_header_claiming(60_000, 60_000), image_mime="image/png"
    )
    with pytest.raises(TooLarge, match="60000×60000 pixels"):
        read(write("scan.glb", glb))


def test_zip_bomb_is_refused_by_declared_size(write):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("model.stl", b"\0" * 5_000_000)
    with pytest.raises(TooLarge, match="unpacks to"):
        read(write("bomb.zip", out.getvalue()), Limits(max_bytes=1_000_000))


def test_zip_bomb_with_forged_sizes_is_refused_by_actual_size(write):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("model.stl", b"\0" * 300_000)
    data = bytearray(out.getvalue())
    # Forge the sizes in both the local header and the central directory to claim 100 bytes.
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, 100)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 100)
    with pytest.raises(Invalid):
        read(write("forged.zip", bytes(data)))


def test_gltf_json_limit(write, textured_glb):
    with pytest.raises(TooLarge, match="JSON"):
        read(write("scan.glb", textured_glb), Limits(max_json_bytes=100))


def test_non_finite_vertices_in_stl_are_refused(write):
    box = trimesh.creation.box()
    data = bytearray(box.export(file_type="stl"))
    struct.pack_into("<f", data, 84 + 12, float("inf"))
    with pytest.raises(Invalid, match="non-finite"):
        read(write("part.stl", bytes(data)))


def test_messages_are_json_serialisable(write, textured_glb):
    with pytest.raises(Invalid) as caught:
        read(write("broken.glb", _truncated(textured_glb)))
    assert json.loads(json.dumps(caught.value.as_dict()))["code"] == "invalid"
