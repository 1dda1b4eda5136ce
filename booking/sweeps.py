"""Periodic booking housekeeping, run by the worker: no-shows released, finished visits closed.

Each sweep is one short transaction, so a slow sweep never holds the booking lock for long and
a failed one is simply tried again at the next tick.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from booking.reservations import DEFAULT_NO_SHOW_GRACE, complete_finished, release_no_shows
from core.database import unit_of_work, utcnow
from core.events import EventBus

log = logging.getLogger(__name__)

SWEEP_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class SweepResult:
    released: int
    completed: int


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    *,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_NO_SHOW_GRACE,
) -> SweepResult:
    now = now or utcnow()
    async with unit_of_work(sessions) as session:
        released = await release_no_shows(session, bus, now=now, grace=grace)
        completed = await complete_finished(session, now=now)
    if released:
        log.info("released %d no-show booking(s)", len(released))
    return SweepResult(len(released), completed)


async def run_sweeps(
    sessions: async_sessionmaker[AsyncSession],
    bus: EventBus,
    *,
    interval: timedelta = SWEEP_INTERVAL,
    grace: timedelta = DEFAULT_NO_SHOW_GRACE,
) -> None:
    """Sweep every `interval` until cancelled (a worker duty)."""
    while True:
        try:
            await sweep_once(sessions, bus, grace=grace)
        except Exception:
            # The next tick retries; one bad sweep must not stop no-shows being released.
            log.exception("booking sweep failed")
        await asyncio.sleep(interval.total_seconds())
