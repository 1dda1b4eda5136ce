"""The makerspace page: a member books within the rules and reads a refusal in words."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from tests.e2e.pages.conftest import DEMO_PASSWORD, api, login

pytestmark = pytest.mark.e2e


def _next_weekday(after_days: int = 2) -> date:
    day = date.today() + timedelta(days=after_days)
    while day.weekday() >= 5:  # the default opening hours close on Sunday, shorten Saturday
        day += timedelta(days=1)
    return day


def test_member_books_a_slot_and_sees_why_an_over_limit_booking_is_refused(pages, site):
    name = f"Máy in Prusa {uuid.uuid4().hex[:4]}"
    api(
        site.url,
        "POST",
        "/api/v1/resources",
        {"type": "printer", "name": name, "max_minutes": 60},
        token=login(site.url, "librarian"),
    )
    day = _next_weekday().isoformat()

    page = pages.open("/makerspace", lang="en", timezone_id="Asia/Ho_Chi_Minh")
    page.get_by_label("Email").fill("member@demo.smartlib")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("combobox", name="Machines and rooms").select_option(label=name)
    page.locator("#free li").first.wait_for()

    page.get_by_label("Start", exact=True).fill(f"{day}T10:00")
    page.get_by_label("End", exact=True).fill(f"{day}T11:00")
    page.get_by_role("button", name="Book", exact=True).click()
    page.locator("#book-status").filter(has_text="Booked.").wait_for()
    page.locator("#mine li").filter(has_text=name).wait_for()

    pages.expect_console_error("status of 422")
    page.get_by_label("Start", exact=True).fill(f"{day}T13:00")
    page.get_by_label("End", exact=True).fill(f"{day}T16:00")
    page.get_by_role("button", name="Book", exact=True).click()
    refusal = page.locator("#book-status.error")
    refusal.wait_for()
    # The message names the rule that was broken.
    assert "at most 1 h" in refusal.inner_text()
    pages.screenshot(page, "makerspace")
