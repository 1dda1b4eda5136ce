"""Poster: a framed, shaded, textured PNG with a transparent background, drawn without a GPU."""

from __future__ import annotations

import io

import numpy as np
import trimesh
from PIL import Image

from assets import normalise, thumbnail
from assets.model import Material, Model, Part
from tests.assets import asset_synth as synth


def scan(textured: bool) -> Model:
    v, f, uv = synth.scan_surface(60_000)
    material = Material()
    part = Part(v, f, 0, None, synth.vertex_colours(v))
    if textured:
        material = Material(
            texture=synth.png_bytes(synth.texture_image(256)), texture_size=(256, 256)
        )
        part = Part(v, f, 0, uv)
    return normalise.normalise(Model([part], [material], {"units": "m", "up": "+Y"}))


def test_poster_is_a_framed_png_on_transparent_background():
    data = thumbnail.png(scan(textured=True))
    img = Image.open(io.BytesIO(data))
    assert img.size == (512, 512) and img.mode == "RGBA"
    a = np.asarray(img)
    alpha = a[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # background
    assert alpha[256, 256] == 255  # the object is in the middle
    rows, cols = np.nonzero(alpha > 0)
    # Framed: the object fills the frame along its longest side, inside a small margin.
    assert rows.min() >= 10 and rows.max() <= 501 and cols.min() >= 10 and cols.max() <= 501
    assert max(rows.max() - rows.min(), cols.max() - cols.min()) > 400


def test_texture_and_shading_are_visible():
    a = np.asarray(Image.open(io.BytesIO(thumbnail.png(scan(textured=True)))))
    inside = a[a[..., 3] == 255][:, :3].astype(float)
    assert inside.std(axis=0).min() > 15  # texture detail, not a flat fill
    plain = np.asarray(Image.open(io.BytesIO(thumbnail.png(scan(textured=False)))))
    inside_plain = plain[plain[..., 3] == 255][:, :3].astype(float)
    # Vertex colours encode position: red grows with x across the picture.
    assert inside_plain[:, 0].std() > 20


def test_nearer_surfaces_hide_farther_ones():
    # Two boxes, a red one in front of a blue one along the view: only red may show where they
    # overlap on screen.
    near = trimesh.creation.box(extents=[0.2, 0.2, 0.2])
    far = trimesh.creation.box(extents=[0.4, 0.4, 0.05])
    far.apply_translation([0, 0, -0.5])
    view = thumbnail._view_matrix()
    # Place the far box behind the near one as seen by the camera.
    far.apply_transform(np.vstack([np.hstack([view.T, [[0], [0], [0]]]), [0, 0, 0, 1]]))
    parts = [
        Part(np.asarray(near.vertices, np.float32), np.asarray(near.faces, np.uint32), 0),
        Part(np.asarray(far.vertices, np.float32), np.asarray(far.faces, np.uint32), 1),
    ]
    model = Model(parts, [Material(base_color=(1, 0, 0, 1)), Material(base_color=(0, 0, 1, 1))])
    a = thumbnail.render(model, 256)
    centre = a[128, 128]
    assert centre[0] > 100 and centre[2] < 30
