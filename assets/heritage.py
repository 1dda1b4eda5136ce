"""Procedural heritage objects for the demo library and for tests.

Real scans cannot be shipped, so the demo builds recognisable stand-ins from arrays: a Đông Sơn
bronze drum (flared foot, waist, bulging shoulder, handles, a tympanum with a twelve-pointed star
and concentric decorated rings) and a stone doctors' stele on a turtle, as at the Temple of
Literature. Both are vertex-coloured, in metres, +Y up, standing on y = 0.
"""

from __future__ import annotations

import numpy as np
import trimesh

BRONZE = np.array([0.62, 0.46, 0.26])
BRONZE_DARK = np.array([0.36, 0.26, 0.15])
PATINA = np.array([0.33, 0.52, 0.43])
STONE = np.array([0.58, 0.57, 0.53])
STONE_DARK = np.array([0.30, 0.29, 0.27])


def _rgba(rgb: np.ndarray) -> np.ndarray:
    rgb = np.clip(rgb, 0.0, 1.0)
    alpha = np.ones((len(rgb), 1))
    return (np.hstack([rgb, alpha]) * 255).round().astype(np.uint8)


def _grid_faces(rows: int, cols: int, *, wrap: bool) -> np.ndarray:
    """Two triangles per cell of a rows×cols vertex grid (counter-clockwise seen from outside)."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols if wrap else cols - 1), indexing="ij")
    a = r * cols + c
    b = r * cols + (c + 1) % cols
    d = (r + 1) * cols + c
    e = (r + 1) * cols + (c + 1) % cols
    return np.concatenate([np.stack([a, d, b], -1), np.stack([b, d, e], -1)]).reshape(-1, 3)


def _patina(xyz: np.ndarray, seed: int) -> np.ndarray:
    """Smooth pseudo-random patina weight in [0, 1] from position (no texture needed)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(6, 14, size=(4, 3))
    phase = rng.uniform(0, 2 * np.pi, size=4)
    wave = sum(np.sin(xyz @ freq[i] + phase[i]) for i in range(4)) / 4
    return np.clip((wave + 0.2) * 1.6, 0, 1)[:, None]


def dong_son_drum(segments: int = 160, rings: int = 72) -> trimesh.Trimesh:
    """A bronze drum ~0.8 m across and 0.63 m tall; about 40 k triangles at the defaults."""
    # (radius, height) from the foot to the rim of the tympanum.
    profile = np.array(
        [
            [0.400, 0.000],
            [0.392, 0.030],
            [0.360, 0.110],
            [0.335, 0.200],
            [0.330, 0.300],
            [0.336, 0.360],
            [0.372, 0.420],
            [0.405, 0.480],
            [0.412, 0.540],
            [0.404, 0.600],
            [0.396, 0.630],
        ]
    )
    # Resample the profile finely so the decorative bands have vertices to live on.
    t = np.linspace(0, 1, 90)
    s = np.linspace(0, 1, len(profile))
    radius = np.interp(t, s, profile[:, 0])
    height = np.interp(t, s, profile[:, 1])
    theta = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ct, st = np.cos(theta), np.sin(theta)

    body_v = np.stack(
        [
            (radius[:, None] * ct[None, :]).ravel(),
            np.repeat(height, segments),
            (radius[:, None] * st[None, :]).ravel(),
        ],
        -1,
    )
    body_f = _grid_faces(len(t), segments, wrap=True)[:, ::-1]
    band = np.repeat(height, segments)
    ang = np.tile(theta, len(t))
    # Decorated bands: rings of ticks on the shoulder, vertical panels on the waist.
    deco = (
        ((band > 0.44) & (band < 0.56) & (np.sin(ang * 48) > 0.3))
        | ((band > 0.22) & (band < 0.34) & (np.abs(np.sin(ang * 8)) < 0.12))
        | (np.abs(band - 0.40) < 0.006)
        | (np.abs(band - 0.58) < 0.006)
    )
    body_c = np.where(deco[:, None], BRONZE_DARK, BRONZE)
    body_c = body_c * (1 - 0.7 * _patina(body_v, 1)) + PATINA * 0.7 * _patina(body_v, 1)

    # Tympanum: a polar grid, so the star and rings are drawn with vertex colours.
    top_r = np.linspace(0, profile[-1, 0], rings)
    top_v = np.stack(
        [
            (top_r[:, None] * ct[None, :]).ravel(),
            np.full(rings * segments, profile[-1, 1]),
            (top_r[:, None] * st[None, :]).ravel(),
        ],
        -1,
    )
    top_f = _grid_faces(rings, segments, wrap=True)
    rr = np.repeat(top_r, segments)
    aa = np.tile(theta, rings)
    star = rr < 0.025 + 0.07 * np.abs(np.cos(aa * 6)) ** 6
    ring_edges = np.abs(((rr - 0.10) % 0.045) - 0.0225) > 0.019
    birds = (rr > 0.25) & (rr < 0.31) & (np.sin(aa * 18 + rr * 40) > 0.55)
    hatch = (rr > 0.14) & (rr < 0.19) & (np.sin(aa * 90) > 0.2)
    lit = star | ((rr > 0.10) & ring_edges) | birds | hatch
    top_c = np.where(lit[:, None], BRONZE * 1.15, BRONZE_DARK)
    top_c = top_c * (1 - 0.5 * _patina(top_v, 2)) + PATINA * 0.5 * _patina(top_v, 2)

    # The foot is closed so that the drum is one solid (a printable replica needs that).
    foot_centre = len(body_v) + len(top_v)
    foot_v = np.array([[0.0, 0.0, 0.0]])
    foot_f = np.stack(
        [np.full(segments, foot_centre), np.arange(segments), (np.arange(segments) + 1) % segments],
        -1,
    )
    vertices = np.vstack([body_v, top_v, foot_v])
    faces = np.vstack([body_f, top_f + len(body_v), foot_f])
    colors = np.vstack([body_c, top_c, BRONZE_DARK[None, :]])
    drum = trimesh.Trimesh(vertices, faces, vertex_colors=_rgba(colors), process=True)
    # Faces point outward (a positive volume): viewers cull back faces and slicers need it.
    if drum.volume < 0:
        drum.invert()

    # Four pairs of handles on the shoulder, as on the Ngọc Lũ drum.
    parts = [drum]
    for k in range(4):
        for offset in (-0.09, 0.09):
            a = k * np.pi / 2 + np.pi / 4 + offset
            handle = trimesh.creation.torus(
                major_radius=0.035, minor_radius=0.009, major_sections=24, minor_sections=10
            )
            handle.apply_transform(trimesh.transformations.rotation_matrix(a, [0, 1, 0]))
            handle.apply_translation([0.40 * np.cos(a), 0.49, -0.40 * np.sin(a)])
            handle.visual.vertex_colors = _rgba(np.tile(BRONZE_DARK, (len(handle.vertices), 1)))
            parts.append(handle)
    return trimesh.util.concatenate(parts)


def doctors_stele(
    width: float = 0.62, height: float = 1.05, depth: float = 0.14, nx: int = 64, ny: int = 128
) -> trimesh.Trimesh:
    """A stone stele with a rounded top, carved text columns, standing on a stone turtle."""
    lift = 0.22  # the turtle's back carries the stele
    x = np.linspace(-width / 2, width / 2, nx)
    arch = np.sqrt(np.clip((width / 2) ** 2 - x**2, 0, None)) * 0.35
    top = height + arch
    t = np.linspace(0, 1, ny)
    yy = lift + t[:, None] * top[None, :]
    xx = np.broadcast_to(x[None, :], yy.shape)
    front = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, depth / 2)], -1)
    back = front * [1, 1, -1]
    grid = _grid_faces(ny, nx, wrap=False)
    front_f = grid[:, ::-1]
    back_f = grid + len(front)

    # Side walls join the outline of the front to the outline of the back.
    outline = np.concatenate(
        [
            np.arange(nx),  # bottom, left to right
            np.arange(1, ny) * nx + nx - 1,  # right side, upwards
            (ny - 1) * nx + np.arange(nx - 2, -1, -1),  # top, right to left
            np.arange(ny - 2, 0, -1) * nx,  # left side, downwards
        ]
    )
    nxt = np.roll(outline, -1)
    off = len(front)
    side_f = np.concatenate(
        [np.stack([outline, nxt, nxt + off], -1), np.stack([outline, nxt + off, outline + off], -1)]
    )

    # Carved text: columns of characters (read top to bottom) inside a frame, a sun in the arch.
    u = (xx.ravel() + width / 2) / width
    v = (yy.ravel() - lift) / height
    col = np.floor(u * 14).astype(int)
    row = np.floor(v * 24).astype(int)
    rng = np.random.default_rng(7)
    glyph = rng.random((15, 26)) > 0.45
    in_text = (u > 0.1) & (u < 0.9) & (v > 0.08) & (v < 0.82) & (col % 2 == 1)
    carved = in_text & glyph[col.clip(0, 14), row.clip(0, 25)]
    frame = (np.abs(u - 0.05) < 0.01) | (np.abs(u - 0.95) < 0.01) | (np.abs(v - 0.04) < 0.006)
    sun = np.hypot(u - 0.5, v - 1.02) < 0.07
    front_c = np.where((carved | frame | sun)[:, None], STONE_DARK, STONE)
    front_c = front_c * (0.9 + 0.1 * _patina(front, 3))
    back_c = np.tile(STONE * 0.95, (len(back), 1))
    slab = trimesh.Trimesh(
        np.vstack([front, back]),
        np.vstack([front_f, back_f, side_f]),
        vertex_colors=_rgba(np.vstack([front_c, back_c])),
        process=True,
    )
    trimesh.repair.fix_normals(slab)

    turtle = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
    turtle.vertices *= [0.34, 0.16, 0.48]
    turtle.vertices[:, 1] = np.maximum(turtle.vertices[:, 1], -0.06) + 0.06
    head = trimesh.creation.icosphere(subdivisions=3, radius=0.08)
    head.vertices *= [0.8, 0.7, 1.2]
    head.apply_translation([0, 0.12, 0.5])
    for part, seed in ((turtle, 4), (head, 5)):
        part.visual.vertex_colors = _rgba(
            STONE_DARK * 1.3 * (0.85 + 0.15 * _patina(part.vertices, seed))
        )
    return trimesh.util.concatenate([slab, turtle, head])


def export_glb(mesh: trimesh.Trimesh, *, metallic: float = 0.0, roughness: float = 0.75) -> bytes:
    """GLB of a vertex-coloured mesh with an explicit material.

    Without a material glTF viewers apply the default one (fully metallic), which renders a
    vertex-coloured mesh almost black.
    """
    import pygltflib

    gltf = pygltflib.GLTF2.load_from_bytes(mesh.export(file_type="glb"))
    gltf.materials = [
        pygltflib.Material(
            name="surface",
            pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
                baseColorFactor=[1.0, 1.0, 1.0, 1.0],
                metallicFactor=metallic,
                roughnessFactor=roughness,
            ),
            doubleSided=False,
        )
    ]
    for gmesh in gltf.meshes:
        for primitive in gmesh.primitives:
            primitive.material = 0
    return b"".join(gltf.save_to_bytes())
