"""Visitor analytics: what people scan, how long they stay, which tours they finish.

Tablets generate events at the rate of camera frames; writing each one would make the database
the bottleneck of a busy day. Events are buffered and written in one INSERT per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import utcnow
from core.errors import Invalid
from experience.models import Exhibit, Tour, VisitEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Visit:
    kind: str  # scan | dwell | tour_complete
    visitor_id: str
    exhibit_id: int | None = None
    tour_id: int | None = None
    lang: str = ""
    dwell_s: float | None = None
    at: datetime = field(default_factory=utcnow)


class VisitRecorder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = 500,
        interval_s: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._buffer: list[Visit] = []
        self._max_batch = max_batch
        self._interval_s = interval_s
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    def record(self, visit: Visit) -> None:
        self._buffer.append(visit)
        if len(self._buffer) >= self._max_batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                async with self._sessions() as session, session.begin():
                    batch = await _drop_orphans(session, batch)
                    if batch:
                        await session.execute(insert(VisitEvent), [asdict(v) for v in batch])
            except Exception:
                log.exception("could not write %d visit events; keeping them for later", len(batch))
                self._buffer[:0] = batch[-10_000:]  # bounded if the database stays away
                return 0
            return len(batch)

    async def run(self) -> None:
        """Flush every `interval_s`, or sooner when a batch fills up."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            await self.flush()


async def _drop_orphans(session: AsyncSession, batch: list[Visit]) -> list[Visit]:
    """Leave out events of exhibits or tours deleted since they were recorded."""
    exhibits = {v.exhibit_id for v in batch if v.exhibit_id is not None}
    tours = {v.tour_id for v in batch if v.tour_id is not None}
    live_ex = (
        set(await session.scalars(select(Exhibit.id).where(Exhibit.id.in_(exhibits))))
        if exhibits
        else set()
    )
    live_tours = (
        set(await session.scalars(select(Tour.id).where(Tour.id.in_(tours)))) if tours else set()
    )
    return [
        v
        for v in batch
        if (v.exhibit_id is None or v.exhibit_id in live_ex)
        and (v.tour_id is None or v.tour_id in live_tours)
    ]


async def exhibit_summary(
    session: AsyncSession, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Per exhibit: scans, unique visitors, median dwell and scans per language."""
    if end <= start:
        raise Invalid("'to' must be after 'from'.", field="to")
    rows = await session.execute(
        select(
            VisitEvent.kind,
            VisitEvent.exhibit_id,
            VisitEvent.visitor_id,
            VisitEvent.lang,
            VisitEvent.dwell_s,
        ).where(VisitEvent.at >= start, VisitEvent.at < end, VisitEvent.exhibit_id.is_not(None))
    )
    scans: dict[int, int] = defaultdict(int)
    visitors: dict[int, set[str]] = defaultdict(set)
    dwell: dict[int, list[float]] = defaultdict(list)
    langs: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind, exhibit_id, visitor_id, lang, dwell_s in rows:
        if kind == "scan":
            scans[exhibit_id] += 1
            visitors[exhibit_id].add(visitor_id)
            langs[exhibit_id][lang] += 1
        elif kind == "dwell" and dwell_s is not None:
            dwell[exhibit_id].append(dwell_s)
    ids = sorted(set(scans) | set(dwell))
    slugs = (
        dict(
            (
                await session.execute(select(Exhibit.id, Exhibit.slug).where(Exhibit.id.in_(ids)))
            ).all()
        )
        if ids
        else {}
    )
    return [
        {
            "exhibit_id": exhibit_id,
            "slug": slugs.get(exhibit_id),
            "scans": scans.get(exhibit_id, 0),
            "unique_visitors": len(visitors.get(exhibit_id, ())),
            "median_dwell_s": round(statistics.median(dwell[exhibit_id]), 1)
            if dwell.get(exhibit_id)
            else None,
            "languages": dict(langs.get(exhibit_id, {})),
        }
        for exhibit_id in ids
    ]


async def tour_completions(session: AsyncSession, start: datetime, end: datetime) -> dict[int, int]:
    rows = await session.execute(
        select(VisitEvent.tour_id).where(
            VisitEvent.kind == "tour_complete", VisitEvent.at >= start, VisitEvent.at < end
        )
    )
    counts: dict[int, int] = defaultdict(int)
    for (tour_id,) in rows:
        counts[tour_id] += 1
    return dict(counts)
