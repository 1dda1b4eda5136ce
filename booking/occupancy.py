"""Who holds a resource when, and what the database says when two bookings collide.

Both databases answer "is this slot taken?" with the same overlap query. What makes the answer
safe under concurrency differs: PostgreSQL's exclusion constraint rejects the second of two
overlapping inserts however they interleave, while SQLite, which has no such constraint, gets
its writers serialised (`BEGIN IMMEDIATE`) so the check and the insert happen as one step.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from booking.certifications import held_certifications
from booking.hours import TimeRange
from booking.models import ACTIVE_STATES, Reservation, Resource, State
from booking.policy import BookingPolicy
from booking.rules import MemberFacts, format_day, minutes_by_week, week_range
from core.errors import Conflict
from core.models import User

EXCLUSION_VIOLATION = "23P01"
# One writer lock per SQLite engine (that is, per database file) in this process.
_WRITERS: WeakKeyDictionary[Engine, asyncio.Lock] = WeakKeyDictionary()
_LOCKED = "booking.writer_locked"
# Bookings that still count against a member's weekly hours: what they booked, whether or not
# they came, but not what was called off.
_COUNTED_STATES = (
    State.requested.value,
    State.confirmed.value,
    State.completed.value,
    State.no_show.value,
)


async def lock_bookings(session: AsyncSession) -> None:
    """Serialise booking writers on SQLite; call it first thing in the transaction.

    SQLite has no exclusion constraints, so the overlap check and the write must happen under
    the database's write lock, taken up front (`BEGIN IMMEDIATE`): other processes' writers
    wait on the busy timeout meanwhile. Writers of this process first queue on an asyncio lock,
    in order, instead of polling SQLite's busy handler, whose back-off sleeps would otherwise
    set the tail latency. PostgreSQL needs nothing here: its constraint settles every race.
    """
    if session.bind.dialect.name != "sqlite" or session.info.get(_LOCKED):
        return
    # The asyncio lock comes before a pooled connection, so queued writers hold no connections.
    lock = _WRITERS.setdefault(session.bind.sync_engine, asyncio.Lock())
    await lock.acquire()
    sync_session = session.sync_session
    sync_session.info[_LOCKED] = lock
    if not event.contains(sync_session, "after_transaction_end", _release_writer):
        event.listen(sync_session, "after_transaction_end", _release_writer)
    try:
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        # A transaction that has written already holds SQLite's write lock; else take it now.
        if not raw.driver_connection.in_transaction:  # type: ignore[union-attr]
            await session.execute(text("BEGIN IMMEDIATE"))
    except BaseException:
        # Without a transaction there is no end of one to release the lock.
        if not session.in_transaction() and sync_session.info.pop(_LOCKED, None) is lock:
            lock.release()
        raise


def _release_writer(sync_session: Session, transaction: SessionTransaction) -> None:
    # Savepoints and flushes end transactions too; only the outermost one ends the lock.
    if transaction.parent is None:
        lock = sync_session.info.pop(_LOCKED, None)
        if lock is not None:
            lock.release()


async def lock_member(session: AsyncSession, user_id: int) -> None:
    """Serialise one member's concurrent requests, so that together they cannot exceed a limit.

    Needed on PostgreSQL only; on SQLite `lock_bookings` already serialises every writer.
    """
    if session.bind.dialect.name != "sqlite":
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def first_conflict(
    session: AsyncSession,
    resource_id: int,
    start: datetime,
    blocked_until: datetime,
    *,
    exclude_id: int | None = None,
) -> Reservation | None:
    """The earliest active reservation whose occupied time meets [start, blocked_until)."""
    query = (
        select(Reservation)
        .where(
            Reservation.resource_id == resource_id,
            Reservation.state.in_(ACTIVE_STATES),
            Reservation.starts_at < blocked_until,
            Reservation.blocked_until > start,
        )
        .order_by(Reservation.starts_at)
        .limit(1)
    )
    if exclude_id is not None:
        query = query.where(Reservation.id != exclude_id)
    return await session.scalar(query)


def conflict_error(policy: BookingPolicy, taken: Reservation) -> Conflict:
    """A 409 naming the slot that is taken, on the resource's wall clock (never by whom)."""
    first = taken.starts_at.astimezone(policy.zone)
    last = taken.ends_at.astimezone(policy.zone)
    if first.date() == last.date():
        span = f"on {format_day(first.date())} from {first:%H:%M} to {last:%H:%M}"
    else:
        span = (
            f"from {format_day(first.date())} {first:%H:%M} to "
            f"{format_day(last.date())} {last:%H:%M}"
        )
    buffer = taken.blocked_until - taken.ends_at
    cool_down = ""
    if buffer > timedelta(0):
        cool_down = f", followed by {int(buffer.total_seconds() // 60)} min to get it ready again"
    return Conflict(
        f"'{policy.name}' is already booked {span} ({policy.timezone} time){cool_down}; "
        "choose another time or join the waitlist for this slot.",
        field="start",
    )


def is_exclusion_violation(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == EXCLUSION_VIOLATION


async def member_facts(
    session: AsyncSession,
    user_id: int,
    policy: BookingPolicy,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    exclude_id: int | None = None,
) -> MemberFacts:
    """What the rules need to know about a member for a booking of `policy`'s type in [start, end).

    `exclude_id` leaves out a reservation being moved, so it does not count against itself.
    """
    same_type = Reservation.resource_id.in_(
        select(Resource.id).where(Resource.type == policy.type).scalar_subquery()
    )
    mine = [Reservation.user_id == user_id, same_type]
    if exclude_id is not None:
        mine.append(Reservation.id != exclude_id)
    active = await session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(*mine, Reservation.state.in_(ACTIVE_STATES), Reservation.ends_at > now)
    )

    booked: dict[tuple[str, date], int] = {}
    if policy.max_minutes_per_week is not None:
        weeks = sorted(minutes_by_week(policy, [TimeRange(start, end)]))
        if weeks:
            window = TimeRange(
                week_range(policy, weeks[0]).start, week_range(policy, weeks[-1]).end
            )
            rows = await session.execute(
                select(Reservation.starts_at, Reservation.ends_at).where(
                    *mine,
                    Reservation.state.in_(_COUNTED_STATES),
                    Reservation.starts_at < window.end,
                    Reservation.ends_at > window.start,
                )
            )
            ranges = [TimeRange(a, b) for a, b in rows]
            booked = {
                (policy.type, monday): minutes
                for monday, minutes in minutes_by_week(policy, ranges).items()
            }

    certifications = (
        await held_certifications(session, user_id) if policy.certification is not None else {}
    )
    return MemberFacts(
        active_reservations={policy.type: active or 0},
        booked_minutes=booked,
        certifications=certifications,
    )


async def active_bookings(
    session: AsyncSession, resource_id: int, start: datetime, end: datetime, reach: timedelta
) -> list[TimeRange]:
    """The resource's active reservations within `reach` of [start, end), as booked times."""
    rows = await session.execute(
        select(Reservation.starts_at, Reservation.ends_at).where(
            Reservation.resource_id == resource_id,
            Reservation.state.in_(ACTIVE_STATES),
            Reservation.starts_at < end + reach,
            Reservation.blocked_until > start - reach,
        )
    )
    return [TimeRange(a, b) for a, b in rows]
