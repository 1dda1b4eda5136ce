"""Offline after the first visit: the service worker keeps an exhibit page and its scene.

Known failure: the offline reload ends in net::ERR_FAILED in most runs (it passed in some,
alone); the cause is not found yet, so the test is marked as an expected failure and the
capability is not claimed until it passes.
"""

from __future__ import annotations

import pytest

STELE = "bia-tien-si"


@pytest.mark.xfail(reason="offline reload fails with net::ERR_FAILED; cause not found yet")
def test_exhibit_page_works_offline_after_the_first_visit(pages):
    # The stele: other page tests link the drum to a catalog record and change its page.
    page = pages.open(f"/visit/{STELE}", lang="en", intercept=False)
    page.locator("#viewer[data-model='visible']").wait_for(timeout=30_000)
    # The service worker has taken over and kept the page, its manifest and scene files.
    page.wait_for_function(
        """async () => {
            if (!navigator.serviceWorker.controller) return false;
            const kept = [];
            for (const name of await caches.keys()) {
                for (const r of await (await caches.open(name)).keys()) {
                    kept.push(new URL(r.url).pathname);
                }
            }
            return kept.includes(location.pathname)
                && kept.filter(p => p.startsWith('/files/')).length >= 2;
        }""",
        timeout=30_000,
    )
    page.context.set_offline(True)
    pages.expect_console_error("ERR_INTERNET_DISCONNECTED")
    page.reload()
    page.locator("#exhibit-title").filter(
        has_text="Doctors' stele of the Temple of Literature"
    ).wait_for()
    page.locator("#viewer[data-model='visible']").wait_for(timeout=30_000)
    pages.screenshot(page, "exhibit-offline")
