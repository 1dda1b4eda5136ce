"""A docent leads a tour from the docent page; visitors' pages follow."""

from __future__ import annotations

import pytest

from tests.e2e.pages.conftest import DEMO_PASSWORD, api, login

pytestmark = pytest.mark.e2e


def _exhibit_ids(base_url: str) -> dict[str, int]:
    items = api(base_url, "GET", "/api/v1/exhibits?limit=200")["items"]
    return {item["slug"]: item["id"] for item in items}


def test_docent_moves_two_visitor_pages_to_the_next_stop(pages, site):
    ids = _exhibit_ids(site.url)
    librarian = login(site.url, "librarian")
    tour = api(
        site.url,
        "POST",
        "/api/v1/tours",
        {
            "title": {"vi": "Di sản đồng và đá", "en": "Bronze and stone"},
            "stops": [
                {"exhibit_id": ids["trong-dong-ngoc-lu"]},
                {
                    "exhibit_id": ids["bia-tien-si"],
                    "note": {"vi": "Hãy đếm số bia.", "en": "Count the steles."},
                },
            ],
        },
        token=librarian,
    )

    visitors = []
    for lang, label, button in (
        ("en", "Tour code", "Join"),
        ("vi", "Mã chuyến tham quan", "Tham gia"),
    ):
        page = pages.open("/visit", lang=lang)
        page.get_by_label(label).fill(tour["code"])
        page.get_by_role("button", name=button, exact=True).click()
        page.locator("#tour-status[data-index='0']").wait_for()
        visitors.append(page)
    visitors[0].locator("#exhibit-title").filter(has_text="The Ngọc Lũ bronze drum").wait_for()

    docent = pages.open("/docent", lang="en")
    docent.get_by_label("Email").fill("docent@demo.smartlib")
    docent.get_by_label("Password").fill(DEMO_PASSWORD)
    docent.get_by_role("button", name="Sign in").click()
    docent.get_by_role("combobox", name="Choose a tour").select_option(str(tour["id"]))
    docent.get_by_role("button", name="Lead this tour").click()
    docent.locator("#tour-code").filter(has_text=tour["code"]).wait_for()
    docent.get_by_role("button", name="Next stop").click()
    docent.locator("#tour-live[data-index='1']").wait_for()
    pages.screenshot(docent, "docent")

    english, vietnamese = visitors
    english.locator("#tour-status[data-index='1']").wait_for()
    english.locator("#exhibit-title").filter(has_text="Doctors' stele").wait_for()
    assert english.locator(".tour-note").inner_text() == "Count the steles."
    vietnamese.locator("#tour-status[data-index='1']").wait_for()
    vietnamese.locator("#exhibit-title").filter(has_text="Bia Tiến sĩ Văn Miếu").wait_for()
    assert vietnamese.locator(".tour-note").inner_text() == "Hãy đếm số bia."
    pages.screenshot(english, "visitor-en-stop2")
    pages.screenshot(vietnamese, "visitor-vi-stop2")

    # … and back: the docent's "previous" reaches them too.
    docent.get_by_role("button", name="Previous stop").click()
    vietnamese.locator("#exhibit-title").filter(has_text="Trống đồng Ngọc Lũ").wait_for()
    english.locator("#tour-status[data-index='0']").wait_for()
