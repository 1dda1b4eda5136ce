"""What the database itself guarantees, underneath the reservation service."""

from __future__ import annotations

from datetime import timedelta

import aiosqlite
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from booking.models import Reservation
from booking.occupancy import EXCLUSION_VIOLATION, lock_bookings
from booking.publishing import publish_after_commit
from core.database import unit_of_work
from core.events import EventBus
from tests.booking.booking_api import next_boundary, wait_for

HOUR = timedelta(hours=1)


def row(resource_id: int, user_id: int, start, end, state: str = "confirmed") -> Reservation:
    return Reservation(
        resource_id=resource_id,
        user_id=user_id,
        starts_at=start,
        ends_at=end,
        blocked_until=end + timedelta(minutes=15),
        state=state,
    )


async def test_overlapping_active_rows_are_refused_below_the_service(
    db_url, sessions, people, make_resource
):
    printer = await make_resource()
    ana, binh = people["ana"].id, people["binh"].id
    start = next_boundary(30, 2 * HOUR)
    async with unit_of_work(sessions) as session:
        session.add(row(printer["id"], ana, start, start + HOUR))
        # Cancelled rows hold nothing, so they may overlap freely.
        session.add(row(printer["id"], binh, start, start + HOUR, state="cancelled"))
    if make_url(db_url).get_backend_name() == "postgresql":
        # The buffer counts: this one starts inside the first one's cool-down.
        with pytest.raises(IntegrityError) as refused:
            async with unit_of_work(sessions) as session:
                session.add(row(printer["id"], binh, start + HOUR, start + 2 * HOUR))
        assert getattr(refused.value.orig, "sqlstate", None) == EXCLUSION_VIOLATION
        return
    # SQLite has no such constraint; the service's transaction holds the write lock instead,
    # so no other writer can slip a booking in between its overlap check and its insert.
    path = make_url(db_url).database
    async with unit_of_work(sessions) as session:
        await lock_bookings(session)
        async with aiosqlite.connect(path, timeout=0.2) as other:
            with pytest.raises(aiosqlite.OperationalError, match="locked"):
                await other.execute("BEGIN IMMEDIATE")
    async with aiosqlite.connect(path, timeout=0.2) as other:
        await other.execute("BEGIN IMMEDIATE")
        await other.rollback()


async def test_events_are_published_only_when_the_transaction_commits(sessions, people):
    bus = EventBus()
    heard: list[dict] = []

    async def record(_topic: str, payload: dict) -> None:
        heard.append(payload)

    bus.subscribe("booking.test", record)
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            publish_after_commit(session, bus, "booking.test", {"n": 1})
            raise RuntimeError("rolled back")
    async with unit_of_work(sessions) as session:
        publish_after_commit(session, bus, "booking.test", {"n": 2})
        assert heard == []  # not before the commit
    await wait_for(lambda: heard, what="the committed event")
    assert heard == [{"n": 2}]
