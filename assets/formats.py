"""Readers: an uploaded file (or zip) in, a world-space `Model` out, or one `Invalid`.

glTF/GLB is read by our own code on top of the checks in `validate`, because the libraries
either accept damaged files silently (pygltflib ignores truncation) or fail with bare
`IndexError`s. OBJ, PLY and STL go through trimesh after a header pre-scan that enforces the
limits and catches truncation; whatever trimesh still raises becomes one `Invalid`.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import urllib.parse
import warnings
from pathlib import Path

import numpy as np

from assets import validate as v
from assets.limits import Limits
from assets.model import Material, Model, Part, merge_by_material
from core.errors import Invalid, TooLarge

SUPPORTED = (".glb", ".gltf", ".obj", ".ply", ".stl", ".zip")


def suffix_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED:
        raise Invalid(
            f"'{filename}' is not a supported 3D file: upload .glb, .gltf (zipped with its "
            "buffers and images), .obj (zipped with .mtl and textures), .ply or .stl.",
            field="file",
        )
    return suffix


def read_model(path: str | Path, filename: str, limits: Limits, scratch: str | Path) -> Model:
    """Read an upload. `scratch` is a folder where a zip may be unpacked."""
    path = Path(path)
    suffix = suffix_of(filename)
    v.check_upload_size(path.stat().st_size, limits)
    if suffix == ".zip":
        folder = Path(scratch) / "unzipped"
        folder.mkdir(parents=True, exist_ok=True)
        names = v.unzip(path, folder, limits)
        inner = v.pick_model(names)
        path, suffix = folder / inner, Path(inner).suffix.lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if suffix == ".glb":
                model = read_glb(path.read_bytes(), limits)
            elif suffix == ".gltf":
                model = read_gltf(path, limits)
            elif suffix == ".obj":
                model = read_obj(path, limits)
            elif suffix == ".ply":
                model = read_ply(path, limits)
            else:
                model = read_stl(path, limits)
    except (Invalid, TooLarge):
        raise
    except MemoryError:
        raise TooLarge("The model is too large to read on this server.") from None
    except Exception as e:  # a library's own failure on a damaged file: one sentence, no trace
        raise Invalid(
            f"The {suffix[1:].upper()} file is damaged and cannot be read "
            f"({type(e).__name__}: {v._short(e)})."
        ) from None
    if model.triangles == 0:
        raise Invalid("The model has no triangles (only points or lines, or nothing at all).")
    if model.triangles > limits.max_triangles:
        raise TooLarge(
            f"The model has {model.triangles:,} triangles; the limit is {limits.max_triangles:,}."
        )
    model.meta.setdefault("source_format", suffix[1:])
    model.meta.setdefault("source_triangles", model.triangles)
    return model


# --- glTF 2.0 --------------------------------------------------------------------------------


def read_glb(data: bytes, limits: Limits) -> Model:
    glb = v.read_glb(data, limits)

    def load_buffer(i: int, buf: dict) -> bytes:
        if i == 0 and "uri" not in buf:
            if glb.binary is None:
                raise Invalid("Buffer 0 refers to the GLB's BIN chunk, but the file has none.")
            return glb.binary
        return _load_uri(buf.get("uri"), f"Buffer {i}", None, limits)

    def load_image(uri: str, where: str) -> bytes:
        return _load_uri(uri, where, None, limits)

    return _read_document(glb.document, load_buffer, load_image, limits)


def read_gltf(path: Path, limits: Limits) -> Model:
    raw = path.read_bytes()
    if len(raw) > limits.max_json_bytes:
        raise TooLarge(
            f"The .gltf JSON is {v.mib(len(raw))}; the limit is {v.mib(limits.max_json_bytes)}."
        )
    document = v.parse_json(raw, "the .gltf file")
    base = path.parent

    def load_buffer(i: int, buf: dict) -> bytes:
        return _load_uri(buf.get("uri"), f"Buffer {i}", base, limits)

    def load_image(uri: str, where: str) -> bytes:
        return _load_uri(uri, where, base, limits)

    return _read_document(document, load_buffer, load_image, limits)


def _load_uri(uri, where: str, base: Path | None, limits: Limits) -> bytes:
    if not isinstance(uri, str) or not uri:
        raise Invalid(f"{where} has no data: it has no 'uri' and is not the GLB's BIN chunk.")
    if uri.startswith("data:"):
        head, _, payload = uri.partition(",")
        if len(payload) * 3 // 4 > limits.max_bytes:
            raise TooLarge(f"{where} embeds more than {v.mib(limits.max_bytes)} of data.")
        try:
            return (
                base64.b64decode(payload, validate=True)
                if head.endswith(";base64")
                else urllib.parse.unquote_to_bytes(payload)
            )
        except ValueError:
            raise Invalid(f"{where} has a damaged data: URI (bad base64).") from None
    name = urllib.parse.unquote(uri)
    if "://" in name:
        raise Invalid(f"{where} refers to '{uri}' on another server; include the file in the zip.")
    if base is None:
        raise Invalid(
            f"{where} refers to an external file '{name}', but a .glb must be "
            "self-contained; upload a zip with the .gltf and its files instead."
        )
    target = (base / name).resolve()
    root = base.resolve()
    if root not in target.parents and target != root:
        raise Invalid(f"{where} refers to '{name}', outside the upload.")
    if not target.is_file():
        raise Invalid(
            f"{where} refers to '{name}', which is missing: include it in the zip next "
            "to the .gltf."
        )
    if target.stat().st_size > limits.max_bytes:
        raise TooLarge(f"{where} ('{name}') is larger than {v.mib(limits.max_bytes)}.")
    return target.read_bytes()


def _read_document(document: dict, load_buffer, load_image, limits: Limits) -> Model:
    buffers_json = v._list(document, "buffers")
    buffers = [load_buffer(i, b) for i, b in enumerate(buffers_json)]
    infos = v.check_document(document, [len(b) for b in buffers], limits)
    v.count_triangles(document, infos, limits)
    materials, tex_coords = _read_materials(document, buffers, load_image, limits)
    views = v._list(document, "bufferViews")
    meshes = v._list(document, "meshes")
    nodes = v._list(document, "nodes")
    parts: list[Part] = []
    cache: dict[int, list[Part]] = {}

    def mesh_parts(m: int) -> list[Part]:
        if m not in cache:
            cache[m] = _read_mesh(m, meshes[m], infos, views, buffers, materials, tex_coords)
        return cache[m]

    for node_index, matrix in _walk_nodes(document, nodes):
        node = nodes[node_index]
        if "mesh" not in node:
            continue
        for part in mesh_parts(node["mesh"]):
            parts.append(_transformed(part, matrix))
    model = merge_by_material(parts, [*materials, Material()])
    model.meta["units"] = "m"  # glTF 2.0 is metres and +Y up by definition
    model.meta["up"] = "+Y"
    return model


def _walk_nodes(document: dict, nodes: list[dict]):
    """(node index, world matrix) for every node reachable from the scene, refusing cycles."""
    scenes = v._list(document, "scenes")
    if scenes:
        s = document.get("scene", 0)
        if not isinstance(s, int) or not 0 <= s < len(scenes):
            raise Invalid(f"The default scene {s!r} does not exist.")
        roots = scenes[s].get("nodes", [])
    else:
        children = {c for n in nodes for c in n.get("children", []) if isinstance(c, int)}
        roots = [i for i in range(len(nodes)) if i not in children]
    if not isinstance(roots, list):
        raise Invalid("The scene's 'nodes' must be a list.")
    stack = [(r, np.eye(4), ()) for r in roots]
    while stack:
        i, parent, path = stack.pop()
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(nodes):
            raise Invalid(f"The scene refers to node {i!r}, which does not exist.")
        if i in path:
            raise Invalid(f"Node {i} is its own ancestor: the node hierarchy has a cycle.")
        world = parent @ _node_matrix(nodes[i], i)
        yield i, world
        children = nodes[i].get("children", [])
        if not isinstance(children, list):
            raise Invalid(f"Node {i}'s children must be a list.")
        stack.extend((c, world, (*path, i)) for c in children)


def _node_matrix(node: dict, i: int) -> np.ndarray:
    try:
        if "matrix" in node:
            m = np.array(node["matrix"], dtype=np.float64)
            if m.shape != (16,):
                raise ValueError
            m = m.reshape(4, 4).T  # glTF stores column-major
        else:
            t = np.array(node.get("translation", [0, 0, 0]), dtype=np.float64)
            q = np.array(node.get("rotation", [0, 0, 0, 1]), dtype=np.float64)
            s = np.array(node.get("scale", [1, 1, 1]), dtype=np.float64)
            if t.shape != (3,) or q.shape != (4,) or s.shape != (3,):
                raise ValueError
            x, y, z, w = q / (np.linalg.norm(q) or 1.0)
            r = np.array(
                [
                    [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
                ]
            )
            m = np.eye(4)
            m[:3, :3] = r * s
            m[:3, 3] = t
    except (ValueError, TypeError):
        raise Invalid(f"Node {i} has a malformed transform.") from None
    if not np.isfinite(m).all():
        raise Invalid(f"Node {i} has a non-finite transform.")
    return m


def _transformed(part: Part, matrix: np.ndarray) -> Part:
    if np.allclose(matrix, np.eye(4)):
        return part
    pos = part.positions.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
    faces = part.faces
    if np.linalg.det(matrix[:3, :3]) < 0:  # a mirroring transform turns faces inside out
        faces = faces[:, ::-1].copy()
    return Part(pos.astype(np.float32), faces, part.material, part.uvs, part.colors, part.name)


def read_accessor(info: v.AccessorInfo, views: list[dict], buffers: list[bytes]) -> np.ndarray:
    dtype = np.dtype(v.COMPONENT_DTYPE[info.component]).newbyteorder("<")
    if info.view is None:  # glTF: an accessor without a bufferView reads as zeros
        data = np.zeros((info.count, info.width), dtype)
    else:
        buf = buffers[views[info.view]["buffer"]]
        data = np.ndarray(
            (info.count, info.width),
            dtype,
            buffer=buf,
            offset=info.offset,
            strides=(info.stride, dtype.itemsize),
        ).copy()
    if info.normalized and info.component != 5126:
        data = _unnormalise(data)
    return data


def _unnormalise(data: np.ndarray) -> np.ndarray:
    info = np.iinfo(data.dtype)
    out = data.astype(np.float32) / info.max
    return np.maximum(out, -1.0) if info.min < 0 else out


def _read_mesh(m, mesh, infos, views, buffers, materials, tex_coords) -> list[Part]:
    parts = []
    name = mesh.get("name") if isinstance(mesh.get("name"), str) else f"mesh {m}"
    for p, prim in enumerate(mesh["primitives"]):
        where = f"primitive {p} of mesh {m}" + (f" '{mesh['name']}'" if "name" in mesh else "")
        mode = prim.get("mode", 4)
        if mode not in (4, 5, 6):
            continue  # points and lines have no surface to show or print
        material = prim.get("material", len(materials))
        if not isinstance(material, int) or not 0 <= material <= len(materials):
            raise Invalid(f"The {where} uses material {material!r}, which does not exist.")
        tex_coord = tex_coords[material] if material < len(materials) else 0
        attrs = prim["attributes"]
        ext = prim.get("extensions", {}) if isinstance(prim.get("extensions"), dict) else {}
        if "KHR_draco_mesh_compression" in ext:
            positions, faces, uvs, colors = _read_draco(
                ext["KHR_draco_mesh_compression"], views, buffers, where
            )
        else:
            positions = read_accessor(infos[attrs["POSITION"]], views, buffers)
            if positions.shape[1] != 3:
                raise Invalid(f"The POSITION of the {where} is not VEC3.")
            n = len(positions)
            if "indices" in prim:
                iinfo = infos[prim["indices"]]
                if iinfo.component not in (5121, 5123, 5125) or iinfo.width != 1:
                    raise Invalid(f"The indices of the {where} are not unsigned integer scalars.")
                indices = read_accessor(iinfo, views, buffers).reshape(-1).astype(np.uint32)
                if len(indices) and int(indices.max()) >= n:
                    raise Invalid(
                        f"The indices of the {where} (accessor {prim['indices']}) point "
                        f"at vertex {int(indices.max())}, but there are only {n}."
                    )
            else:
                indices = np.arange(n, dtype=np.uint32)
            faces = _triangulate(indices, mode)
            uvs = colors = None
            key = f"TEXCOORD_{tex_coord}"
            if key in attrs:
                uvs = read_accessor(infos[attrs[key]], views, buffers).astype(np.float32)
                if uvs.shape != (n, 2):
                    raise Invalid(f"The {key} of the {where} does not have one VEC2 per vertex.")
            if "COLOR_0" in attrs:
                colors = _colors(read_accessor(infos[attrs["COLOR_0"]], views, buffers), n, where)
        v.require_finite(positions, f"The POSITION of the {where}")
        if uvs is not None:
            v.require_finite(uvs, f"The texture coordinates of the {where}")
        parts.append(Part(positions.astype(np.float32), faces, material, uvs, colors, name))
    return parts


def _colors(raw: np.ndarray, n: int, where: str) -> np.ndarray:
    if len(raw) != n or raw.shape[1] not in (3, 4):
        raise Invalid(f"The COLOR_0 of the {where} does not have one colour per vertex.")
    if raw.dtype.kind == "f":
        v.require_finite(raw, f"The COLOR_0 of the {where}")
        raw = np.round(np.clip(raw, 0, 1) * 255)
    out = np.full((n, 4), 255, np.uint8)
    out[:, : raw.shape[1]] = raw.astype(np.uint8)
    return out


def _triangulate(indices: np.ndarray, mode: int) -> np.ndarray:
    if mode == 4:
        return indices[: len(indices) // 3 * 3].reshape(-1, 3)
    k = np.arange(max(len(indices) - 2, 0))
    if mode == 5:  # strip: every other triangle is wound the other way
        a, b, c = indices[k], indices[k + 1], indices[k + 2]
        odd = (k % 2).astype(bool)
        a, b = np.where(odd, b, a), np.where(odd, a, b)
        return np.stack([a, b, c], 1)
    return np.stack([np.full(len(k), indices[0]), indices[k + 1], indices[k + 2]], 1)


def _read_draco(ext: dict, views, buffers, where):
    import DracoPy

    view_index = ext.get("bufferView")
    if not isinstance(view_index, int) or not 0 <= view_index < len(views):
        raise Invalid(f"The Draco data of the {where} points at a bufferView that does not exist.")
    view = views[view_index]
    start = view.get("byteOffset", 0)
    blob = buffers[view["buffer"]][start : start + view["byteLength"]]
    try:
        mesh = DracoPy.decode(blob)
    except Exception:
        raise Invalid(f"The Draco-compressed data of the {where} is damaged.") from None
    positions = np.asarray(mesh.points, np.float32).reshape(-1, 3)
    faces = np.asarray(mesh.faces, np.uint32).reshape(-1, 3)
    uvs = (
        None
        if mesh.tex_coord is None or len(mesh.tex_coord) != len(positions)
        else np.asarray(mesh.tex_coord, np.float32)
    )
    colors = None
    if mesh.colors is not None and len(mesh.colors) == len(positions):
        colors = _colors(np.asarray(mesh.colors), len(positions), where)
    return positions, faces, uvs, colors


def _read_materials(document, buffers, load_image, limits: Limits):
    """The materials, and for each the TEXCOORD set its base colour texture reads."""
    images = v._list(document, "images")
    textures = v._list(document, "textures")
    views = v._list(document, "bufferViews")
    if len(images) > limits.max_textures:
        raise TooLarge(f"The model has {len(images)} images; the limit is {limits.max_textures}.")
    image_cache: dict[int, tuple[bytes, tuple[int, int, str]]] = {}

    def image(i: int) -> tuple[bytes, tuple[int, int, str]]:
        if i not in image_cache:
            img = images[i]
            where = f"Image {i}" + (f" '{img['name']}'" if isinstance(img.get("name"), str) else "")
            if "bufferView" in img:
                vi = v._index(img, "bufferView", views, where, "bufferView")
                view = views[vi]
                start = view.get("byteOffset", 0)
                data = buffers[view["buffer"]][start : start + view["byteLength"]]
            else:
                data = load_image(img.get("uri"), where)
            image_cache[i] = (data, v.image_header(data, where, limits))
        return image_cache[i]

    # Every image is checked, used or not: a damaged or oversized one is refused either way.
    for i in range(len(images)):
        image(i)
    out, tex_coords = [], []
    for i, mat in enumerate(v._list(document, "materials")):
        where = f"Material {i}"
        pbr = mat.get("pbrMetallicRoughness", {})
        if not isinstance(pbr, dict):
            raise Invalid(f"{where} has a malformed pbrMetallicRoughness.")
        try:
            color = tuple(float(c) for c in pbr.get("baseColorFactor", [1, 1, 1, 1]))
            metallic = float(pbr.get("metallicFactor", 1.0))
            roughness = float(pbr.get("roughnessFactor", 1.0))
        except (TypeError, ValueError):
            raise Invalid(f"{where} has non-numeric colour or factors.") from None
        if len(color) != 4 or not all(math.isfinite(c) for c in (*color, metallic, roughness)):
            raise Invalid(f"{where} has a malformed baseColorFactor.")
        material = Material(
            name=str(mat.get("name", f"material {i}")),
            base_color=color,
            metallic=min(max(metallic, 0.0), 1.0),
            roughness=min(max(roughness, 0.0), 1.0),
            double_sided=bool(mat.get("doubleSided", False)),
        )
        tex = pbr.get("baseColorTexture")
        if isinstance(tex, dict):
            t = v._index(tex, "index", textures, f"{where}'s baseColorTexture", "texture")
            texture = textures[t]
            source = texture.get("source")
            ext = texture.get("extensions", {})
            if source is None and isinstance(ext, dict):
                source = next(
                    (
                        e.get("source")
                        for e in ext.values()
                        if isinstance(e, dict) and "source" in e
                    ),
                    None,
                )
            if source is not None:
                s = v._index({"source": source}, "source", images, f"Texture {t}", "image")
                data, (w, h, mime) = image(s)
                material.texture, material.texture_mime, material.texture_size = data, mime, (w, h)
        tex_coords.append(tex.get("texCoord", 0) if isinstance(tex, dict) else 0)
        out.append(material)
    return out, tex_coords


# --- OBJ / PLY / STL through trimesh -----------------------------------------------------------


def read_obj(path: Path, limits: Limits) -> Model:
    data = path.read_bytes()
    faces = data.count(b"\nf ") + data.startswith(b"f ")
    if faces > limits.max_triangles:
        raise TooLarge(
            f"The OBJ has {faces:,} faces; the limit is {limits.max_triangles:,} triangles."
        )
    folder = path.parent
    text = data.decode("utf-8", errors="replace")
    for mtl in re.findall(r"^mtllib\s+(.+?)\s*$", text, re.M):
        mtl_path = folder / mtl
        if not mtl_path.is_file():
            raise Invalid(
                f"The OBJ uses the material library '{mtl}', which is missing: upload a "
                "zip with the .obj, its .mtl and its textures."
            )
        mtl_text = mtl_path.read_text("utf-8", errors="replace")
        maps = re.findall(r"^\s*map_Kd\s+(?:-\S+\s+\S+\s+)*(.+?)\s*$", mtl_text, re.M)
        if len(maps) > limits.max_textures:
            raise TooLarge(f"The OBJ has {len(maps)} textures; the limit is {limits.max_textures}.")
        for image in maps:
            image_path = folder / image
            if not image_path.is_file():
                raise Invalid(
                    f"The material library '{mtl}' uses the image '{image}', which is "
                    "missing: include it in the zip."
                )
            v.image_header(image_path.read_bytes(), f"The image '{image}'", limits)
    return _from_trimesh(path, "obj", limits, units=None)


def read_ply(path: Path, limits: Limits) -> Model:
    with path.open("rb") as f:
        head = f.read(65536)
    if not head.startswith(b"ply"):
        raise Invalid("This is not a PLY file: it does not start with 'ply'.")
    end = head.find(b"end_header")
    if end < 0:
        raise Invalid("The PLY header is damaged: 'end_header' is missing.")
    header = head[:end].decode("ascii", errors="replace")
    counts = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^element\s+(\w+)\s+(\d+)", header, re.M)
    }
    nv, nf = counts.get("vertex", 0), counts.get("face", 0)
    if nv > limits.max_vertices:
        raise TooLarge(f"The PLY has {nv:,} vertices; the limit is {limits.max_vertices:,}.")
    if nf > limits.max_triangles:
        raise TooLarge(f"The PLY has {nf:,} faces; the limit is {limits.max_triangles:,}.")
    if "binary" in header.split("\n", 2)[1]:
        body = path.stat().st_size - (end + len(b"end_header\n"))
        minimum = nv * 4 * 3 + nf * (1 + 3)  # three float coordinates, a count and 3 byte indices
        if body < minimum:
            raise Invalid(
                f"The PLY is truncated: its header declares {nv:,} vertices and "
                f"{nf:,} faces (at least {minimum:,} bytes) but only {body:,} follow."
            )
    return _from_trimesh(path, "ply", limits, units=None)


def read_stl(path: Path, limits: Limits) -> Model:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(84)
    if len(head) == 84:
        (count,) = struct.unpack_from("<I", head, 80)
        if 84 + 50 * count == size:
            if count > limits.max_triangles:
                raise TooLarge(
                    f"The STL has {count:,} triangles; the limit is {limits.max_triangles:,}."
                )
            return _from_trimesh(path, "stl", limits, units=None)
    if head.lstrip().startswith(b"solid"):
        data = path.read_bytes()
        count = data.count(b"facet")  # "facet normal" and "endfacet": twice per triangle
        if count // 2 > limits.max_triangles:
            raise TooLarge(
                f"The STL has {count // 2:,} triangles; the limit is {limits.max_triangles:,}."
            )
        if b"endsolid" not in data[-1024:]:
            raise Invalid("The ASCII STL is truncated: it does not end with 'endsolid'.")
        return _from_trimesh(path, "stl", limits, units=None)
    if len(head) < 84:
        raise Invalid(f"The STL is truncated: {size} bytes is shorter than its 84-byte header.")
    (count,) = struct.unpack_from("<I", head, 80)
    raise Invalid(
        f"The binary STL is damaged: its header declares {count:,} triangles "
        f"({84 + 50 * count:,} bytes) but the file has {size:,} bytes."
    )


def _from_trimesh(path: Path, kind: str, limits: Limits, units: str | None) -> Model:
    import trimesh

    loaded = trimesh.load(
        str(path), file_type=kind, force="scene", process=False, maintain_order=True
    )
    parts: list[Part] = []
    materials: list[Material] = []
    for geom in loaded.dump():
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        positions = np.asarray(geom.vertices, np.float64)
        v.require_finite(positions, f"The vertices of the {kind.upper()} file")
        if kind == "stl":  # a triangle soup: share the corners (after the finiteness check)
            geom.merge_vertices()
            positions = np.asarray(geom.vertices, np.float64)
        faces = np.asarray(geom.faces)
        if faces.size and (faces.min() < 0 or faces.max() >= len(positions)):
            raise Invalid(f"The {kind.upper()} file's faces point at vertices that do not exist.")
        uvs = colors = None
        material = Material(name=f"{kind} material")
        visual = geom.visual
        if (
            visual.kind == "texture"
            and getattr(visual, "uv", None) is not None
            and len(visual.uv) == len(positions)
        ):
            uv = np.asarray(visual.uv, np.float32)
            uvs = np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1)  # trimesh: origin bottom-left
            v.require_finite(uvs, f"The texture coordinates of the {kind.upper()} file")
            material = _material_from_trimesh(visual.material, limits)
        elif visual.kind == "vertex":
            colors = np.asarray(visual.vertex_colors, np.uint8)[:, :4]
        elif visual.kind == "face":
            # Faces with their own colour: give each corner its own vertex to keep them exact.
            fc = np.asarray(visual.face_colors, np.uint8)
            positions = positions[faces.reshape(-1)]
            colors = np.repeat(fc, 3, axis=0)
            faces = np.arange(len(positions), dtype=np.uint32).reshape(-1, 3)
        materials.append(material)
        parts.append(
            Part(
                positions.astype(np.float32),
                faces.astype(np.uint32),
                len(materials) - 1,
                uvs,
                colors,
                kind,
            )
        )
    model = merge_by_material(parts, materials)
    model.meta["units"] = units  # none of these formats says what its unit is
    model.meta["up"] = None
    return model


def _material_from_trimesh(mat, limits: Limits) -> Material:
    import io

    image = getattr(mat, "image", None) or getattr(mat, "baseColorTexture", None)
    color = getattr(mat, "diffuse", None)
    if color is None:
        color = getattr(mat, "baseColorFactor", None)
    base = (1.0, 1.0, 1.0, 1.0)
    if color is not None:
        c = np.asarray(color, np.float64).reshape(-1)
        if c.max() > 1.0:
            c = c / 255.0
        base = tuple(float(x) for x in (*c[:3], c[3] if len(c) > 3 else 1.0))
    material = Material(name=str(getattr(mat, "name", None) or "material"), base_color=base)
    if image is not None:
        if image.width * image.height > limits.max_texture_pixels:
            raise TooLarge(
                f"A texture is {image.width}×{image.height} pixels; the limit is "
                f"{limits.max_texture_pixels:,}."
            )
        out = io.BytesIO()
        image.convert("RGBA" if "A" in image.mode else "RGB").save(out, "PNG")
        material.texture, material.texture_mime = out.getvalue(), "image/png"
        material.texture_size = (image.width, image.height)
    return material
