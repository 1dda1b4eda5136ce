"""Write a level as a small GLB: Draco-compressed geometry, a resized JPEG, a real material.

Chosen by measurement on a 1.3 M-triangle textured scan (see bench/assets_bench.py):

* Geometry: `KHR_draco_mesh_compression` (positions quantised to 14–15 bits, UVs to 12, normals
  to 10) is 1.0 MB where `EXT_meshopt_compression` as gltfpack `-cc` writes it is 3.7 MB; meshopt
  is designed to be gzipped afterwards, while these files are served as they are. three.js's
  GLTFLoader decodes Draco with the decoder it ships (`examples/jsm/libs/draco/gltf/`).
* Textures: JPEG (quality 80, progressive). WebP was ~30 % smaller at equal PSNR on large
  textures but 8× slower to encode and needs `EXT_texture_webp`, which older iPads (iOS < 14),
  common in schools, cannot decode. PNG only when the texture really uses transparency.
* A material is always written (metallic 0 unless the source says otherwise): a glTF without one
  renders with the default metallic = 1, which looks black without an environment map.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass

import DracoPy
import numpy as np
from PIL import Image

from assets.lod import weld
from assets.model import Material, Model, Part

TEXTURE_MAX = 2048  # the full level; old tablets' GPUs handle 2048² everywhere
TEXTURE_MIN = 128
JPEG_QUALITY = 80
DRACO_LEVEL = 5  # DracoPy "compression_level" 0–10: 5 was both smaller and faster than 7 here
UV_BITS = 12
NORMAL_BITS = 10
NORMALS_UP_TO = 500_000  # triangles; denser levels look the same flat-shaded (facets < 1 px)


def position_bits(ratio: float) -> int:
    """Quantisation fine enough that it adds little to the level's own simplification error."""
    return 15 if ratio >= 1.0 else 14


def texture_size(size: tuple[int, int], ratio: float) -> tuple[int, int]:
    """A power-of-two size for this level: full (capped) for level 0, shrinking with detail."""
    w, h = size
    target = min(TEXTURE_MAX, max(w, h)) * math.sqrt(ratio)
    longest = max(TEXTURE_MIN, 2 ** round(math.log2(max(target, 1))))
    longest = min(longest, 2 ** math.ceil(math.log2(max(w, h))))
    scale = longest / max(w, h)
    return (
        max(1, 2 ** round(math.log2(max(w * scale, 1)))),
        max(1, 2 ** round(math.log2(max(h * scale, 1)))),
    )


def encode_texture(data: bytes, size: tuple[int, int], ratio: float) -> tuple[bytes, str, tuple]:
    img = Image.open(io.BytesIO(data))
    img.load()
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    img = img.convert("RGBA" if has_alpha else "RGB")
    if has_alpha and img.getchannel("A").getextrema()[0] == 255:
        img, has_alpha = img.convert("RGB"), False
    new = texture_size(size, ratio)
    if new != img.size:
        img = img.resize(new, Image.LANCZOS if new[0] < img.width else Image.BICUBIC)
    out = io.BytesIO()
    if has_alpha:
        img.save(out, "PNG", optimize=False)
        return out.getvalue(), "image/png", new
    img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue(), "image/jpeg", new


def smooth_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted normals on welded positions, so a UV seam does not show as a crease."""
    wpos, _, inverse = weld(positions, faces)
    wf = inverse[faces]
    p = wpos.astype(np.float64)
    n = np.cross(p[wf[:, 1]] - p[wf[:, 0]], p[wf[:, 2]] - p[wf[:, 0]])
    acc = np.zeros((len(wpos), 3))
    for k in range(3):
        for axis in range(3):
            acc[:, axis] += np.bincount(wf[:, k], weights=n[:, axis], minlength=len(wpos))
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    acc = np.where(length > 0, acc / np.maximum(length, 1e-300), [0.0, 1.0, 0.0])
    return acc[inverse]


@dataclass
class Encoded:
    glb: bytes
    decoded: list[tuple[np.ndarray, np.ndarray]]  # what a viewer will get back, per part
    texture_sizes: list[tuple[int, int]]


class _Builder:
    def __init__(self) -> None:
        self.blobs: list[bytes] = []
        self.offset = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        v = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(data)}
        if target:
            v["target"] = target
        self.views.append(v)
        padded = data + b"\0" * (-len(data) % 4)
        self.blobs.append(padded)
        self.offset += len(padded)
        return len(self.views) - 1

    def accessor(self, **fields) -> int:
        self.accessors.append(fields)
        return len(self.accessors) - 1


def encode_model(model: Model, ratio: float, *, compress: bool = True) -> Encoded:
    """The GLB for one level. `compress=False` writes plain float accessors (for debugging and
    for tools without a Draco decoder)."""
    b = _Builder()
    primitives = []
    decoded = []
    with_normals = model.triangles <= NORMALS_UP_TO
    for part in model.parts:
        normals = smooth_normals(part.positions, part.faces) if with_normals else None
        if compress:
            prim, dec = _draco_primitive(b, part, normals, ratio)
        else:
            prim, dec = _plain_primitive(b, part, normals)
        prim["material"] = part.material
        primitives.append(prim)
        decoded.append(dec)
    materials, images, textures, sizes = [], [], [], []
    for material in model.materials:
        materials.append(_material_json(material, b, images, textures, sizes, ratio))
    gltf: dict = {
        "asset": {"version": "2.0", "generator": "smartlib assets"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "exhibit"}],
        "meshes": [{"primitives": primitives, "name": "exhibit"}],
        "materials": materials,
        "accessors": b.accessors,
        "bufferViews": b.views,
        "buffers": [{"byteLength": b.offset}],
    }
    if images:
        gltf.update(
            images=images, textures=textures, samplers=[{"magFilter": 9729, "minFilter": 9987}]
        )
    if compress:
        gltf["extensionsUsed"] = ["KHR_draco_mesh_compression"]
        gltf["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    return Encoded(assemble(gltf, b"".join(b.blobs)), decoded, sizes)


def _material_json(material: Material, b: _Builder, images, textures, sizes, ratio) -> dict:
    pbr: dict = {
        "baseColorFactor": [round(c, 6) for c in material.base_color],
        "metallicFactor": material.metallic,
        "roughnessFactor": material.roughness,
    }
    alpha = "OPAQUE"
    if material.texture is not None:
        data, mime, size = encode_texture(material.texture, material.texture_size, ratio)
        images.append({"bufferView": b.view(data), "mimeType": mime})
        textures.append({"source": len(images) - 1, "sampler": 0})
        pbr["baseColorTexture"] = {"index": len(textures) - 1}
        sizes.append(size)
        if mime == "image/png":
            alpha = "BLEND"
    if material.base_color[3] < 1.0:
        alpha = "BLEND"
    out = {"name": material.name, "pbrMetallicRoughness": pbr, "doubleSided": material.double_sided}
    if alpha != "OPAQUE":
        out["alphaMode"] = alpha
    return out


def _draco_primitive(b: _Builder, part: Part, normals: np.ndarray, ratio: float):
    blob = DracoPy.encode(
        part.positions.astype(np.float64),
        part.faces.astype(np.uint32),
        quantization_bits=position_bits(ratio),
        compression_level=DRACO_LEVEL,
        tex_coord=None if part.uvs is None else part.uvs.astype(np.float64),
        tex_coord_quantization_bits=UV_BITS,
        normals=normals,
        normal_quantization_bits=NORMAL_BITS if normals is not None else None,
        colors=part.colors,
    )
    # Decode once: the accessors must describe what a viewer gets back (counts, bounds), and the
    # decoded geometry is what the level's error is measured on.
    mesh = DracoPy.decode(blob)
    pos = np.asarray(mesh.points, np.float32).reshape(-1, 3)
    faces = np.asarray(mesh.faces, np.uint32).reshape(-1, 3)
    n = len(pos)
    attrs = {
        "POSITION": b.accessor(
            componentType=5126,
            count=n,
            type="VEC3",
            min=pos.min(0).tolist(),
            max=pos.max(0).tolist(),
        )
    }
    # DracoPy numbers the attributes it adds in this order: colour, texture coordinates,
    # normals, position (checked against the reference decoder in the tests).
    names = []
    if part.colors is not None:
        attrs["COLOR_0"] = b.accessor(componentType=5121, normalized=True, count=n, type="VEC4")
        names.append("COLOR_0")
    if part.uvs is not None:
        attrs["TEXCOORD_0"] = b.accessor(componentType=5126, count=n, type="VEC2")
        names.append("TEXCOORD_0")
    if normals is not None:
        attrs["NORMAL"] = b.accessor(componentType=5126, count=n, type="VEC3")
        names.append("NORMAL")
    names.append("POSITION")
    ids = {name: i for i, name in enumerate(names)}
    indices = b.accessor(componentType=5125 if n > 65535 else 5123, count=faces.size, type="SCALAR")
    prim = {
        "attributes": attrs,
        "indices": indices,
        "mode": 4,
        "extensions": {
            "KHR_draco_mesh_compression": {"bufferView": b.view(blob), "attributes": ids}
        },
    }
    return prim, (pos, faces)


def _plain_primitive(b: _Builder, part: Part, normals: np.ndarray):
    pos = np.ascontiguousarray(part.positions, np.float32)
    attrs = {
        "POSITION": b.accessor(
            bufferView=b.view(pos.tobytes(), 34962),
            componentType=5126,
            count=len(pos),
            type="VEC3",
            min=pos.min(0).tolist(),
            max=pos.max(0).tolist(),
        )
    }
    if normals is not None:
        nrm = np.ascontiguousarray(normals, np.float32)
        attrs["NORMAL"] = b.accessor(
            bufferView=b.view(nrm.tobytes(), 34962), componentType=5126, count=len(nrm), type="VEC3"
        )
    if part.uvs is not None:
        uv = np.ascontiguousarray(part.uvs, np.float32)
        attrs["TEXCOORD_0"] = b.accessor(
            bufferView=b.view(uv.tobytes(), 34962), componentType=5126, count=len(uv), type="VEC2"
        )
    if part.colors is not None:
        col = np.ascontiguousarray(part.colors, np.uint8)
        attrs["COLOR_0"] = b.accessor(
            bufferView=b.view(col.tobytes(), 34962),
            componentType=5121,
            normalized=True,
            count=len(col),
            type="VEC4",
        )
    idx = np.ascontiguousarray(part.faces, np.uint32).reshape(-1)
    indices = b.accessor(
        bufferView=b.view(idx.tobytes(), 34963), componentType=5125, count=len(idx), type="SCALAR"
    )
    return {"attributes": attrs, "indices": indices, "mode": 4}, (pos, part.faces)


def assemble(gltf: dict, binary: bytes) -> bytes:
    js = json.dumps(gltf, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 4)
    binary += b"\0" * (-len(binary) % 4)
    total = 12 + 8 + len(js) + 8 + len(binary)
    return (
        b"glTF"
        + struct.pack("<II", 2, total)
        + struct.pack("<I4s", len(js), b"JSON")
        + js
        + struct.pack("<I4s", len(binary), b"BIN\0")
        + binary
    )
