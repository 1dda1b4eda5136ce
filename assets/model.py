"""The in-memory model every stage passes on: triangle parts grouped by material.

Whatever the upload's format, ingest flattens it to world space (node transforms applied) and
merges primitives that share a material, so later stages deal with a handful of parts, each
plain arrays. `save`/`load` keep a model in a work directory between pipeline stages (which may
run in different processes), as uncompressed .npz plus a JSON document and the texture files
exactly as uploaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Material:
    name: str = "material"
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 0.0
    roughness: float = 0.9
    double_sided: bool = False
    texture: bytes | None = field(default=None, repr=False)  # encoded image, as uploaded
    texture_mime: str | None = None
    texture_size: tuple[int, int] | None = None  # (width, height) read from the image header

    def key(self) -> tuple:
        """Two materials with the same key render the same, so their parts may be merged."""
        return (
            self.base_color,
            self.metallic,
            self.roughness,
            self.double_sided,
            hash(self.texture) if self.texture is not None else None,
        )


@dataclass
class Part:
    positions: np.ndarray  # (n, 3) float32
    faces: np.ndarray  # (m, 3) uint32
    material: int = 0
    uvs: np.ndarray | None = None  # (n, 2) float32, glTF convention (v down from the top)
    colors: np.ndarray | None = None  # (n, 4) uint8, linear RGBA as glTF COLOR_0
    name: str = "part"

    @property
    def triangles(self) -> int:
        return len(self.faces)


@dataclass
class Model:
    parts: list[Part]
    materials: list[Material]
    meta: dict = field(default_factory=dict)  # what ingest and normalise learnt (units, up axis)

    @property
    def triangles(self) -> int:
        return sum(p.triangles for p in self.parts)

    @property
    def vertices(self) -> int:
        return sum(len(p.positions) for p in self.parts)

    def bounds(self) -> np.ndarray:
        lo = np.min([p.positions.min(0) for p in self.parts if len(p.positions)], axis=0)
        hi = np.max([p.positions.max(0) for p in self.parts if len(p.positions)], axis=0)
        return np.array([lo, hi], dtype=np.float64)


def merge_by_material(parts: list[Part], materials: list[Material]) -> Model:
    """One part per distinct material; attributes missing on some parts get neutral values."""
    keys: dict[tuple, int] = {}
    new_materials: list[Material] = []
    groups: dict[int, list[Part]] = {}
    for part in parts:
        if part.triangles == 0:
            continue
        material = materials[part.material] if part.material < len(materials) else Material()
        index = keys.setdefault(material.key(), len(new_materials))
        if index == len(new_materials):
            new_materials.append(material)
        groups.setdefault(index, []).append(part)
    merged = []
    for index, group in groups.items():
        merged.append(_concat(group, index))
    return Model(merged, new_materials)


def _concat(group: list[Part], material: int) -> Part:
    if len(group) == 1:
        p = group[0]
        return Part(p.positions, p.faces, material, p.uvs, p.colors, p.name)
    has_uv = any(p.uvs is not None for p in group)
    has_color = any(p.colors is not None for p in group)
    offset = 0
    faces = []
    for p in group:
        faces.append(p.faces.astype(np.uint32) + np.uint32(offset))
        offset += len(p.positions)
    uvs = colors = None
    if has_uv:
        uvs = np.concatenate(
            [
                p.uvs if p.uvs is not None else np.zeros((len(p.positions), 2), np.float32)
                for p in group
            ]
        )
    if has_color:
        colors = np.concatenate(
            [
                p.colors if p.colors is not None else np.full((len(p.positions), 4), 255, np.uint8)
                for p in group
            ]
        )
    return Part(
        np.concatenate([p.positions for p in group]).astype(np.float32),
        np.concatenate(faces),
        material,
        uvs,
        colors,
        group[0].name,
    )


# --- Persistence between stages --------------------------------------------------------------


def save(model: Model, folder: str | Path) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    parts = []
    for i, p in enumerate(model.parts):
        arrays[f"p{i}_positions"] = p.positions
        arrays[f"p{i}_faces"] = p.faces
        if p.uvs is not None:
            arrays[f"p{i}_uvs"] = p.uvs
        if p.colors is not None:
            arrays[f"p{i}_colors"] = p.colors
        parts.append({"material": p.material, "name": p.name})
    np.savez(folder / "arrays.npz", **arrays)
    materials = []
    for i, m in enumerate(model.materials):
        d = asdict(m)
        d.pop("texture")
        if m.texture is not None:
            name = f"texture{i}.bin"
            (folder / name).write_bytes(m.texture)
            d["texture_file"] = name
        materials.append(d)
    doc = {"parts": parts, "materials": materials, "meta": model.meta}
    (folder / "model.json").write_text(json.dumps(doc))


def load(folder: str | Path) -> Model:
    folder = Path(folder)
    doc = json.loads((folder / "model.json").read_text())
    with np.load(folder / "arrays.npz") as arrays:
        parts = []
        for i, info in enumerate(doc["parts"]):
            parts.append(
                Part(
                    arrays[f"p{i}_positions"],
                    arrays[f"p{i}_faces"],
                    info["material"],
                    arrays.get(f"p{i}_uvs"),
                    arrays.get(f"p{i}_colors"),
                    info["name"],
                )
            )
    materials = []
    for d in doc["materials"]:
        file = d.pop("texture_file", None)
        d["base_color"] = tuple(d["base_color"])
        if d.get("texture_size") is not None:
            d["texture_size"] = tuple(d["texture_size"])
        materials.append(Material(**d, texture=(folder / file).read_bytes() if file else None))
    return Model(parts, materials, doc.get("meta", {}))
