"""Importing a library's MARC export (ISO 2709 or MARCXML) into the local catalog.

An export holds tens or hundreds of thousands of records, so the file is read as a stream and
written in batches: each batch is one transaction with one INSERT for its new records and one
UPDATE for its changed ones. Reading and MARC parsing run in a worker thread, batch by batch,
so a server importing a file keeps answering tablets. A record that cannot be read, or has no
control number to recognise it by next time, is reported with its position and skipped; the
rest of the file is imported. Importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.errors import Conflict, Invalid
from core.events import EventBus
from experience.catalog import announce, exhibits_linked_to, record_values, store
from experience.marc import BadRecord, CatalogEntry, Format, read_catalog

BATCH_SIZE = 500
# Problems kept word for word; beyond this only the count grows (a file that is not MARC at
# all must not fill the memory with messages).
MAX_PROBLEMS = 200

Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """How an import went: counts per outcome and the reasons records were skipped."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    exhibits_changed: list[int] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.skipped

    def line(self) -> str:
        return (
            f"{self.read} records read: {self.inserted} inserted, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "problems": self.problems,
            "problems_omitted": max(0, self.skipped - len(self.problems)),
            "exhibits_changed": self.exhibits_changed,
        }

    def skip(self, message: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)


def _batches(
    items: Iterator[CatalogEntry | BadRecord], size: int
) -> Iterator[list[tuple[int, CatalogEntry | BadRecord]]]:
    numbered = enumerate(items, start=1)
    while batch := list(islice(numbered, size)):
        yield batch


async def import_catalog(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    path: Path,
    *,
    format: Format | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every readable record of the file at `path`.

    Takes a session factory rather than a session: each batch commits on its own, so a long
    import holds no transaction (and no SQLite write lock) for minutes, and what was imported
    stays imported if the process stops; importing the file again completes it.
    `progress(bytes_read, file_size)` is called after each batch.
    """
    if batch_size < 1:
        raise Invalid("A batch holds at least one record.", field="batch_size")
    summary = ImportSummary()
    stream = await asyncio.to_thread(path.open, "rb")
    with stream:
        size = os.fstat(stream.fileno()).st_size
        if size == 0:
            raise Invalid("The file is empty: there is no record to import.", field="file")
        batches = _batches(read_catalog(stream, format=format), batch_size)
        while batch := await asyncio.to_thread(next, batches, None):
            rows = []
            for position, item in batch:
                if isinstance(item, BadRecord):
                    summary.skip(item.message)
                    continue
                try:
                    rows.append(record_values(item))
                except Invalid as exc:
                    summary.skip(f"Record {position}: {exc.message}")
            try:
                async with unit_of_work(sessions) as session:
                    stored = await store(session, rows)
                    linked = await exhibits_linked_to(session, stored.changed)
            except IntegrityError:
                # two imports adding the same new record at once: the batch is rolled back
                raise Conflict(
                    "Another import is adding the same records right now; "
                    f"{summary.inserted + summary.updated + summary.unchanged} records of this "
                    "file were imported before it stopped. Import the file again once the other "
                    "import has finished."
                ) from None
            summary.inserted += stored.inserted
            summary.updated += stored.updated
            summary.unchanged += stored.unchanged
            # announced once committed, so a manifest rebuilt at once reads the new record
            await announce(bus, linked)
            summary.exhibits_changed.extend(linked)
            if progress is not None:
                progress(min(stream.tell(), size), size)
    if summary.read == 0:
        raise Invalid(
            "No MARC record was found in the file: send an ISO 2709 (.mrc) or MARCXML file.",
            field="file",
        )
    return summary
