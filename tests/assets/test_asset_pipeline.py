"""The staged pipeline: runs stage by stage (also in a process pool), produces every output,
refuses bad uploads before doing work, and never allocates what a lying header claims."""

from __future__ import annotations

import json
import multiprocessing
import struct
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assets import model, pipeline
from assets.limits import Limits
from core.errors import Invalid
from tests.assets import asset_synth as synth

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def textured_upload(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upload") / "scan.glb"
    v, f, uv = synth.scan_surface(130_000)
    path.write_bytes(
        synth.build_glb(v, f, uv=uv, image=synth.jpeg_bytes(synth.texture_image(1024)))
    )
    return path


@pytest.fixture(scope="module")
def result(textured_upload, tmp_path_factory):
    seen = []
    work = tmp_path_factory.mktemp("work")
    res = pipeline.process(
        textured_upload,
        "scan.glb",
        work,
        Limits(),
        on_stage=lambda name, i, n: seen.append((name, i, n)),
        height_mm=120,
        build_volume_mm=(300, 300, 250),
    )
    return res, seen


def test_stages_are_reported_in_order(result):
    _, seen = result
    names = [name for name, _, _ in seen]
    assert names == [name for name, _ in pipeline.STAGES]
    assert names == ["ingest", "normalise", "lod", "compress", "thumbnail", "printable"]
    assert [i for _, i, _ in seen] == list(range(6)) and {n for _, _, n in seen} == {6}


def test_result_has_stats_lods_thumbnail_and_printable(result):
    res, _ = result
    assert res.stats["triangles"] == len(synth.scan_surface(130_000)[1])
    assert res.stats["textures"] == [{"width": 1024, "height": 1024, "mime": "image/jpeg"}]
    assert res.stats["bounds_m"]["min"][1] == 0.0
    assert res.stats["bounds_m"]["size"][1] == pytest.approx(0.4, rel=1e-4)
    levels = res.lods
    assert [lv["level"] for lv in levels] == [0, 1, 2]  # 1 % of 130 k is below 5 k
    for lv in levels:
        assert Path(lv["path"]).stat().st_size == lv["bytes"] and lv["ext"] == "glb"
    assert levels[0]["triangles"] == res.stats["triangles"]
    assert levels[1]["triangles"] == pytest.approx(res.stats["triangles"] * 0.25, rel=0.03)
    assert levels[0]["max_error"] < 1e-4
    assert levels[0]["max_error"] < levels[1]["max_error"] < levels[2]["max_error"] < 0.01
    assert levels[0]["bytes"] > levels[1]["bytes"] > levels[2]["bytes"]
    assert Image.open(res.thumbnail).size == (512, 512)
    printable = res.printable
    assert printable["watertight"] is True and printable["volume_cm3"] > 0
    assert printable["size_mm"][2] == pytest.approx(120, abs=1e-3)
    assert printable["fits"] is True
    assert Path(printable["path"]).read_bytes()[:5] != b"solid"  # binary STL
    json.dumps(res.as_dict())  # the worker stores it as JSON


def test_stages_run_in_a_process_pool(textured_upload, tmp_path):
    work = tmp_path / "pooled"
    pipeline.prepare(work, textured_upload, "scan.glb")
    context = multiprocessing.get_context("spawn")  # as a server's pool would, no fork tricks
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        for name, stage in pipeline.STAGES[:4]:
            summary = pool.submit(stage, str(work), Limits()).result(timeout=240)
            assert isinstance(summary, dict), name
    assert (work / "lod0.glb").exists() and (work / "compress.json").exists()


def test_failed_ingest_stops_before_any_output(textured_upload, tmp_path):
    broken = tmp_path / "broken.glb"
    broken.write_bytes(textured_upload.read_bytes()[:-5000])
    work = tmp_path / "work"
    with pytest.raises(Invalid, match="truncated"):
        pipeline.process(broken, "broken.glb", work)
    assert sorted(p.name for p in work.iterdir()) == ["job.json"]


def test_unsupported_name_is_refused_before_queueing(tmp_path):
    with pytest.raises(Invalid, match="not a supported 3D file"):
        pipeline.prepare(tmp_path, tmp_path / "x.fbx", "x.fbx")


def test_model_survives_the_round_trip_between_stages(tmp_path):
    v, f, uv = synth.scan_surface(2_000)
    m = model.Model(
        [model.Part(v, f, 0, uv, synth.vertex_colours(v))],
        [model.Material(texture=b"abc", texture_size=(1, 1))],
        {"units": "m"},
    )
    model.save(m, tmp_path / "m")
    back = model.load(tmp_path / "m")
    assert np.array_equal(back.parts[0].uvs, uv) and back.materials[0].texture == b"abc"
    assert back.meta == {"units": "m"}


LYING = textwrap.dedent("""
    import io, json, struct, sys, zipfile, tempfile, pathlib
    sys.path.insert(0, sys.argv[1])
    import asset_synth as synth
    from assets import pipeline
    from core.errors import Invalid

    def peak():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024

    tmp = pathlib.Path(tempfile.mkdtemp())
    v, f, uv = synth.scan_surface(2_000)
    glb = synth.build_glb(v, f, uv=uv, image=synth.jpeg_bytes(synth.texture_image(64)))
    pipeline.process(tmp / "warm.glb" if (tmp / "warm.glb").write_bytes(glb) else None,
                     "warm.glb", tmp / "warm")  # imports and first-use allocations
    base = peak()

    def glb_with(change):
        gltf, binary = synth.split_glb(glb)
        change(gltf)
        return synth.assemble_glb(gltf, binary)

    cases = {
        "accessor count 2^31": glb_with(lambda g: g["accessors"][0].update(count=2**31)),
        "accessor count 10 M": glb_with(lambda g: g["accessors"][0].update(count=10_000_000)),
        "buffer 4 GB": glb_with(lambda g: g["buffers"][0].update(byteLength=4 * 2**30)),
        "view 4 GB": glb_with(lambda g: g["bufferViews"][0].update(byteLength=4 * 2**30)),
        "header 4 GB": glb[:8] + struct.pack("<I", 2**32 - 1) + glb[12:],
        "chunk 4 GB": glb[:12] + struct.pack("<I", 2**32 - 8) + glb[16:],
        "png 60000^2": synth.build_glb(v, f, uv=uv, image=sys.modules["__main__"].png,
                                       image_mime="image/png"),
    }
    stl = bytearray(84)
    struct.pack_into("<I", stl, 80, 2**32 - 1)
    ply = b"ply\\nformat binary_little_endian 1.0\\nelement vertex 900000000\\n" \\
          b"property float x\\nproperty float y\\nproperty float z\\nelement face 1000\\n" \\
          b"property list uchar int vertex_indices\\nend_header\\n" + b"\\0" * 1000
    ply2 = ply.replace(b"900000000", b"9000000")
    files = {f"{k}.glb": data for k, data in cases.items()}
    files.update({"count.stl": bytes(stl), "huge.ply": ply, "short.ply": ply2})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("model.stl", b"\\0" * 3_000_000)
    data = bytearray(out.getvalue())
    struct.pack_into("<I", data, data.find(b"PK\\x03\\x04") + 22, 100)
    struct.pack_into("<I", data, data.find(b"PK\\x01\\x02") + 24, 100)
    files["forged.zip"] = bytes(data)
    refused = 0
    for name, data in files.items():
        path = tmp / name.replace(" ", "_")
        path.write_bytes(data)
        try:
            pipeline.process(path, path.name, tmp / ("w_" + path.stem))
        except Invalid:
            refused += 1
    print(json.dumps({"refused": refused, "cases": len(files), "growth": peak() - base}))
""")


def png_claiming(width: int, height: int) -> bytes:
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def test_lying_headers_are_refused_without_large_allocations(tmp_path):
    script = tmp_path / "lying.py"
    script.write_text(f"png = {png_claiming(60_000, 60_000)!r}\n" + LYING)
    out = subprocess.run(
        [sys.executable, str(script), str(Path(__file__).parent)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["refused"] == report["cases"] == 11
    assert report["growth"] < 200 * 1024 * 1024, report


def test_a_million_triangle_scan_keeps_its_attributes_on_every_level(tmp_path):
    """The size librarians upload (~1.2 M triangles, texture and vertex colours together)."""
    import DracoPy

    v, f, uv = synth.scan_surface(1_200_000)
    upload = tmp_path / "big.glb"
    upload.write_bytes(
        synth.build_glb(
            v,
            f,
            uv=uv,
            colors=synth.vertex_colours(v),
            image=synth.jpeg_bytes(synth.texture_image(1024)),
        )
    )
    work = tmp_path / "work"
    pipeline.prepare(work, upload, "big.glb")
    for _name, stage in pipeline.STAGES[:4]:  # the thumbnail and replica are covered above
        stage(str(work), Limits())
    lods = json.loads((work / "compress.json").read_text())["lods"]
    assert [lv["level"] for lv in lods] == [0, 1, 2, 3]
    for lv, ratio in zip(lods, (1.0, 0.25, 0.05, 0.01), strict=True):
        assert lv["triangles"] == pytest.approx(len(f) * ratio, rel=0.03)
        gltf, binary = synth.split_glb(Path(lv["path"]).read_bytes())
        prim = gltf["meshes"][0]["primitives"][0]
        view = gltf["bufferViews"][prim["extensions"]["KHR_draco_mesh_compression"]["bufferView"]]
        mesh = DracoPy.decode(binary[view["byteOffset"] : view["byteOffset"] + view["byteLength"]])
        assert mesh.tex_coord is not None and len(mesh.tex_coord) == len(mesh.points)
        assert mesh.colors is not None and len(mesh.colors) == len(mesh.points)
    assert lods[0]["max_error"] < 5e-5
    assert lods[3]["max_error"] < 0.01
    assert sum(lv["bytes"] for lv in lods) < upload.stat().st_size / 8
