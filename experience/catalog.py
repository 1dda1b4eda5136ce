"""The library's catalog as held locally: storing records, reading them, and their exhibit links.

Records arrive from two places, an imported MARC file (`catalog_import.py`) and a live SRU
look-up (`catalog_sru.py`); both end in `store`, which writes a batch of records with one
statement per kind of change and tells which of them are new, changed or already known. A
record is named by its MARC identity, source (003) and control number (001), written
"source:control number" in URLs and `{source, record_id}` in an exhibit's catalog link.

When a record changes, every exhibit linked to it is announced as "exhibit.changed", so the
manifests tablets get (which show the record's title and call number) are rebuilt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from core.database import utcnow
from core.errors import Invalid, NotFound
from core.events import EventBus
from experience.curation import EXHIBIT_CHANGED
from experience.exhibits import opac_link
from experience.marc import MARC_NS, CatalogEntry, fold, with_exhibit_links
from experience.models import CatalogRecord, CatalogSearch, Exhibit

# The source of a record whose file gives no 003 (the cataloguing agency).
LOCAL_SOURCE = "local"
MAX_KEY_LENGTH = 64

RecordKey = tuple[str, str]

_NOT_A_WORD = re.compile(r"[\W_]+")


# --- folded search text ----------------------------------------------------------------------


def words(*texts: str | None) -> list[str]:
    """Folded words of `texts`: "Lịch sử Việt Nam : từ nguồn gốc" -> lich, su, viet, nam ...

    Punctuation separates words, so "959.7" is the two words 959 and 7 in stored text and in
    queries alike.
    """
    return [w for text in texts if text for w in _NOT_A_WORD.sub(" ", fold(text)).split()]


def padded(found: Iterable[str]) -> str:
    # a space on each side makes "% word%" a word-prefix test and "% word %" a whole-word one
    return f" {' '.join(found)} "


# --- identity --------------------------------------------------------------------------------


def record_ref(source: str, record_id: str) -> str:
    """How a record is named in URLs: "VN-HaNL:vn-0001"."""
    return f"{source}:{record_id}"


def parse_record_ref(ref: str) -> RecordKey:
    source, colon, record_id = ref.partition(":")
    if not colon or not source.strip() or not record_id.strip():
        raise Invalid(
            f"'{ref}' does not name a catalog record: write it as source:control number, "
            "e.g. VN-HaNL:vn-0001 (the record's 003 and 001).",
            field="id",
        )
    return source, record_id


# --- writing ---------------------------------------------------------------------------------


def record_values(
    entry: CatalogEntry,
    *,
    default_source: str = LOCAL_SOURCE,
    origin: str = "file",
    sru_source: str | None = None,
) -> dict[str, Any]:
    """The column values for one entry; refuses entries that could not be found again later."""
    record_id = (entry.control_number or "").strip()
    source = (entry.source or "").strip() or default_source
    if not record_id:
        raise Invalid(
            "it has no control number (001), so a later import could not recognise it; "
            "it was skipped."
        )
    if len(record_id) > MAX_KEY_LENGTH or len(source) > MAX_KEY_LENGTH:
        raise Invalid(
            f"its control number (001) or source (003) is longer than {MAX_KEY_LENGTH} "
            "characters; it was skipped."
        )
    values: dict[str, Any] = {
        "source": source,
        "record_id": record_id,
        "title": entry.title,
        "author": entry.author,
        "authors": list(entry.authors),
        "isbn": entry.isbn,
        "isbns": list(entry.isbns),
        "publisher": entry.publisher,
        "year": entry.year,
        "dewey": entry.dewey,
        "call_number": entry.call_number,
        "subjects": list(entry.subjects),
        "languages": list(entry.languages),
        "marcxml": entry.marcxml,
        "digest": hashlib.sha256(entry.marcxml.encode("utf-8")).hexdigest(),
        "title_key": padded(words(entry.title)),
        "author_key": padded(words(*entry.authors)),
        "subject_key": padded(words(*entry.subjects)),
        "search_key": padded(
            words(
                entry.title,
                *entry.authors,
                *entry.subjects,
                entry.publisher,
                entry.call_number,
                entry.dewey,
                str(entry.year or ""),
                *entry.isbns,
                record_id,
            )
        ),
        "origin": origin,
        "sru_source": sru_source,
    }
    if origin == "sru":
        values["fetched_at"] = utcnow()
    return values


@dataclass
class Stored:
    """What `store` did with a batch; `changed` holds the keys of new and changed records."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changed: list[RecordKey] = field(default_factory=list)


_KEYS = ("title_key", "author_key", "subject_key", "search_key")
# Columns a file import leaves alone on a record first fetched over SRU: the refresher keeps
# fetching it from the catalog it came from.
_BOOKKEEPING = ("origin", "sru_source", "fetched_at")


async def store(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> Stored:
    """Insert new records and rewrite changed ones, one statement each for the whole batch.

    A record that appears twice in the batch counts once as what it is in the database and
    then as updated (or unchanged) for its second appearance; the later one wins.
    """
    result = Stored()
    batch: dict[RecordKey, dict[str, Any]] = {}
    for row in rows:
        key = (row["source"], row["record_id"])
        earlier = batch.get(key)
        if earlier is not None:
            if earlier["digest"] == row["digest"]:
                result.unchanged += 1
            else:
                result.updated += 1
        batch[key] = row
    if not batch:
        return result
    existing = {
        (source, record_id): (row_id, digest)
        for row_id, source, record_id, digest in await session.execute(
            select(
                CatalogRecord.id,
                CatalogRecord.source,
                CatalogRecord.record_id,
                CatalogRecord.digest,
            ).where(CatalogRecord.record_id.in_({key[1] for key in batch}))
        )
    }
    now = utcnow()
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    for key, row in batch.items():
        found = existing.get(key)
        if found is None:
            new.append({**row, "created_at": now, "updated_at": now})
            result.changed.append(key)
            continue
        row_id, digest = found
        if row["origin"] == "file":
            row = {name: value for name, value in row.items() if name not in _BOOKKEEPING}
        if digest != row["digest"]:
            changed.append({**row, "id": row_id, "updated_at": now})
            result.changed.append(key)
        else:
            result.unchanged += 1
            if row.get("origin") == "sru":
                touched.append({"id": row_id, **{k: row[k] for k in _BOOKKEEPING}})
    result.inserted = len(new)
    result.updated += len(changed)
    if new:
        ids = await session.scalars(
            insert(CatalogRecord).returning(CatalogRecord.id, sort_by_parameter_order=True),
            [_without_keys(row) for row in new],
        )
        await session.execute(
            insert(CatalogSearch),
            [_keys(row, record_pk) for row, record_pk in zip(new, ids, strict=True)],
        )
    if changed:
        await session.execute(update(CatalogRecord), [_without_keys(row) for row in changed])
        await session.execute(update(CatalogSearch), [_keys(row, row["id"]) for row in changed])
    if touched:
        await session.execute(update(CatalogRecord), touched)
    return result


def _without_keys(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name not in _KEYS}


def _keys(row: dict[str, Any], record_pk: int) -> dict[str, Any]:
    return {"record_pk": record_pk, **{name: row[name] for name in _KEYS}}


async def exhibits_linked_to(session: AsyncSession, keys: Iterable[RecordKey]) -> list[int]:
    """Ids of the exhibits (published or not) that link to any of `keys`."""
    wanted = set(keys)
    if not wanted:
        return []
    found = await session.execute(
        select(Exhibit.id, Exhibit.catalog_source, Exhibit.catalog_record_id).where(
            Exhibit.catalog_record_id.in_({record_id for _, record_id in wanted})
        )
    )
    return sorted(
        exhibit_id for exhibit_id, source, record_id in found if (source, record_id) in wanted
    )


async def announce(bus: EventBus, exhibit_ids: Iterable[int]) -> None:
    """Tell every server process that these exhibits' manifests show other catalog data now."""
    for exhibit_id in exhibit_ids:
        await bus.publish(EXHIBIT_CHANGED, {"exhibit_id": exhibit_id})


# --- reading ---------------------------------------------------------------------------------


async def get_record(
    session: AsyncSession, source: str, record_id: str, *, with_marcxml: bool = False
) -> CatalogRecord:
    query = select(CatalogRecord).where(
        CatalogRecord.source == source, CatalogRecord.record_id == record_id
    )
    if with_marcxml:
        query = query.options(undefer(CatalogRecord.marcxml))
    record = await session.scalar(query)
    if record is None:
        raise NotFound(f"The catalog holds no record {record_ref(source, record_id)}.")
    return record


def record_view(record: CatalogRecord, *, opac_url: str | None = None) -> dict[str, Any]:
    """A record over REST; `link` is what an exhibit's `catalog` field takes to point at it."""
    ref = record_ref(record.source, record.record_id)
    return {
        "id": ref,
        "source": record.source,
        "record_id": record.record_id,
        "link": {"source": record.source, "record_id": record.record_id},
        "title": record.title,
        "author": record.author,
        "authors": record.authors,
        "isbn": record.isbn,
        "isbns": record.isbns,
        "publisher": record.publisher,
        "year": record.year,
        "dewey": record.dewey,
        "call_number": record.call_number,
        "subjects": record.subjects,
        "languages": record.languages,
        "origin": record.origin,
        "sru_source": record.sru_source,
        "fetched_at": record.fetched_at.isoformat() if record.fetched_at else None,
        "updated_at": record.updated_at.isoformat(),
        "url": opac_link(opac_url, record.source, record.record_id),
        "marcxml": f"/api/v1/catalog/records/{quote(ref, safe=':')}.marcxml",
    }


async def linked_exhibits(
    session: AsyncSession, source: str, record_id: str, *, published_only: bool = True
) -> list[Exhibit]:
    """The exhibits pointing at a record, in the order they were made."""
    query = select(Exhibit).where(
        Exhibit.catalog_source == source, Exhibit.catalog_record_id == record_id
    )
    if published_only:
        query = query.where(Exhibit.published.is_(True))
    return list(await session.scalars(query.order_by(Exhibit.id)))


def visitor_url(public_url: str, exhibit: Exhibit) -> str:
    return f"{public_url.rstrip('/')}/visit/{quote(exhibit.slug)}"


def link_text(exhibit: Exhibit) -> str:
    """The 856 $y a catalog shows for the link, in Vietnamese and English.

    OPACs show $y as the clickable text; readers of a Vietnamese library may read either
    language, so both are given, each with the exhibit's title in that language if it has one.
    """
    titles = exhibit.title or {}
    any_title = next(iter(titles.values()), exhibit.slug)
    vi = titles.get("vi") or any_title
    en = titles.get("en") or any_title
    return f"Xem hiện vật 3D: {vi} / View the 3D exhibit: {en}"


async def export_marcxml(
    session: AsyncSession, source: str, record_id: str, public_url: str
) -> str:
    """The stored record as a MARCXML collection, with an 856 for each published exhibit.

    A collection rather than a bare record: it is what Koha's and Zebra's loaders take as is,
    so the file can go straight back into the library's catalog.
    """
    record = await get_record(session, source, record_id, with_marcxml=True)
    exhibits = await linked_exhibits(session, source, record_id)
    links = [(visitor_url(public_url, exhibit), link_text(exhibit)) for exhibit in exhibits]
    linked = with_exhibit_links(record.marcxml, links) if links else record.marcxml
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<collection xmlns="{MARC_NS}">\n{linked}\n</collection>\n'
    )
