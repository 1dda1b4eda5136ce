"""Ranked, diacritic-insensitive search of the local catalog (experience/catalog_search.py).

Every test runs on SQLite and on PostgreSQL and expects the same answer from both.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import Invalid
from core.events import EventBus
from experience.catalog_import import import_catalog
from experience.catalog_search import search_records
from tests.experience.marc_factory import Book, catalog_books, write_iso2709

RANKED = [
    Book(control_number="r-middle", title="Tóm tắt lịch sử Huế", authors=("Lê, Văn An",)),
    Book(control_number="r-scattered", title="Sử thi và lịch pháp", authors=("Lê, Văn Bình",)),
    Book(control_number="r-author", title="Tuyển tập", authors=("Lịch, Sử Văn",)),
]


@pytest.fixture
async def catalog(sessions, tmp_path: Path):
    path = write_iso2709(tmp_path / "catalog.mrc", [*catalog_books(), *RANKED])
    summary = await import_catalog(sessions, EventBus(), path)
    assert summary.inserted == 29
    return sessions


async def found(sessions, q: str, **kwargs) -> list[str]:
    async with sessions() as session:
        page = await search_records(session, q, **kwargs)
    return [record.record_id for record in page.items]


async def test_search_ignores_case_and_tone_marks_and_matches_word_beginnings(catalog) -> None:
    for q in ("lich su", "LỊCH SỬ", "Lịch sử", "lịch su", "lic s"):
        assert (await found(catalog, q))[0] == "vn-0001", q


async def test_d_with_stroke_is_found_as_plain_d(catalog) -> None:
    assert await found(catalog, "dat nuoc doi moi") == ["vn-0002"]
    assert await found(catalog, "Đất NƯỚC") == ["vn-0002"]


async def test_title_phrase_outranks_scattered_title_words_then_authors_then_subjects(
    catalog,
) -> None:
    ranked = await found(catalog, "lich su")

    # vn-0001: title starts with the phrase; r-middle: phrase inside the title; r-scattered:
    # both words in the title apart; r-author: both in the author; vn-0002: in a subject only
    assert ranked == ["vn-0001", "r-middle", "r-scattered", "r-author", "vn-0002"]


async def test_every_word_must_match_somewhere(catalog) -> None:
    assert await found(catalog, "lich su khao co") == ["vn-0001"]
    assert await found(catalog, "lich su mekong") == []


async def test_isbn_in_any_form_finds_its_book(catalog) -> None:
    for q, record_id in (
        ("0-306-40615-2", "vn-0001"),
        ("978-0-306-40615-7", "vn-0001"),
        ("9783161484100", "vn-0002"),
    ):
        assert await found(catalog, q) == [record_id], q
    # an ISBN among other words is one word of the query, not the whole of it
    assert await found(catalog, "9780306406157 lich su") == ["vn-0001"]
    assert await found(catalog, "9780306406157 mekong") == []


async def test_call_number_and_author_find_their_books(catalog) -> None:
    assert (await found(catalog, "959.7 PH-L"))[0] == "vn-0001"
    assert await found(catalog, "tran quoc vuong") == ["vn-0001"]


async def test_pages_follow_the_cursor_without_repeats_or_gaps(catalog) -> None:
    seen: list[str] = []
    totals: set[int] = set()
    after = None
    pages = 0
    while True:
        async with catalog() as session:
            page = await search_records(session, "di san van hoa", limit=10, after=after)
        pages += 1
        totals.add(page.total)
        seen.extend(record.record_id for record in page.items)
        if page.next is None:
            break
        after = page.next

    assert pages == 3
    assert totals == {23}
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {f"hue-{n:04d}" for n in range(1, 24)}


async def test_empty_query_lists_the_whole_catalog(catalog) -> None:
    async with catalog() as session:
        page = await search_records(session, "", limit=100)

    assert page.total == 29 and len(page.items) == 29 and page.next is None


async def test_bad_search_requests_are_refused_naming_the_field(catalog) -> None:
    for q, kwargs, field in (
        ("lich", {"after": "nonsense"}, "after"),
        ("lich", {"limit": 0}, "limit"),
        ("a b c d e f g h i", {}, "q"),
        ("?!", {}, "q"),
    ):
        async with catalog() as session:
            with pytest.raises(Invalid) as refused:
                await search_records(session, q, **kwargs)

        assert refused.value.field == field, q
