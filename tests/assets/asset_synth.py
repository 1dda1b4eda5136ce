"""Realistic synthetic inputs for the asset pipeline tests and the benchmark.

A museum scan is a closed, bumpy surface with a texture atlas: its vertices are split along UV
seams, it has millions of triangles and a large JPEG texture. `scan_surface` makes one from a
displaced sphere (a seam along u = 0/1 and at the poles, like a real atlas), deterministic for a
given size so the benchmark and the tests see the same object.

These writers use trimesh / hand-written GLB, never the code under test, so a bug in our reader
cannot hide behind the same bug in our writer.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zipfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

CUBE_FACES = [  # (normal, u, v) with u × v = normal, so every face winds outwards
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (0, 0, 1), (1, 0, 0)),
    ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)),
    ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
]


def scan_surface(triangles: int, *, size: float = 0.4, seed: int = 7):
    """(vertices, faces, uv) of a bumpy closed object of about `triangles` triangles.

    A displaced cube-sphere: well-shaped triangles like a scanner's, and a six-chart texture
    atlas (3 × 2 cells) whose seams split the vertices as a real atlas does. `size` is the
    object's height in the units of the returned vertices.
    """
    g = max(2, round(math.sqrt(triangles / 12)))
    rng = np.random.default_rng(seed)
    waves = [(rng.normal(size=3), rng.uniform(2, 9), rng.uniform(0, 6.3)) for _ in range(8)]
    a = np.tan(np.linspace(-1, 1, g + 1) * math.pi / 4)  # equal-angle: even triangle sizes
    A, B = np.meshgrid(a, a, indexing="ij")
    verts, uvs, faces = [], [], []
    pad = 0.01
    for k, (n, u, w) in enumerate(CUBE_FACES):
        d = np.array(n)[None, None] + A[..., None] * np.array(u) + B[..., None] * np.array(w)
        d = (d / np.linalg.norm(d, axis=-1, keepdims=True)).reshape(-1, 3)
        r = 1.0 + 0.22 * d[:, 1] ** 2 - 0.12 * d[:, 1] ** 3
        for vec, freq, phase in waves:
            r += 0.02 * np.sin(freq * d @ (vec / np.linalg.norm(vec)) + phase)
        r += 0.003 * np.sin(45 * d[:, 0]) * np.sin(45 * d[:, 2] + 1.0)
        p = d * r[:, None]
        p[:, 1] *= 1.6
        cell_u, cell_v = (k % 3) / 3, (k // 3) / 2
        su = (
            cell_u
            + pad
            + (1 / 3 - 2 * pad) * (A.reshape(-1) * 0 + np.repeat(np.arange(g + 1), g + 1) / g)
        )
        sv = cell_v + pad + (1 / 2 - 2 * pad) * np.tile(np.arange(g + 1), g + 1) / g
        base = k * (g + 1) ** 2
        i = np.arange(g)[:, None] * (g + 1) + np.arange(g)[None, :]
        q00, q10, q01, q11 = i, i + g + 1, i + 1, i + g + 2
        faces.append(
            base
            + np.concatenate(
                [
                    np.stack([q00, q10, q01], -1).reshape(-1, 3),
                    np.stack([q10, q11, q01], -1).reshape(-1, 3),
                ]
            )
        )
        verts.append(p)
        uvs.append(np.stack([su, sv], -1))
    verts = np.concatenate(verts)
    verts *= size / (verts[:, 1].max() - verts[:, 1].min())
    return (
        verts.astype(np.float32),
        np.concatenate(faces).astype(np.uint32),
        np.concatenate(uvs).astype(np.float32),
    )


def texture_image(px: int = 1024, seed: int = 3) -> Image.Image:
    """A photo-like texture: smooth colour fields, fine stripes and noise (JPEG-realistic)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:px, 0:px].astype(np.float32) / px
    r = 0.55 + 0.3 * np.sin(6 * xx + 1) * np.cos(4 * yy)
    g = 0.45 + 0.25 * np.sin(9 * yy + 2 * xx)
    b = 0.35 + 0.2 * np.cos(5 * xx * yy * 7)
    stripes = 0.08 * np.sin(140 * xx + 30 * np.sin(8 * yy))
    img = np.stack([r + stripes, g + stripes, b + stripes], -1)
    img += rng.normal(0, 0.03, img.shape).astype(np.float32)
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")


def jpeg_bytes(img: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def vertex_colours(verts: np.ndarray) -> np.ndarray:
    lo, hi = verts.min(0), verts.max(0)
    n = (verts - lo) / np.maximum(hi - lo, 1e-9)
    rgb = (n * 255).astype(np.uint8)
    return np.concatenate([rgb, np.full((len(verts), 1), 255, np.uint8)], axis=1)


# --- GLB written by hand (the exact bytes the corruption tests then damage) -----------------


def _pad(b: bytes, fill: bytes = b"\0") -> bytes:
    return b + fill * (-len(b) % 4)


def build_glb(
    verts: np.ndarray,
    faces: np.ndarray,
    *,
    uv: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    image: bytes | None = None,
    image_mime: str = "image/jpeg",
    matrix: list[float] | None = None,
) -> bytes:
    """A minimal, valid glTF 2.0 binary of one textured or coloured mesh."""
    blobs: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []
    offset = 0

    def add(data: bytes, target: int | None = None) -> int:
        nonlocal offset
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target:
            view["target"] = target
        views.append(view)
        padded = _pad(data)
        blobs.append(padded)
        offset += len(padded)
        return len(views) - 1

    v = np.ascontiguousarray(verts, np.float32)
    accessors.append(
        {
            "bufferView": add(v.tobytes(), 34962),
            "componentType": 5126,
            "count": len(v),
            "type": "VEC3",
            "min": v.min(0).tolist(),
            "max": v.max(0).tolist(),
        }
    )
    attributes = {"POSITION": 0}
    if uv is not None:
        accessors.append(
            {
                "bufferView": add(np.ascontiguousarray(uv, np.float32).tobytes(), 34962),
                "componentType": 5126,
                "count": len(uv),
                "type": "VEC2",
            }
        )
        attributes["TEXCOORD_0"] = len(accessors) - 1
    if colors is not None:
        accessors.append(
            {
                "bufferView": add(np.ascontiguousarray(colors, np.uint8).tobytes(), 34962),
                "componentType": 5121,
                "normalized": True,
                "count": len(colors),
                "type": "VEC4",
            }
        )
        attributes["COLOR_0"] = len(accessors) - 1
    f = np.ascontiguousarray(faces, np.uint32).reshape(-1)
    accessors.append(
        {
            "bufferView": add(f.tobytes(), 34963),
            "componentType": 5125,
            "count": len(f),
            "type": "SCALAR",
        }
    )
    prim = {"attributes": attributes, "indices": len(accessors) - 1, "material": 0}
    material = {"pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.8}}
    gltf: dict = {
        "asset": {"version": "2.0", "generator": "smartlib tests"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [prim]}],
        "materials": [material],
        "accessors": accessors,
        "bufferViews": views,
    }
    if matrix is not None:
        gltf["nodes"][0]["matrix"] = matrix
    if image is not None:
        gltf["images"] = [{"bufferView": add(image), "mimeType": image_mime}]
        gltf["textures"] = [{"source": 0, "sampler": 0}]
        gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987}]
        material["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}
    binary = b"".join(blobs)
    gltf["buffers"] = [{"byteLength": len(binary)}]
    return assemble_glb(gltf, binary)


def assemble_glb(gltf: dict, binary: bytes, *, version: int = 2, magic: bytes = b"glTF") -> bytes:
    js = _pad(json.dumps(gltf).encode(), b" ")
    binary = _pad(binary)
    total = 12 + 8 + len(js) + (8 + len(binary) if binary else 0)
    out = magic + struct.pack("<II", version, total) + struct.pack("<I4s", len(js), b"JSON") + js
    if binary:
        out += struct.pack("<I4s", len(binary), b"BIN\0") + binary
    return out


def split_glb(data: bytes) -> tuple[dict, bytes]:
    (json_len,) = struct.unpack_from("<I", data, 12)
    gltf = json.loads(data[20 : 20 + json_len])
    binary = data[20 + json_len + 8 :]
    return gltf, binary


# --- Other formats, written with trimesh ----------------------------------------------------


def textured_trimesh(triangles: int, *, size: float = 0.4, px: int = 512) -> trimesh.Trimesh:
    v, f, uv = scan_surface(triangles, size=size)
    material = trimesh.visual.material.PBRMaterial(
        baseColorTexture=texture_image(px), metallicFactor=0.0, roughnessFactor=0.9
    )
    return trimesh.Trimesh(
        v, f, visual=trimesh.visual.TextureVisuals(uv=uv, material=material), process=False
    )


def obj_zip(triangles: int, *, size: float = 400.0) -> bytes:
    """An OBJ + MTL + PNG texture in a zip, in millimetres (as scanner software often writes)."""
    v, f, uv = scan_surface(triangles, size=size)
    material = trimesh.visual.material.SimpleMaterial(image=texture_image(256), diffuse=[255] * 4)
    mesh = trimesh.Trimesh(
        v, f, visual=trimesh.visual.TextureVisuals(uv=uv, material=material), process=False
    )
    files = trimesh.exchange.obj.export_obj(mesh, return_texture=True, mtl_name="scan.mtl")
    text, textures = files
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("scan.obj", text)
        for name, data in textures.items():
            z.writestr(name, data)
    return out.getvalue()


def gltf_zip(triangles: int) -> bytes:
    """A .gltf with an external .bin and an external PNG, zipped, in a folder."""
    mesh = textured_trimesh(triangles)
    files = trimesh.Scene(mesh).export(file_type="gltf")
    # trimesh puts the image in a buffer; real exporters write it next to the .gltf.
    gltf = json.loads(files["model.gltf"])
    for i, image in enumerate(gltf.get("images", [])):
        view = gltf["bufferViews"][image.pop("bufferView")]
        data = files[gltf["buffers"][view["buffer"]]["uri"]]
        start = view.get("byteOffset", 0)
        files[f"textures/image{i}.png"] = data[start : start + view["byteLength"]]
        image["uri"] = f"textures/image{i}.png"
    files["model.gltf"] = json.dumps(gltf).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"model/{name}", data)
    return out.getvalue()


def multi_mesh_scene() -> bytes:
    """Three parts placed by node transforms (one rotated, one scaled): a pedestal and a pot."""
    pedestal = trimesh.creation.box(extents=[0.5, 0.2, 0.5])
    pedestal.visual.face_colors = [120, 100, 80, 255]
    v, f, uv = scan_surface(20_000, size=0.6)
    pot = trimesh.Trimesh(
        v,
        f,
        visual=trimesh.visual.TextureVisuals(
            uv=uv, material=trimesh.visual.material.PBRMaterial(baseColorTexture=texture_image(256))
        ),
        process=False,
    )
    handle = trimesh.creation.torus(0.08, 0.02)
    scene = trimesh.Scene()
    scene.add_geometry(
        pedestal,
        node_name="pedestal",
        transform=trimesh.transformations.translation_matrix([0, 0.1, 0]),
    )
    t = trimesh.transformations.translation_matrix([0, 0.5, 0])
    scene.add_geometry(pot, node_name="pot", transform=t)
    r = trimesh.transformations.rotation_matrix(math.pi / 2, [1, 0, 0])
    s = np.diag([2.0, 2.0, 2.0, 1.0])
    scene.add_geometry(
        handle,
        node_name="handle",
        transform=trimesh.transformations.translation_matrix([0.3, 0.5, 0]) @ r @ s,
    )
    return scene.export(file_type="glb")


def open_mesh_with_holes(triangles: int, *, size: float = 0.3) -> trimesh.Trimesh:
    """A scan with missing patches (the scanner could not see under the base, and a few spots)."""
    v, f, _ = scan_surface(triangles, size=size)
    mesh = trimesh.Trimesh(v, f, process=True)  # merge the seam so the holes are real holes
    c = mesh.triangles_center
    lo, hi = mesh.bounds
    h = hi - lo
    drop = c[:, 1] < lo[1] + 0.05 * h[1]  # open bottom
    for centre in ([0.0, 0.6, 1.0], [1.0, 0.4, 0.0], [-0.7, 0.3, -0.7]):
        p = lo + (np.array(centre) * 0.5 + 0.5) * h
        drop |= np.linalg.norm(c - p, axis=1) < 0.06 * h.max()
    mesh.update_faces(~drop)
    mesh.remove_unreferenced_vertices()
    return mesh


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
