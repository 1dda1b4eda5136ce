"""The catalogue card: an exhibit linked to a book shows "read the book" to its visitors."""

from __future__ import annotations

import urllib.request
from urllib.parse import quote

import pytest
from pymarc import Field, Record, Subfield, record_to_xml
from pymarc.field import Indicators

from tests.e2e.pages.conftest import api, login

pytestmark = pytest.mark.e2e


def _marcxml() -> bytes:
    record = Record(force_utf8=True)
    record.add_field(Field(tag="001", data="pages-card-1"))
    record.add_field(Field(tag="003", data="VN-HaNL"))
    for tag, subfields in (
        ("020", [Subfield("a", "9786040212344")]),
        ("100", [Subfield("a", "Phạm Huy Thông")]),
        ("245", [Subfield("a", "Trống đồng Đông Sơn ở Việt Nam")]),
        ("090", [Subfield("a", "959.701"), Subfield("b", "PH-T")]),
    ):
        record.add_field(Field(tag=tag, indicators=Indicators(" ", " "), subfields=subfields))
    body = record_to_xml(record, namespace=True)
    return b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + body + b"</collection>"


def test_visitor_sees_the_catalogue_card_of_the_linked_book(pages, site):
    librarian = login(site.url, "librarian")
    request = urllib.request.Request(
        site.url + "/api/v1/catalog/import", data=_marcxml(), method="POST"
    )
    request.add_header("Content-Type", "application/marcxml+xml")
    request.add_header("Authorization", f"Bearer {librarian}")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    found = api(site.url, "GET", "/api/v1/catalog/records?q=" + quote("Đông Sơn"), token=librarian)[
        "items"
    ]
    book = next(r for r in found if r["record_id"] == "pages-card-1")
    exhibits = api(site.url, "GET", "/api/v1/exhibits?limit=200")["items"]
    stele = next(e for e in exhibits if e["slug"] == "bia-tien-si")
    api(site.url, "PATCH", f"/api/v1/exhibits/{stele['id']}", {"catalog": book["link"]}, librarian)

    page = pages.open("/visit/bia-tien-si", lang="vi")
    card = page.get_by_role("region", name="Đọc sách về hiện vật")
    card.wait_for()
    text = card.inner_text()
    assert "Trống đồng Đông Sơn ở Việt Nam" in text
    assert "Phạm Huy Thông" in text
    assert "959.701 PH-T" in text
    assert "9786040212344" in text
    pages.screenshot(page, "catalog-card")
