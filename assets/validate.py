"""Structural checks of an upload, done on headers and JSON before any payload is decoded.

Each check raises one `Invalid` (or `TooLarge` for a limit) whose message names the part of the
file that is wrong (the chunk, buffer, accessor, image or zip entry) in words a librarian can
pass on to whoever made the file. Counts and sizes are compared with the bytes actually present
and with `Limits` first, so a header that lies about its size is refused without allocating what
it claims.
"""

from __future__ import annotations

import io
import json
import posixpath
import struct
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from assets.limits import Limits
from core.errors import Invalid, TooLarge

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942

COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
COMPONENT_DTYPE = {
    5120: np.int8,
    5121: np.uint8,
    5122: np.int16,
    5123: np.uint16,
    5125: np.uint32,
    5126: np.float32,
}
TYPE_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}

# Extensions a file may *require* that we can still read correctly.
READABLE_EXTENSIONS = {
    "KHR_draco_mesh_compression",
    "KHR_mesh_quantization",
    "KHR_texture_transform",
    "KHR_materials_unlit",
    "KHR_materials_emissive_strength",
    "KHR_materials_ior",
    "KHR_materials_specular",
    "KHR_materials_transmission",
    "KHR_materials_volume",
    "KHR_texture_basisu_fallback",
}

MODEL_EXTENSIONS = (".glb", ".gltf", ".obj", ".ply", ".stl")


def mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def check_upload_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise TooLarge(f"The file is {mib(size)}; the limit is {mib(limits.max_bytes)}.")
    if size == 0:
        raise Invalid("The file is empty.")


# --- GLB container ----------------------------------------------------------------------------


@dataclass
class Glb:
    document: dict
    binary: bytes | None


def read_glb(data: bytes, limits: Limits) -> Glb:
    """Split a GLB into its JSON document and BIN chunk, checking every length it declares."""
    if len(data) < 12:
        raise Invalid(
            f"This GLB is truncated: it has {len(data)} bytes, not even the 12-byte header."
        )
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != GLB_MAGIC:
        raise Invalid(f"This is not a GLB file: it starts with {magic!r} instead of b'glTF'.")
    if version != 2:
        raise Invalid(
            f"This GLB is glTF version {version}; only glTF 2.0 is supported "
            "(re-export it as glTF 2.0)."
        )
    if length != len(data):
        what = "truncated" if length > len(data) else "followed by extra bytes"
        raise Invalid(
            f"This GLB is {what}: its header says {length} bytes but the file has {len(data)}."
        )
    chunks: list[tuple[int, int, int]] = []
    offset = 12
    while offset < len(data):
        if offset + 8 > len(data):
            raise Invalid(
                f"GLB chunk {len(chunks)} is truncated: its 8-byte header starts at byte "
                f"{offset} of {len(data)}."
            )
        chunk_len, chunk_type = struct.unpack_from("<II", data, offset)
        if offset + 8 + chunk_len > len(data):
            raise Invalid(
                f"GLB chunk {len(chunks)} is truncated: it declares {chunk_len} bytes "
                f"but only {len(data) - offset - 8} follow."
            )
        chunks.append((chunk_type, offset + 8, chunk_len))
        offset += 8 + chunk_len
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise Invalid("GLB chunk 0 must be the JSON chunk, and it is missing or of another type.")
    _, start, json_len = chunks[0]
    if json_len > limits.max_json_bytes:
        raise TooLarge(
            f"The GLB's JSON chunk is {mib(json_len)}; the limit is {mib(limits.max_json_bytes)}."
        )
    document = parse_json(data[start : start + json_len], "the GLB's JSON chunk")
    binary = None
    if len(chunks) > 1:
        if chunks[1][0] != CHUNK_BIN:
            raise Invalid("GLB chunk 1 should be the BIN chunk but has another type.")
        binary = data[chunks[1][1] : chunks[1][1] + chunks[1][2]]
    return Glb(document, binary)


def parse_json(raw: bytes, where: str) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Invalid(
            f"{where.capitalize()} is not UTF-8 text (byte {e.start} is invalid)."
        ) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise Invalid(
            f"{where.capitalize()} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}."
        ) from None
    except RecursionError:
        raise Invalid(f"{where.capitalize()} is nested too deeply to be a glTF document.") from None
    if not isinstance(document, dict):
        raise Invalid(f"{where.capitalize()} must be a JSON object.")
    return document


# --- glTF document ---------------------------------------------------------------------------


def _list(document: dict, key: str) -> list:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Invalid(f"The glTF '{key}' must be a list of objects.")
    return value


def _int(obj: dict, key: str, where: str, *, default: int | None = None, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise Invalid(f"{where} has an invalid '{key}': {value!r}.")
    return value


def _index(obj: dict, key: str, items: list, where: str, what: str) -> int:
    value = _int(obj, key, where)
    if value >= len(items):
        raise Invalid(f"{where} points at {what} {value}, but the file has only {len(items)}.")
    return value


@dataclass
class AccessorInfo:
    index: int
    count: int
    width: int
    component: int
    normalized: bool
    view: int | None
    offset: int  # byte offset of the first element inside its buffer
    stride: int


def check_document(document: dict, buffer_sizes: list[int], limits: Limits) -> list[AccessorInfo]:
    """Check a glTF 2.0 document's references and byte ranges against the buffers present.

    `buffer_sizes` holds the number of bytes actually available for each buffer. Returns the
    resolved layout of every accessor, so reading them later needs no further checks.
    """
    asset = document.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2."):
        version = asset.get("version") if isinstance(asset, dict) else None
        raise Invalid(f"This glTF declares version {version!r}; only glTF 2.0 is supported.")
    required = document.get("extensionsRequired", [])
    if not isinstance(required, list):
        raise Invalid("The glTF 'extensionsRequired' must be a list.")
    unknown = [e for e in required if e not in READABLE_EXTENSIONS]
    if unknown:
        raise Invalid(
            f"This glTF needs the extension(s) {', '.join(map(str, unknown))}, which this "
            "server cannot read. Export it without them."
        )
    buffers = _list(document, "buffers")
    views = _list(document, "bufferViews")
    accessors = _list(document, "accessors")
    nodes = _list(document, "nodes")
    if len(nodes) > limits.max_nodes:
        raise TooLarge(f"The scene has {len(nodes)} nodes; the limit is {limits.max_nodes}.")
    for i, buf in enumerate(buffers):
        declared = _int(buf, "byteLength", f"Buffer {i}", minimum=1)
        if declared > buffer_sizes[i]:
            raise Invalid(
                f"Buffer {i} declares {declared} bytes but only {buffer_sizes[i]} are "
                "present (the file is truncated or the .bin is the wrong one)."
            )
    for i, view in enumerate(views):
        where = f"BufferView {i}"
        b = _index(view, "buffer", buffers, where, "buffer")
        start = _int(view, "byteOffset", where, default=0)
        length = _int(view, "byteLength", where, minimum=1)
        if start + length > buffers[b]["byteLength"]:
            raise Invalid(
                f"{where} covers bytes {start}–{start + length} of buffer {b}, which has "
                f"only {buffers[b]['byteLength']}."
            )
        if "byteStride" in view:
            stride = _int(view, "byteStride", where, minimum=4)
            if stride > 252 or stride % 4:
                raise Invalid(
                    f"{where} has an invalid byteStride {stride} (must be 4–252, a multiple of 4)."
                )
    names = _accessor_roles(document)
    infos = []
    for i, acc in enumerate(accessors):
        where = f"Accessor {i}{names.get(i, '')}"
        component = acc.get("componentType")
        if component not in COMPONENT_SIZE:
            raise Invalid(f"{where} has an unknown componentType {component!r}.")
        kind = acc.get("type")
        if kind not in TYPE_WIDTH:
            raise Invalid(f"{where} has an unknown type {kind!r}.")
        count = _int(acc, "count", where, minimum=1)
        if count > 3 * max(limits.max_triangles, limits.max_vertices):
            raise TooLarge(
                f"{where} declares {count:,} elements, beyond the limits of "
                f"{limits.max_triangles:,} triangles / {limits.max_vertices:,} vertices."
            )
        if "sparse" in acc:
            raise Invalid(f"{where} is a sparse accessor; sparse accessors are not supported.")
        width = TYPE_WIDTH[kind]
        elem = COMPONENT_SIZE[component] * width
        view_index = acc.get("bufferView")
        if view_index is None:
            infos.append(
                AccessorInfo(i, count, width, component, bool(acc.get("normalized")), None, 0, elem)
            )
            continue
        view_index = _index(acc, "bufferView", views, where, "bufferView")
        view = views[view_index]
        offset = _int(acc, "byteOffset", where, default=0)
        stride = view.get("byteStride", elem)
        if stride < elem:
            raise Invalid(
                f"{where} has {elem}-byte elements but bufferView {view_index} has a "
                f"byteStride of only {stride}."
            )
        needed = offset + stride * (count - 1) + elem
        if needed > view["byteLength"]:
            raise Invalid(
                f"{where} needs {needed:,} bytes ({count:,} × {kind}) but bufferView "
                f"{view_index} holds only {view['byteLength']:,}: it reads out of range."
            )
        infos.append(
            AccessorInfo(
                i,
                count,
                width,
                component,
                bool(acc.get("normalized")),
                view_index,
                view.get("byteOffset", 0) + offset,
                stride,
            )
        )
    return infos


def _accessor_roles(document: dict) -> dict[int, str]:
    """' (POSITION of mesh 0 'vase')' for each accessor a primitive uses: messages name the role."""
    roles: dict[int, str] = {}
    meshes = document.get("meshes", [])
    if not isinstance(meshes, list):
        return roles
    for m, mesh in enumerate(meshes):
        if not isinstance(mesh, dict):
            continue
        label = f"mesh {m}" + (f" '{mesh['name']}'" if isinstance(mesh.get("name"), str) else "")
        for prim in mesh.get("primitives", []) if isinstance(mesh.get("primitives"), list) else []:
            if not isinstance(prim, dict):
                continue
            attrs = prim.get("attributes", {})
            for name, acc in attrs.items() if isinstance(attrs, dict) else []:
                if isinstance(acc, int):
                    roles.setdefault(acc, f" ({name} of {label})")
            if isinstance(prim.get("indices"), int):
                roles.setdefault(prim["indices"], f" (indices of {label})")
    return roles


def count_triangles(document: dict, infos: list[AccessorInfo], limits: Limits) -> tuple[int, int]:
    """Triangles and vertices the scene will have, from accessor counts only (instances counted)."""
    meshes = _list(document, "meshes")
    per_mesh = []
    for m, mesh in enumerate(meshes):
        tris = verts = 0
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims:
            raise Invalid(f"Mesh {m} has no primitives.")
        for p, prim in enumerate(prims):
            where = f"Primitive {p} of mesh {m}"
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise Invalid(f"{where} has no POSITION attribute.")
            for name, acc in attrs.items():
                if not isinstance(acc, int) or isinstance(acc, bool) or not 0 <= acc < len(infos):
                    raise Invalid(
                        f"{where}: attribute {name} points at accessor {acc!r}, which "
                        "does not exist."
                    )
            n = infos[attrs["POSITION"]].count
            ext = prim.get("extensions", {}) if isinstance(prim.get("extensions"), dict) else {}
            if "indices" in prim:
                acc = prim["indices"]
                if not isinstance(acc, int) or isinstance(acc, bool) or not 0 <= acc < len(infos):
                    raise Invalid(
                        f"{where}: its indices point at accessor {acc!r}, which does not exist."
                    )
                idx = infos[acc].count
            else:
                idx = n
            mode = prim.get("mode", 4)
            tris += idx // 3 if mode == 4 else max(idx - 2, 0) if mode in (5, 6) else 0
            verts += n
            if "KHR_draco_mesh_compression" in ext and "indices" not in prim:
                raise Invalid(f"{where} is Draco-compressed but has no indices accessor.")
        per_mesh.append((tris, verts))
    triangles = vertices = 0
    for node in _list(document, "nodes"):
        if "mesh" in node:
            m = _index(node, "mesh", meshes, "A node", "mesh")
            triangles += per_mesh[m][0]
            vertices += per_mesh[m][1]
    if triangles > limits.max_triangles:
        raise TooLarge(
            f"The model has {triangles:,} triangles; the limit is {limits.max_triangles:,}."
        )
    if vertices > limits.max_vertices:
        raise TooLarge(
            f"The model has {vertices:,} vertices; the limit is {limits.max_vertices:,}."
        )
    return triangles, vertices


# --- Images ----------------------------------------------------------------------------------


def image_header(data: bytes, where: str, limits: Limits) -> tuple[int, int, str]:
    """(width, height, mime) from the image header only; refuses what is too big to decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height, fmt = img.width, img.height, img.format
        except Image.DecompressionBombError:
            # PIL refuses absurd sizes itself; say how big the header claims it is if we can.
            size = _png_size(data)
            claimed = f" is {size[0]}×{size[1]} pixels;" if size else " is too large;"
            raise TooLarge(
                f"{where}{claimed} the limit is {limits.max_texture_pixels:,} pixels per texture."
            ) from None
        except Exception:  # PIL raises many types for a damaged header; all mean the same here
            raise Invalid(f"{where} is not a readable PNG or JPEG image.") from None
    if fmt not in ("PNG", "JPEG", "WEBP"):
        raise Invalid(f"{where} is a {fmt} image; textures must be PNG, JPEG or WebP.")
    if width * height > limits.max_texture_pixels:
        raise TooLarge(
            f"{where} is {width}×{height} pixels; the limit is "
            f"{limits.max_texture_pixels:,} pixels per texture."
        )
    return width, height, {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


# --- Zip archives ----------------------------------------------------------------------------


def safe_member(name: str) -> str | None:
    """The member's path inside the archive, normalised; None for folders and unsafe paths."""
    name = name.replace("\\", "/")
    if name.endswith("/") or name.startswith("__MACOSX/"):
        return None
    norm = posixpath.normpath(name)
    if norm.startswith(("../", "/")) or norm == ".." or ":" in norm.split("/")[0]:
        raise Invalid(f"The zip entry '{name}' points outside the archive.")
    return norm


def unzip(path: Path, dest: Path, limits: Limits) -> list[str]:
    """Extract a zip into `dest`, refusing bombs by the declared and the actual unpacked size."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise Invalid("The zip archive is damaged (its directory cannot be read).") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_zip_entries:
            raise TooLarge(
                f"The zip holds {len(infos)} entries; the limit is {limits.max_zip_entries}."
            )
        declared = sum(i.file_size for i in infos)
        if declared > limits.max_bytes:
            raise TooLarge(
                f"The zip unpacks to {mib(declared)}; the limit is {mib(limits.max_bytes)}."
            )
        names = []
        total = 0
        for info in infos:
            name = safe_member(info.filename)
            if name is None:
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with archive.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        total += len(chunk)
                        # A forged directory can understate sizes: count what really comes out.
                        if written > info.file_size or total > limits.max_bytes:
                            raise TooLarge(
                                f"The zip entry '{name}' unpacks to more than it "
                                "declares; the archive is refused."
                            )
                        out.write(chunk)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                OSError,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as e:
                raise Invalid(
                    f"The zip entry '{name}' is damaged or encrypted ({_short(e)})."
                ) from None
            names.append(name)
    return names


def _short(e: Exception) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) < 120 else text[:117] + "..."


def pick_model(names: list[str]) -> str:
    models = [n for n in names if n.lower().endswith(MODEL_EXTENSIONS)]
    if not models:
        raise Invalid("The zip holds no model: put one .gltf, .glb, .obj, .ply or .stl file in it.")
    if len(models) > 1:
        shown = ", ".join(models[:5])
        raise Invalid(f"The zip holds {len(models)} models ({shown}); upload one at a time.")
    return models[0]


def require_finite(array: np.ndarray, where: str) -> None:
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.argmin(finite.all(axis=1) if array.ndim > 1 else finite))
        raise Invalid(f"{where} has non-finite values (NaN or infinity), first at vertex {bad}.")
