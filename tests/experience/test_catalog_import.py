"""Importing MARC files into the local catalog (experience/catalog_import.py), on both databases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from core.database import unit_of_work
from core.errors import Invalid
from core.events import EventBus
from experience.catalog_import import import_catalog
from experience.curation import EXHIBIT_CHANGED
from experience.marc import MARC_NS
from experience.models import CatalogRecord
from tests.experience.conftest import require_tools
from tests.experience.marc_factory import (
    SOURCE,
    Book,
    catalog_books,
    iso2709,
    record,
    write_iso2709,
    write_marcxml,
)


class Heard:
    """Every "exhibit.changed" published on a bus."""

    def __init__(self, bus: EventBus) -> None:
        self.exhibit_ids: list[int] = []
        bus.subscribe(EXHIBIT_CHANGED, self._on)

    async def _on(self, _topic: str, payload: dict[str, Any]) -> None:
        self.exhibit_ids.append(payload["exhibit_id"])


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


async def stored(sessions) -> dict[str, CatalogRecord]:
    async with sessions() as session:
        rows = await session.scalars(select(CatalogRecord).options(undefer(CatalogRecord.marcxml)))
        return {row.record_id: row for row in rows}


async def count(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CatalogRecord)) or 0)


async def test_import_stores_every_record_with_its_fields_and_full_marcxml(
    sessions, bus, tmp_path: Path
) -> None:
    books = catalog_books()
    path = write_iso2709(tmp_path / "export.mrc", books)
    seen: list[tuple[int, int]] = []

    summary = await import_catalog(
        sessions, bus, path, batch_size=7, progress=lambda done, size: seen.append((done, size))
    )

    assert (summary.inserted, summary.updated, summary.unchanged, summary.skipped) == (26, 0, 0, 0)
    assert summary.line() == "26 records read: 26 inserted, 0 updated, 0 unchanged, 0 skipped"
    assert len(seen) == 4 and seen[-1] == (path.stat().st_size, path.stat().st_size)
    records = await stored(sessions)
    assert len(records) == 26
    history = records["vn-0001"]
    assert history.source == SOURCE
    assert history.title == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert history.author == "Phan, Huy Lê"
    assert history.authors == ["Phan, Huy Lê", "Trần, Quốc Vượng", "Smith, J."]
    assert (history.isbn, history.isbns) == ("9780306406157", ["9780306406157"])
    assert (history.publisher, history.year) == ("Nhà xuất bản Giáo dục", 2019)
    assert (history.dewey, history.call_number) == ("959.701", "959.7 PH-L")
    assert history.subjects == ["Lịch sử -- Việt Nam", "Khảo cổ học"]
    assert history.languages == ["vie", "eng"]
    assert history.origin == "file" and history.sru_source is None
    root = etree.fromstring(history.marcxml.encode())
    assert root.findtext(f"{{{MARC_NS}}}controlfield[@tag='001']") == "vn-0001"
    assert len(root.findall(f"{{{MARC_NS}}}datafield[@tag='700']")) == 2


async def test_marc8_and_marcxml_files_import_the_same_records(sessions, bus, tmp_path) -> None:
    require_tools("yaz-marcdump")
    books = catalog_books()[:3]
    marc8 = write_iso2709(tmp_path / "old.mrc", books, marc8=True)
    xml = write_marcxml(tmp_path / "new.xml", books)

    first = await import_catalog(sessions, bus, marc8)
    from_marc8 = {k: (r.title, r.authors, r.publisher) for k, r in (await stored(sessions)).items()}
    second = await import_catalog(sessions, bus, xml)

    assert first.inserted == 3
    assert from_marc8["vn-0002"] == (
        "Đất nước đổi mới",
        ["Trần, Văn Giàu"],
        "Nhà xuất bản Chính trị quốc gia",
    )
    # the same records read from MARCXML are found again, not added a second time
    assert second.inserted == 0 and second.updated + second.unchanged == 3
    assert await count(sessions) == 3


async def test_reimporting_the_same_file_changes_nothing_and_adds_no_rows(
    sessions, bus, tmp_path
) -> None:
    path = write_iso2709(tmp_path / "export.mrc", catalog_books())
    await import_catalog(sessions, bus, path)
    before = {k: r.updated_at for k, r in (await stored(sessions)).items()}

    again = await import_catalog(sessions, bus, path)

    assert (again.inserted, again.updated, again.unchanged, again.skipped) == (0, 0, 26, 0)
    assert await count(sessions) == 26
    assert {k: r.updated_at for k, r in (await stored(sessions)).items()} == before


async def test_reimport_updates_changed_records_in_place_and_announces_linked_exhibits(
    sessions, bus, tmp_path, make_exhibit
) -> None:
    books = catalog_books()[:3]
    await import_catalog(sessions, bus, write_iso2709(tmp_path / "v1.mrc", books))
    linked = await make_exhibit("trong-dong", 7)
    unrelated = await make_exhibit("bia", 12)
    async with unit_of_work(sessions) as session:
        for exhibit, record_id in ((linked, "vn-0001"), (unrelated, "vn-0099")):
            row = await session.merge(exhibit)
            row.catalog_source, row.catalog_record_id = SOURCE, record_id
    heard = Heard(bus)
    ids = {r.record_id: r.id for r in (await stored(sessions)).values()}
    renamed = replace(books[0], title="Lịch sử Việt Nam (tái bản)", call_number=("959.7", "PH-L2"))

    summary = await import_catalog(
        sessions, bus, write_iso2709(tmp_path / "v2.mrc", [renamed, *books[1:]])
    )

    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 2)
    records = await stored(sessions)
    assert records["vn-0001"].id == ids["vn-0001"]
    assert records["vn-0001"].title == "Lịch sử Việt Nam (tái bản) : từ nguồn gốc đến thế kỷ X"
    assert records["vn-0001"].call_number == "959.7 PH-L2"
    assert heard.exhibit_ids == [linked.id] == summary.exhibits_changed


async def test_record_imported_after_an_exhibit_links_to_it_announces_that_exhibit(
    sessions, bus, tmp_path, make_exhibit
) -> None:
    exhibit = await make_exhibit("tra", 9)
    async with unit_of_work(sessions) as session:
        row = await session.merge(exhibit)
        row.catalog_source, row.catalog_record_id = SOURCE, "vn-0003"
    heard = Heard(bus)

    await import_catalog(sessions, bus, write_iso2709(tmp_path / "a.mrc", catalog_books()[:3]))

    assert heard.exhibit_ids == [exhibit.id]


async def test_broken_records_are_reported_by_position_and_the_rest_imported(
    sessions, bus, tmp_path
) -> None:
    books = catalog_books()[:5]
    good = [record(book) for book in books]
    no_number = record(Book(control_number="", title="Không số kiểm soát"))
    no_number.remove_fields("001")
    damaged = bytearray(good[2].as_marc())
    damaged[0:5] = b"9x9x9"  # the record length in the leader is no number
    data = iso2709(good[:2]) + bytes(damaged) + iso2709([no_number]) + iso2709(good[3:])
    path = tmp_path / "damaged.mrc"
    path.write_bytes(data)

    summary = await import_catalog(sessions, bus, path, batch_size=2)

    assert (summary.inserted, summary.skipped) == (4, 2)
    assert summary.problems[0].startswith("Record 3 (byte ")
    assert "skipped" in summary.problems[0]
    assert summary.problems[1].startswith("Record 4: it has no control number (001)")
    assert set(await stored(sessions)) == {b.control_number for b in books} - {"vn-0003"}


async def test_a_record_repeated_in_one_file_is_stored_once_with_its_last_version(
    sessions, bus, tmp_path
) -> None:
    book = catalog_books()[0]
    later = replace(book, year=2020)
    path = tmp_path / "twice.mrc"
    path.write_bytes(iso2709([record(book), record(later)]))

    summary = await import_catalog(sessions, bus, path)

    assert (summary.inserted, summary.updated) == (1, 1)
    assert (await stored(sessions))["vn-0001"].year == 2020


async def test_a_file_without_any_marc_record_is_refused(sessions, bus, tmp_path) -> None:
    empty = tmp_path / "empty.mrc"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.mrc"
    blank.write_bytes(b"\r\n\r\n")

    for path in (empty, blank):
        with pytest.raises(Invalid) as refused:
            await import_catalog(sessions, bus, path)
        assert refused.value.field == "file"
    assert await count(sessions) == 0
