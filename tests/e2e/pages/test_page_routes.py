"""The page routes without a browser: what they serve, and what they refuse to."""

from __future__ import annotations

import re


async def test_pages_carry_a_csp_without_inline_scripts(client):
    for path in ("/", "/visit", "/docent", "/curator", "/makerspace"):
        response = await client.get(path)
        assert response.status == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval';" in csp
        assert "unsafe-inline" not in csp and "http" not in csp


async def test_vendor_files_come_from_a_fixed_list_with_three_resolved(client):
    response = await client.get("/vendor/three/addons/loaders/GLTFLoader.js")
    assert response.status == 200
    body = await response.text()
    assert not re.search(r"""from\s*['"]three['"]""", body)
    assert "from '/vendor/three/three.module.min.js'" in body
    for refused in (
        "/vendor/three/package.json",
        "/vendor/../package.json",
        "/vendor/axe-core/axe.min.js",
    ):
        assert (await client.get(refused)).status == 404, refused


async def test_static_files_are_compressed_and_confined(client):
    response = await client.get("/static/js/i18n.js", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    again = await client.get(
        "/static/js/i18n.js", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status == 304
    assert (await client.get("/static/../routes/pages.py")).status == 404
    assert (await client.get("/static/%2e%2e/routes/pages.py")).status == 404


async def test_exhibit_page_embeds_its_manifest_in_the_visitors_language(client, make_exhibit):
    await make_exhibit("drum", title={"vi": "Trống đồng", "en": "Bronze drum"})
    page = await client.get("/visit/drum", headers={"Accept-Language": "en-GB,en"})
    assert page.status == 200
    html = await page.text()
    assert '<html lang="en">' in html and "Bronze drum — smartlib" in html
    assert 'rel="preload" href="/files/' in html
    chosen = await client.get("/visit/drum", cookies={"smartlib_lang": "vi"})
    assert "Trống đồng — smartlib" in await chosen.text()
    manifest = await (await client.get("/visit/drum/manifest.json?lang=vi")).json()
    assert manifest["exhibit"]["title"] == "Trống đồng"
    assert (await client.get("/visit/no-such-thing")).status == 404
    assert (await client.get("/visit/no-such-thing/manifest.json")).status == 404
