"""A poster PNG drawn on the CPU: a vectorised z-buffer rasteriser in numpy.

No GPU and no display exist on the server, so triangles are rasterised in bulk: each triangle's
screen bounding box is covered with a small grid of candidate pixels (triangles grouped by box
size so the grids stay small), barycentric coordinates decide coverage, and `np.maximum.at`
keeps the nearest depth per pixel. The winning fragments are shaded with the interpolated
texture colour (or vertex colour, or material colour) and a soft two-light Lambert term, drawn at
twice the size and averaged down for anti-aliased edges, on a transparent background.
"""

from __future__ import annotations

import io
import math

import cv2
import numpy as np
from PIL import Image

from assets.compress import smooth_normals
from assets.model import Model

SIZE = 512
SUPERSAMPLE = 2
MARGIN = 0.06
YAW_DEG, PITCH_DEG = 35.0, 20.0  # a three-quarter view from slightly above, as a museum photo
MAX_CANDIDATES = 6_000_000  # per batch of fragments, bounds memory (~200 MB)
LIGHTS = [(np.array([-0.4, 0.6, 0.7]), 0.65), (np.array([0.5, 0.2, 0.8]), 0.25)]
AMBIENT = 0.28


def _view_matrix() -> np.ndarray:
    y, p = math.radians(YAW_DEG), math.radians(PITCH_DEG)
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    return rx @ ry


def render(model: Model, size: int = SIZE) -> np.ndarray:
    """RGBA uint8 image (size × size) of the model."""
    big = size * SUPERSAMPLE
    view = _view_matrix()
    parts = [p for p in model.parts if len(p.faces)]
    cam = [p.positions.astype(np.float64) @ view.T for p in parts]
    allv = np.concatenate(cam)
    lo, hi = allv.min(0), allv.max(0)
    extent = max(hi[0] - lo[0], hi[1] - lo[1], 1e-9)
    scale = big * (1 - 2 * MARGIN) / extent
    centre = (lo + hi) / 2
    zbuf = np.full(big * big, -np.inf)
    frags = []  # per part: (pixel, depth, face, w1, w2)
    for part, v in zip(parts, cam, strict=True):
        sx = (v[:, 0] - centre[0]) * scale + big / 2
        sy = big / 2 - (v[:, 1] - centre[1]) * scale
        frags.append(_rasterise(sx, sy, v[:, 2], part.faces.astype(np.int64), big, zbuf))
    rgba = np.zeros((big * big, 4), np.float32)
    for part, (pix, depth, face, w1, w2) in zip(parts, frags, strict=True):
        win = depth >= zbuf[pix]
        pix, face, w1, w2 = pix[win], face[win], w1[win], w2[win]
        if not len(pix):
            continue
        w0 = 1 - w1 - w2
        f = part.faces[face].astype(np.int64)
        normals = smooth_normals(part.positions, part.faces) @ view.T

        def interp(attr, f=f, w0=w0, w1=w1, w2=w2):
            return (
                attr[f[:, 0]] * w0[:, None]
                + attr[f[:, 1]] * w1[:, None]
                + attr[f[:, 2]] * w2[:, None]
            )

        n = interp(normals)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        n *= np.sign(n[:, 2:3] + 1e-12)  # light the side we see, for open or double-sided parts
        light = np.full(len(n), AMBIENT)
        for direction, strength in LIGHTS:
            light += strength * np.clip(n @ (direction / np.linalg.norm(direction)), 0, 1)
        material = model.materials[part.material]
        color = np.tile(np.array(material.base_color[:3], np.float32), (len(pix), 1))
        if material.texture is not None and part.uvs is not None:
            color *= _sample(material.texture, interp(part.uvs.astype(np.float64)))
        if part.colors is not None:
            color *= interp(part.colors[:, :3].astype(np.float64) / 255.0)
        rgba[pix, :3] = np.clip(color * light[:, None], 0, 1)
        rgba[pix, 3] = 1.0
    img = rgba.reshape(big, big, 4)
    # Average premultiplied colour so the transparent background does not darken the edges.
    img[..., :3] *= img[..., 3:4]
    small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    alpha = small[..., 3:4]
    small[..., :3] = np.where(alpha > 0, small[..., :3] / np.maximum(alpha, 1e-6), 0)
    return np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)


def _rasterise(sx, sy, depth, faces, size, zbuf):
    """Fragments of all front-facing triangles; updates zbuf with the nearest depth per pixel."""
    x, y, z = sx[faces], sy[faces], depth[faces]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    # Screen y points down, so a counter-clockwise (front) face has negative area here.
    front = np.nonzero(area < -1e-12)[0]
    x0 = np.floor(x[front].min(1)).astype(np.int64)
    y0 = np.floor(y[front].min(1)).astype(np.int64)
    span = np.maximum(np.ceil(x[front].max(1)) - x0, np.ceil(y[front].max(1)) - y0).astype(np.int64)
    out = []
    s = 1
    remaining = np.ones(len(front), bool)
    while remaining.any():
        group = np.nonzero(remaining & (span <= s))[0]
        remaining[group] = False
        batch = max(1, MAX_CANDIDATES // (s * s))
        for b in range(0, len(group), batch):
            g = group[b : b + batch]
            out.append(_cover(front[g], x0[g], y0[g], s, x, y, z, area, size, zbuf))
        s *= 2
    if not out:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty.astype(np.int64), empty, empty
    return tuple(np.concatenate(c) for c in zip(*out, strict=True))


def _cover(tri, x0, y0, s, x, y, z, area, size, zbuf):
    dy, dx = np.divmod(np.arange(s * s), s)
    px = x0[:, None] + dx[None, :]
    py = y0[:, None] + dy[None, :]
    cx, cy = px + 0.5, py + 0.5
    X, Y = x[tri], y[tri]
    inv = 1.0 / area[tri][:, None]
    w1 = (
        (cx - X[:, 0:1]) * (Y[:, 2:3] - Y[:, 0:1]) - (X[:, 2:3] - X[:, 0:1]) * (cy - Y[:, 0:1])
    ) * inv
    w2 = (
        (X[:, 1:2] - X[:, 0:1]) * (cy - Y[:, 0:1]) - (cx - X[:, 0:1]) * (Y[:, 1:2] - Y[:, 0:1])
    ) * inv
    inside = (
        (w1 >= 0) & (w2 >= 0) & (w1 + w2 <= 1) & (px >= 0) & (py >= 0) & (px < size) & (py < size)
    )
    rows, cols = np.nonzero(inside)
    w1, w2 = w1[rows, cols], w2[rows, cols]
    Z = z[tri[rows]]
    depth = Z[:, 0] * (1 - w1 - w2) + Z[:, 1] * w1 + Z[:, 2] * w2
    pix = py[rows, cols] * size + px[rows, cols]
    np.maximum.at(zbuf, pix, depth)
    return pix, depth, tri[rows], w1, w2


def _sample(texture: bytes, uv: np.ndarray) -> np.ndarray:
    img = Image.open(io.BytesIO(texture)).convert("RGB")
    if max(img.size) > 1024:
        img.thumbnail((1024, 1024))
    arr = np.asarray(img, np.float32) / 255.0
    h, w = arr.shape[:2]
    u = np.mod(uv[:, 0], 1.0) * (w - 1)
    v = np.mod(uv[:, 1], 1.0) * (h - 1)  # glTF: v = 0 is the top row of the image
    return arr[np.round(v).astype(np.int64), np.round(u).astype(np.int64)]


def png(model: Model, size: int = SIZE) -> bytes:
    out = io.BytesIO()
    Image.fromarray(render(model, size), "RGBA").save(out, "PNG", optimize=True)
    return out.getvalue()
