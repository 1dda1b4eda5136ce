"""The library's live catalog over SRU: configured sources, look-ups, linking and refreshing.

A librarian can find a record in the library's own catalog (Koha, VietBiblio, Zebra ...) and
link an exhibit to it without importing the catalog first: the record is then copied into the
local catalog (so manifests need no network) and kept current by `refresh_cached`, which the
worker calls now and then. Network work happens outside any database transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.errors import DomainError, Invalid, NotFound
from core.events import EventBus
from experience import curation
from experience.catalog import (
    RecordKey,
    announce,
    exhibits_linked_to,
    get_record,
    record_values,
    store,
)
from experience.marc import CatalogEntry
from experience.models import CatalogRecord, Exhibit
from experience.sru import SruClient, SruSource

REFRESH_BATCH = 50


def configured_sources(extra: Mapping[str, Any]) -> dict[str, SruSource]:
    """The `sru_sources` of the settings: a list of {name, base_url, database} tables."""
    raw = extra.get("sru_sources") or []
    if not isinstance(raw, list):
        raise Invalid("The setting sru_sources must be a list of catalogs.", field="sru_sources")
    sources: dict[str, SruSource] = {}
    for item in raw:
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(key), str) for key in ("name", "base_url", "database")
        ):
            raise Invalid(
                "Each catalog in sru_sources needs a name, a base_url and a database.",
                field="sru_sources",
            )
        sources[item["name"]] = SruSource(item["name"], item["base_url"], item["database"])
    return sources


def source_named(sources: Mapping[str, SruSource], name: str) -> SruSource:
    source = sources.get(name)
    if source is None:
        known = ", ".join(f"'{n}'" for n in sources) or "none is configured"
        raise Invalid(f"There is no catalog named '{name}' (known: {known}).", field="source")
    return source


def source_from_url(url: str) -> SruSource:
    """An ad-hoc source from an address such as http://catalog.example:9999/biblios."""
    parts = urlsplit(url.strip())
    path = parts.path.strip("/")
    if parts.scheme not in ("http", "https") or not parts.netloc or not path:
        raise Invalid(
            f"'{url}' is not an SRU address: write it as http://HOST:PORT/DATABASE, "
            "e.g. http://koha.example:9998/biblios.",
            field="sru",
        )
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return SruSource(parts.netloc, base, path)


def hit_view(entry: CatalogEntry, source: SruSource) -> dict[str, Any]:
    """One live result; `link` is what `POST /catalog/sru/link` takes to link and cache it."""
    return {
        "record_id": entry.control_number,
        "record_source": entry.source,
        "title": entry.title,
        "author": entry.author,
        "authors": list(entry.authors),
        "isbn": entry.isbn,
        "publisher": entry.publisher,
        "year": entry.year,
        "call_number": entry.call_number,
        "link": {"source": source.name, "record_id": entry.control_number},
    }


def _cql_term(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def fetch_record(client: SruClient, source: SruSource, record_id: str) -> CatalogEntry:
    """The record whose control number (001) is `record_id`, asked of the live catalog."""
    record_id = record_id.strip()
    if not record_id:
        raise Invalid("Give the record's control number (001).", field="record_id")
    page = await client.search(source, f"rec.id={_cql_term(record_id)}", maximum=10)
    for entry in page.records:
        if (entry.control_number or "").strip() == record_id:
            return entry
    raise NotFound(f"The catalog '{source.name}' has no record with control number {record_id}.")


async def cache_record(
    session: AsyncSession, bus: EventBus, entry: CatalogEntry, source: SruSource
) -> CatalogRecord:
    """Keep a live record in the local catalog (insert or update), announcing linked exhibits."""
    values = record_values(entry, default_source=source.name, origin="sru", sru_source=source.name)
    stored = await store(session, [values])
    await announce(bus, await exhibits_linked_to(session, stored.changed))
    return await get_record(session, values["source"], values["record_id"])


async def link_exhibit(
    session: AsyncSession,
    bus: EventBus,
    entry: CatalogEntry,
    source: SruSource,
    exhibit_id: int,
) -> tuple[Exhibit, CatalogRecord]:
    """Cache a record found live and point the exhibit's catalog link at it.

    The link names the record by its own MARC identity (003 and 001, or the catalog's name
    when the record has no 003), the same key a later file import of that record would use.
    """
    exhibit = await curation.get_exhibit(session, exhibit_id, staff=True)
    record = await cache_record(session, bus, entry, source)
    exhibit.catalog_source = record.source
    exhibit.catalog_record_id = record.record_id
    await session.flush()
    await session.refresh(exhibit)
    await bus.publish(curation.EXHIBIT_CHANGED, {"exhibit_id": exhibit.id})
    return exhibit, record


@dataclass
class RefreshSummary:
    checked: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "missing": self.missing,
            "failed": self.failed,
            "problems": self.problems,
        }


async def refresh_cached(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    client: SruClient,
    sources: Mapping[str, SruSource],
) -> RefreshSummary:
    """Fetch every record first found over SRU again and store what changed.

    One catalog that does not answer fails its records (counted, with the reason) and the
    others go on; a record the catalog no longer has keeps its local copy, since an exhibit
    may still point at it, and is counted as missing.
    """
    summary = RefreshSummary()
    last_id = 0
    while True:
        async with sessions() as session:
            batch = list(
                await session.execute(
                    select(CatalogRecord.id, CatalogRecord.record_id, CatalogRecord.sru_source)
                    .where(CatalogRecord.origin == "sru", CatalogRecord.id > last_id)
                    .order_by(CatalogRecord.id)
                    .limit(REFRESH_BATCH)
                )
            )
        if not batch:
            return summary
        last_id = batch[-1].id
        fetched: list[tuple[CatalogEntry, SruSource]] = []
        for _, record_id, source_name in batch:
            summary.checked += 1
            source = sources.get(source_name or "")
            if source is None:
                summary.failed += 1
                summary.problems.append(
                    f"Record {record_id}: its catalog '{source_name}' is no longer configured."
                )
                continue
            try:
                fetched.append((await fetch_record(client, source, record_id), source))
            except NotFound as exc:
                summary.missing += 1
                summary.problems.append(exc.message)
            except DomainError as exc:
                summary.failed += 1
                summary.problems.append(f"Record {record_id}: {exc.message}")
        changed: list[RecordKey] = []
        async with unit_of_work(sessions) as session:
            for entry, source in fetched:
                values = record_values(
                    entry, default_source=source.name, origin="sru", sru_source=source.name
                )
                stored = await store(session, [values])
                summary.updated += stored.updated + stored.inserted
                summary.unchanged += stored.unchanged
                changed.extend(stored.changed)
            linked = await exhibits_linked_to(session, changed)
        await announce(bus, linked)
