"""The visitor page in real Chromium, with a fake camera showing the demo drum's marker."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ar_markers.synthetic import project_corners
from tests.e2e.pages.conftest import (
    CLIP_HEIGHT,
    CLIP_WIDTH,
    DRUM_MARKER,
    axe_violations,
    camera_scene,
)

pytestmark = pytest.mark.e2e

DRUM = "trong-dong-ngoc-lu"


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_camera_finds_the_drum_marker_through_the_server_and_draws_the_model_on_it(pages):
    page = pages.open("/visit", lang="en")
    page.get_by_role("button", name="Start camera").click()
    stage = page.locator("#stage")
    # The model is on the marker only after a frame went to the server, came back with the
    # drum's marker, its pose and the manifest, and the scene file was decoded.
    page.locator("#stage[data-model='on-marker']").wait_for(timeout=30_000)
    page.locator("#exhibit-title").filter(has_text="The Ngọc Lũ bronze drum").wait_for()
    box = stage.bounding_box()
    with_model = _pixels(stage.screenshot())
    pages.screenshot(page, "camera-with-model")

    # The same view with the drawing hidden is the camera picture alone.
    page.locator("#overlay").evaluate("canvas => canvas.style.visibility = 'hidden'")
    camera_only = _pixels(stage.screenshot())
    page.locator("#overlay").evaluate("canvas => canvas.style.visibility = 'visible'")

    # Where the marker is in the picture, in screenshot pixels.
    corners = project_corners(DRUM_MARKER, camera_scene().camera())
    sx, sy = with_model.shape[1] / CLIP_WIDTH, with_model.shape[0] / CLIP_HEIGHT
    x0, y0 = (corners.min(axis=0) * (sx, sy)).astype(int)
    x1, y1 = (corners.max(axis=0) * (sx, sy)).astype(int)
    diff = np.abs(with_model - camera_only).sum(axis=2)
    over_marker = diff[y0:y1, x0:x1]
    assert (over_marker > 60).mean() > 0.5, "the model does not cover the marker"
    # … and not drawn somewhere else: the picture's far corners are untouched.
    h, w = diff.shape
    for corner in (diff[: h // 8, : w // 8], diff[-h // 8 :, -w // 8 :], diff[: h // 8, -w // 8 :]):
        assert (corner > 60).mean() < 0.02
    assert box and box["width"] > 300

    # Frames keep flowing, never more than one waiting for its answer (sent - answered <= 1).
    def counters() -> list[int]:
        return [int(v) for v in stage.get_attribute("data-frames").split("/")]

    first = counters()
    page.wait_for_function(
        f"() => +document.getElementById('stage').dataset.frames.split('/')[0] >= {first[0] + 5}"
    )
    sent, answered, found = counters()
    assert sent - answered <= 1
    assert found >= answered - 1  # the still camera shows the marker in every frame
    assert page.locator("#status").get_attribute("data-state") == "status.found"


def test_language_switch_changes_texts_and_the_exhibit_and_is_remembered(pages):
    page = pages.open(f"/visit/{DRUM}", lang="vi")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.locator("#exhibit-title").filter(has_text="Trống đồng Ngọc Lũ").wait_for()
    page.locator("#viewer[data-model='visible']").wait_for(timeout=30_000)
    pages.screenshot(page, "exhibit-vi")

    page.get_by_role("button", name="English").click()
    page.locator("#exhibit-title").filter(has_text="The Ngọc Lũ bronze drum").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("button", name="View in 3D / AR").is_visible()
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"

    # Remembered: the next page of this visitor opens in English.
    page.goto("/visit")
    page.get_by_role("button", name="Start camera").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"/visit/{DRUM}")
    page.locator("#exhibit-title").filter(has_text="The Ngọc Lũ bronze drum").wait_for()
    pages.screenshot(page, "exhibit-en")
    assert axe_violations(page) == []


def test_visitor_page_has_no_accessibility_violations(pages):
    page = pages.open("/visit", lang="vi")
    page.locator("#exhibits li a").first.wait_for()
    assert axe_violations(page) == []
    pages.screenshot(page, "visit-vi")


def test_view_in_3d_fallback_shows_model_viewer_with_our_decoder(pages):
    page = pages.open(f"/visit/{DRUM}", lang="en")
    page.locator("#viewer[data-model='visible']").wait_for(timeout=30_000)
    page.get_by_role("button", name="View in 3D / AR").click()
    viewer = page.locator("dialog model-viewer")
    viewer.wait_for()
    page.wait_for_function(
        "() => document.querySelector('dialog model-viewer')?.loaded === true", timeout=60_000
    )
    assert "Ngọc Lũ" in (viewer.get_attribute("alt") or "")
    pages.screenshot(page, "model-viewer")
    page.get_by_role("button", name="Close").click()
    assert not page.locator("dialog").is_visible()
