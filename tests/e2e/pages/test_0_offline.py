"""Offline after the first visit: the service worker keeps an exhibit page and its scene.

Known limitation: this test fails when it runs after the catalog-card test in the same browser
session (cause not found yet), so it lives in a file that sorts first in this folder.
"""

from __future__ import annotations

STELE = "bia-tien-si"


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
