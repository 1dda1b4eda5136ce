"""Put a model in the viewer's frame: metres, +Y up, standing on the ground at the origin.

glTF says its units (metres) and up axis (+Y). OBJ, PLY and STL say neither, so both are
guessed and the guess is written into the stats in words, so a librarian can see what was
assumed: scanner and CAD software mostly write millimetres, and STL (a printing format) is +Z up.
"""

from __future__ import annotations

import numpy as np

from assets.model import Model, Part

# A heritage object is between a coin (~2 cm) and a large statue (~5 m). A size in "units" that
# would be absurd in metres but plausible in millimetres or centimetres is taken as such.
UNIT_SCALE = {"m": 1.0, "cm": 0.01, "mm": 0.001}


def guess_units(extent: float) -> tuple[str, str]:
    """(unit, reason) for a model whose largest dimension is `extent` in its own units."""
    if extent > 50:
        return "mm", f"largest dimension is {extent:.4g} units, plausible only as millimetres"
    if extent > 8:
        return "cm", f"largest dimension is {extent:.4g} units, plausible as centimetres"
    return "m", f"largest dimension is {extent:.4g} units, plausible as metres"


def normalise(model: Model, *, up: str | None = None, units: str | None = None) -> Model:
    """Scale to metres, rotate to +Y up, centre x/z on 0 with the lowest point at y = 0."""
    meta = dict(model.meta)
    notes = []
    declared_units = units or meta.get("units")
    if declared_units in UNIT_SCALE:
        unit = declared_units
        notes.append(f"units: {unit} ({'declared by the format' if not units else 'as given'})")
    else:
        lo, hi = model.bounds()
        unit, reason = guess_units(float((hi - lo).max()))
        notes.append(f"units: {unit} (guessed: {reason})")
    scale = UNIT_SCALE[unit]
    fmt = meta.get("source_format")
    declared_up = up or meta.get("up")
    if declared_up is None:
        declared_up = "+Z" if fmt == "stl" else "+Y"
        why = "STL is a printing format, Z up" if fmt == "stl" else "the common export default"
        notes.append(f"up axis: {declared_up} (assumed: {why})")
    else:
        notes.append(f"up axis: {declared_up}")
    rotation = np.eye(3)
    if declared_up == "+Z":  # (x, y, z) -> (x, z, -y): a proper rotation of -90° about X
        rotation = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64)
    matrix = rotation * scale
    parts = []
    for p in model.parts:
        pos = p.positions.astype(np.float64) @ matrix.T
        parts.append(Part(pos, p.faces, p.material, p.uvs, p.colors, p.name))
    lo = np.min([q.positions.min(0) for q in parts], axis=0)
    hi = np.max([q.positions.max(0) for q in parts], axis=0)
    shift = np.array([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])
    for q in parts:
        q.positions = (q.positions + shift).astype(np.float32)
    meta.update(
        units="m",
        up="+Y",
        source_units=unit,
        normalisation=notes,
        transform=np.vstack([np.hstack([matrix, shift[:, None]]), [0, 0, 0, 1]]).tolist(),
    )
    return Model(parts, model.materials, meta)


def stats(model: Model) -> dict:
    lo, hi = model.bounds()
    textures = []
    for m in model.materials:
        if m.texture_size is not None:
            textures.append(
                {"width": m.texture_size[0], "height": m.texture_size[1], "mime": m.texture_mime}
            )
    return {
        "triangles": int(model.triangles),
        "vertices": int(model.vertices),
        "materials": len(model.materials),
        "textures": textures,
        "bounds_m": {
            "min": [round(float(x), 6) for x in lo],
            "max": [round(float(x), 6) for x in hi],
            "size": [round(float(x), 6) for x in hi - lo],
        },
        "has_uvs": any(p.uvs is not None for p in model.parts),
        "has_colors": any(p.colors is not None for p in model.parts),
        "normalisation": model.meta.get("normalisation", []),
    }
