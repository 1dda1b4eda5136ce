"""The curator studio: a scan goes in, an exhibit comes out, and a visitor sees it."""

from __future__ import annotations

import uuid

import pytest

from assets import heritage
from tests.e2e.pages.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.e2e


def test_curator_uploads_a_glb_publishes_it_and_a_visitor_then_sees_it(pages, tmp_path):
    scan = tmp_path / "stele-scan.glb"
    scan.write_bytes(heritage.export_glb(heritage.doctors_stele()))
    slug = f"bia-moi-{uuid.uuid4().hex[:6]}"

    studio = pages.open("/curator", lang="en", viewport=(1200, 1000))
    studio.get_by_label("Email").fill("librarian@demo.smartlib")
    studio.get_by_label("Password").fill(DEMO_PASSWORD)
    studio.get_by_role("button", name="Sign in").click()

    studio.get_by_label("Model file (GLB, glTF, OBJ, PLY, STL)").set_input_files(str(scan))
    studio.get_by_role("button", name="Upload", exact=True).click()
    # Processing runs in the server's worker; the page follows it through `asset` events.
    studio.locator("body[data-asset-status='ready']").wait_for(timeout=120_000)
    assert studio.locator("#stages li[data-state='done']").count() == 5
    assert studio.locator("#upload-progress").get_attribute("value") == "100"
    rows = studio.locator("#lods tbody tr")
    assert rows.count() >= 1
    assert int(rows.first.locator("td").nth(1).inner_text().replace(",", "")) > 100
    studio.locator("body[data-preview]").wait_for()

    # A click on the model's surface places a hotspot there.
    canvas = studio.locator("#studio-view")
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    studio.get_by_label("Point title (en)").fill("The inscription")
    studio.get_by_label("Point title (vi)").fill("Văn bia")

    studio.get_by_label("Address (slug)").fill(slug)
    studio.get_by_label("Title (Vietnamese)").fill("Bia mới quét")
    studio.get_by_label("Title (English)").fill("A newly scanned stele")
    studio.get_by_label("Narration (English)").fill("Scanned in the library's workshop.")
    studio.get_by_label("ArUco 4×4 marker number").fill("21")
    studio.get_by_label("Published").check()
    studio.get_by_role("button", name="Save").click()
    studio.locator(f"body[data-saved='{slug}']").wait_for()
    sheet = studio.get_by_role("link", name="Download the marker sheet (PDF)")
    response = studio.request.get(sheet.get_attribute("href"))
    assert response.ok and response.body()[:5] == b"%PDF-"
    pages.screenshot(studio, "curator")

    visitor = pages.open(f"/visit/{slug}", lang="en")
    visitor.locator("#exhibit-title").filter(has_text="A newly scanned stele").wait_for()
    visitor.locator("#viewer[data-model='visible']").wait_for(timeout=30_000)
    assert visitor.get_by_role("button", name="The inscription").is_visible()
    pages.screenshot(visitor, "visitor-new-exhibit")
