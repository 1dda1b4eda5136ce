"""Exhibits and catalog records pointing at each other (experience/catalog.py, catalog_sru.py).

Against a real zebrasrv (tests/experience/conftest.py) and both databases: the manifest's
catalog block, the MARCXML export with an 856 per exhibit and its round trip through Zebra,
and records found live being cached, linked and refreshed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import select, update

from core.database import unit_of_work
from core.events import EventBus
from experience import catalog, catalog_sru, curation
from experience.catalog_import import import_catalog
from experience.exhibits import find_published_by_marker, public_view, snapshot
from experience.manifest import build_manifest
from experience.marc import MARC_NS
from experience.models import CatalogRecord
from experience.scan_index import ScanIndex
from experience.schemas import CatalogLink, ExhibitPatch
from experience.sru import SruClient, SruSource
from tests.experience.conftest import ZebraServer
from tests.experience.marc_factory import SOURCE, catalog_books, write_iso2709

M = f"{{{MARC_NS}}}"
PUBLIC_URL = "https://bao-tang.example"
OPAC = "https://opac.example/record/{record_id}?from={source}"


class Heard:
    def __init__(self, bus: EventBus) -> None:
        self.exhibit_ids: list[int] = []
        bus.subscribe(curation.EXHIBIT_CHANGED, self._on)

    async def _on(self, _topic: str, payload: dict[str, Any]) -> None:
        self.exhibit_ids.append(payload["exhibit_id"])


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def imported(sessions, bus, tmp_path: Path):
    await import_catalog(sessions, bus, write_iso2709(tmp_path / "c.mrc", catalog_books()))
    return sessions


@pytest.fixture
def source(zebra_server: ZebraServer) -> SruSource:
    return SruSource("Thư viện tỉnh", zebra_server.base_url, zebra_server.database)


@pytest.fixture
async def sru():
    async with SruClient(timeout=5) as client:
        yield client


async def link(sessions, bus, exhibit_id: int, record_id: str, source: str = SOURCE) -> None:
    async with unit_of_work(sessions) as session:
        patch = ExhibitPatch(catalog=CatalogLink(source=source, record_id=record_id))
        await curation.update_exhibit(session, bus, exhibit_id, patch)


async def test_manifest_shows_the_linked_record_with_its_opac_link(
    imported, bus, make_exhibit
) -> None:
    exhibit = await make_exhibit("trong-dong", 7)
    await link(imported, bus, exhibit.id, "vn-0001")

    async with imported() as session:
        loaded = await find_published_by_marker(session, "aruco_4x4_50", 7)
        manifest = build_manifest(snapshot(loaded, opac_url=OPAC), "vi", "en", None)

    assert manifest["catalog"] == {
        "source": SOURCE,
        "record_id": "vn-0001",
        "title": "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X",
        "author": "Phan, Huy Lê",
        "isbn": "9780306406157",
        "call_number": "959.7 PH-L",
        "url": "https://opac.example/record/vn-0001?from=VN-HaNL",
    }


async def test_scan_index_serves_the_catalog_block_and_forgets_it_when_the_record_changes(
    imported, bus, make_exhibit, tmp_path
) -> None:
    exhibit = await make_exhibit("trong-dong", 7)
    await link(imported, bus, exhibit.id, "vn-0001")
    index = ScanIndex(imported, "en")
    bus.subscribe(curation.EXHIBIT_CHANGED, lambda _t, p: _invalidate(index, p))
    first = await index.lookup("aruco_4x4_50", 7)

    renamed = replace(catalog_books()[0], call_number=("959.7", "PH-L 2"))
    summary = await import_catalog(imported, bus, write_iso2709(tmp_path / "v2.mrc", [renamed]))
    second = await index.lookup("aruco_4x4_50", 7)

    assert summary.exhibits_changed == [exhibit.id]
    assert first.catalog is not None and first.catalog.call_number == "959.7 PH-L"
    assert second.catalog is not None and second.catalog.call_number == "959.7 PH-L 2"


async def _invalidate(index: ScanIndex, payload: dict[str, Any]) -> None:
    index.invalidate(payload["exhibit_id"])


async def test_link_to_a_record_not_held_locally_keeps_its_name_without_details(
    imported, bus, make_exhibit
) -> None:
    exhibit = await make_exhibit("bia", 12)
    await link(imported, bus, exhibit.id, "not-imported-yet")

    async with imported() as session:
        loaded = await find_published_by_marker(session, "aruco_4x4_50", 12)
        view = public_view(loaded)
        block = build_manifest(snapshot(loaded), "vi", "en", None)["catalog"]

    assert view["catalog"] == {"source": SOURCE, "record_id": "not-imported-yet"}
    assert block["record_id"] == "not-imported-yet"
    assert (block["title"], block["url"]) == ("", "")


async def test_exhibit_rest_view_carries_the_record_summary(imported, bus, make_exhibit) -> None:
    exhibit = await make_exhibit("trong-dong", 7)
    await link(imported, bus, exhibit.id, "vn-0002")

    async with imported() as session:
        view = public_view(await curation.get_exhibit(session, exhibit.id, staff=False))

    assert view["catalog"] == {
        "source": SOURCE,
        "record_id": "vn-0002",
        "title": "Đất nước đổi mới",
        "author": "Trần, Văn Giàu",
        "isbn": "9783161484100",
        "call_number": "320.9597 TR-G",
    }


def links_of(document: str) -> list[tuple[str, str, str, str]]:
    root = etree.fromstring(document.encode())
    assert root.tag == f"{M}collection"
    return [
        (
            field.get("ind1"),
            field.get("ind2"),
            field.findtext(f"{M}subfield[@code='u']"),
            field.findtext(f"{M}subfield[@code='y']"),
        )
        for field in root.iter(f"{M}datafield")
        if field.get("tag") == "856"
    ]


async def test_marcxml_export_adds_an_856_per_published_exhibit(
    imported, bus, make_exhibit
) -> None:
    drum = await make_exhibit("trong-dong", 7)
    stele = await make_exhibit("bia-tien-si", 12, title={"vi": "Bia tiến sĩ"})
    draft = await make_exhibit("ban-nhap", 13, published=False)
    for exhibit in (drum, stele, draft):
        await link(imported, bus, exhibit.id, "vn-0001")

    async with imported() as session:
        document = await catalog.export_marcxml(session, SOURCE, "vn-0001", PUBLIC_URL + "/")

    assert links_of(document) == [
        (
            "4",
            "2",
            "https://bao-tang.example/visit/trong-dong",
            "Xem hiện vật 3D: Trống đồng / View the 3D exhibit: Bronze drum",
        ),
        (
            "4",
            "2",
            "https://bao-tang.example/visit/bia-tien-si",
            "Xem hiện vật 3D: Bia tiến sĩ / View the 3D exhibit: Bia tiến sĩ",
        ),
    ]
    root = etree.fromstring(document.encode())
    tags = [f.get("tag") for f in root.iter(f"{M}datafield")]
    assert tags == sorted(tags)  # the 856s sit in tag order, where catalogs expect them


async def test_exported_856_loaded_into_zebra_is_found_by_sru(
    imported, bus, make_exhibit, zebra_server: ZebraServer, source, sru, tmp_path
) -> None:
    exhibit = await make_exhibit("di-san-hue", 21, title={"vi": "Di sản Huế", "en": "Hue"})
    await link(imported, bus, exhibit.id, "hue-0007")
    url = f"{PUBLIC_URL}/visit/di-san-hue"
    before = zebra_server.count("cql.allRecords=1")
    async with imported() as session:
        document = await catalog.export_marcxml(session, SOURCE, "hue-0007", PUBLIC_URL)
    exported = tmp_path / "hue-0007.xml"
    exported.write_text(document, encoding="utf-8")

    # the exported file goes into Zebra exactly as the library would load it
    await asyncio.to_thread(zebra_server.index, exported)
    deadline = time.monotonic() + 5
    while (page := await sru.search(source, f'dc.identifier="{url}"', maximum=5)).total == 0:
        assert time.monotonic() < deadline, "the exported record never became searchable"
        await asyncio.sleep(0.05)

    assert [entry.control_number for entry in page.records] == ["hue-0007"]
    assert page.records[0].links == (
        (url, "Xem hiện vật 3D: Di sản Huế / View the 3D exhibit: Hue"),
    )
    assert zebra_server.count("cql.allRecords=1") == before


async def test_record_found_live_is_cached_and_linked(
    sessions, bus, make_exhibit, source, sru
) -> None:
    exhibit = await make_exhibit("tra", 9)
    heard = Heard(bus)

    entry = await catalog_sru.fetch_record(sru, source, "vn-0003")
    async with unit_of_work(sessions) as session:
        linked, cached = await catalog_sru.link_exhibit(session, bus, entry, source, exhibit.id)

    assert (linked.catalog_source, linked.catalog_record_id) == (SOURCE, "vn-0003")
    assert cached.origin == "sru" and cached.sru_source == "Thư viện tỉnh"
    assert cached.title == "Tea and the Mekong delta. Part 2, Trade routes"
    assert cached.fetched_at is not None
    assert heard.exhibit_ids == [exhibit.id]
    async with sessions() as session:
        loaded = await find_published_by_marker(session, "aruco_4x4_50", 9)
        assert snapshot(loaded).catalog.title == cached.title  # type: ignore[union-attr]


async def test_live_lookup_of_an_unknown_control_number_is_not_found(source, sru) -> None:
    from core.errors import NotFound

    with pytest.raises(NotFound) as missing:
        await catalog_sru.fetch_record(sru, source, "vn-9999")

    assert "no record with control number vn-9999" in missing.value.message


async def test_refresh_restores_changed_cached_records_and_reports_the_rest(
    sessions, bus, make_exhibit, source, sru
) -> None:
    exhibit = await make_exhibit("dat-nuoc", 5)
    entry = await catalog_sru.fetch_record(sru, source, "vn-0002")
    async with unit_of_work(sessions) as session:
        await catalog_sru.link_exhibit(session, bus, entry, source, exhibit.id)
        # a copy the catalog no longer holds, and one from a catalog no longer configured
        for record_id, sru_source in (("vn-gone", source.name), ("vn-elsewhere", "Cũ")):
            values = catalog.record_values(entry, origin="sru", sru_source=sru_source)
            await catalog.store(session, [{**values, "record_id": record_id}])
        # the local copy went stale: the catalog has since been corrected
        await session.execute(
            update(CatalogRecord)
            .where(CatalogRecord.record_id == "vn-0002")
            .values(title="stale", digest="0" * 64)
        )
    heard = Heard(bus)

    summary = await catalog_sru.refresh_cached(sessions, bus, sru, {source.name: source})

    assert (summary.checked, summary.updated, summary.unchanged) == (3, 1, 0)
    assert (summary.missing, summary.failed) == (1, 1)
    assert any("no record with control number vn-gone" in p for p in summary.problems)
    assert any("'Cũ' is no longer configured" in p for p in summary.problems)
    assert heard.exhibit_ids == [exhibit.id]
    async with sessions() as session:
        title = await session.scalar(
            select(CatalogRecord.title).where(CatalogRecord.record_id == "vn-0002")
        )
    assert title == "Đất nước đổi mới"

    again = await catalog_sru.refresh_cached(sessions, bus, sru, {source.name: source})
    assert (again.updated, again.unchanged) == (0, 1)
