"""Searching the local copy of the catalog, ranked, the same way on SQLite and PostgreSQL.

Why LIKE over folded columns rather than each database's full-text search: SQLite's FTS5 and
PostgreSQL's tsvector rank differently, fold Vietnamese differently (neither drops tone marks
without extensions) and need different migrations, and the product promises the same answers
on both. Records carry their words folded ("lich su viet nam") in padded columns, so one
portable LIKE '% word%' is a case- and diacritic-insensitive word-prefix match ("lic" finds
"Lịch"). Every query word must match somewhere; the rank is a sum computed in SQL, so ranking
and paging happen in the database over all matches (no candidate cut-off that could drop the
best record):

- the query as a phrase at the start of the title, then anywhere in the title;
- per word: a whole word of the title, a word of the title beginning with it, then the
  authors, then the subjects, then anything else (publisher, call number, ISBN ...).

Pages follow a keyset cursor "rank:id", so a page never repeats or skips a record when rows
are added between requests. The folded words live in a narrow table of their own
(`CatalogSearch`), so a search scans a few hundred bytes per record, once: the count of
matches comes from a window over the same scan. bench/catalog_bench.py measures it on
50,000 records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from experience.catalog import words
from experience.marc import normalize_isbn
from experience.models import CatalogRecord, CatalogSearch

MAX_WORDS = 8
# digits, hyphens and spaces only: "0-306-40615-2" is one ISBN, "9780306406157 lich" two words
_ISBN_LIKE = re.compile(r"[0-9][0-9\- ]{8,16}[0-9Xx]")
MAX_LIMIT = 100

# What a match is worth; a title phrase outranks any number of scattered word matches.
PHRASE_AT_TITLE_START = 1000
PHRASE_IN_TITLE = 500
WORD_IN_TITLE = 40
WORD_PREFIX_IN_TITLE = 30
WORD_IN_AUTHORS = 12
WORD_IN_SUBJECTS = 6
WORD_ELSEWHERE = 1


@dataclass(frozen=True, slots=True)
class SearchPage:
    items: list[CatalogRecord]
    total: int
    next: str | None


def query_words(q: str) -> list[str]:
    """The folded words to look for; an ISBN in any form becomes its ISBN-13 digits."""
    if _ISBN_LIKE.fullmatch(q.strip()) and (isbn := normalize_isbn(q)) is not None:
        return [isbn]
    found = list(dict.fromkeys(words(q)))
    if len(found) > MAX_WORDS:
        raise Invalid(f"Search with at most {MAX_WORDS} words.", field="q")
    return found


def _rank(found: list[str]) -> ColumnElement[int]:
    if not found:
        return literal(0)
    title = CatalogSearch.title_key
    phrase = " ".join(found)
    rank: ColumnElement[int] = case(
        (title.like(f" {phrase}%"), PHRASE_AT_TITLE_START),
        (title.like(f"% {phrase}%"), PHRASE_IN_TITLE),
        else_=0,
    )
    for word in found:
        rank = rank + case(
            (title.like(f"% {word} %"), WORD_IN_TITLE),
            (title.like(f"% {word}%"), WORD_PREFIX_IN_TITLE),
            (CatalogSearch.author_key.like(f"% {word}%"), WORD_IN_AUTHORS),
            (CatalogSearch.subject_key.like(f"% {word}%"), WORD_IN_SUBJECTS),
            else_=WORD_ELSEWHERE,
        )
    return rank


def _cursor(after: str | None) -> tuple[int, int] | None:
    if not after:
        return None
    rank, colon, last_id = after.partition(":")
    if not colon or not rank.isdigit() or not last_id.isdigit():
        raise Invalid(
            "The page cursor is not valid; start again from the first page.", field="after"
        )
    return int(rank), int(last_id)


async def search_records(
    session: AsyncSession, q: str = "", *, limit: int = 20, after: str | None = None
) -> SearchPage:
    """Records matching every word of `q`, best first; an empty `q` lists the whole catalog."""
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be from 1 to {MAX_LIMIT}.", field="limit")
    found = query_words(q)
    if q.strip() and not found:
        raise Invalid("Type at least one letter or digit to search for.", field="q")
    matches = and_(true(), *(CatalogSearch.search_key.like(f"% {word}%") for word in found))
    # one scan gives the rank of every match and, through a window, how many there are
    scored = (
        select(
            CatalogSearch.record_pk.label("id"),
            _rank(found).label("rank"),
            func.count().over().label("total"),
        )
        .where(matches)
        .subquery()
    )
    page = select(scored.c.id, scored.c.rank, scored.c.total)
    position = _cursor(after)
    if position is not None:
        rank, last_id = position
        page = page.where(
            or_(scored.c.rank < rank, and_(scored.c.rank == rank, scored.c.id > last_id))
        )
    rows = (
        await session.execute(page.order_by(scored.c.rank.desc(), scored.c.id).limit(limit + 1))
    ).all()
    if rows:
        total = rows[0].total
    elif position is None:
        total = 0
    else:  # past the last page: the window had no row to report the count on
        total = await session.scalar(select(func.count()).select_from(CatalogSearch).where(matches))
    more = len(rows) > limit
    rows = rows[:limit]
    records = {
        record.id: record
        for record in await session.scalars(
            select(CatalogRecord).where(CatalogRecord.id.in_([row.id for row in rows]))
        )
    }
    items = [records[row.id] for row in rows if row.id in records]
    cursor = f"{rows[-1].rank}:{rows[-1].id}" if more and rows else None
    return SearchPage(items, int(total or 0), cursor)
