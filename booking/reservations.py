"""Reservations: requesting, approving, moving, cancelling, checking in, and releasing no-shows.

Each function runs inside the caller's transaction and leaves committing to it. The rules
(`booking.rules`) decide whether a member may have a slot; the database decides whether anyone
else already has it, so two requests for one slot at the same instant can never both succeed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.availability import FreeInterval, free_intervals, slot_for_duration
from booking.hours import TimeRange
from booking.models import ACTIVE_STATES, Reservation, Resource, State
from booking.occupancy import (
    active_bookings,
    conflict_error,
    first_conflict,
    is_exclusion_violation,
    lock_bookings,
    lock_member,
    member_facts,
)
from booking.paging import Page, decode_cursor, encode_cursor
from booking.policy import BookingPolicy
from booking.resources import get_resource, local_iso, policy_of
from booking.rules import Breach, check_request
from booking.waitlist import offer_freed
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.events import EventBus
from core.models import Role, User

# Who counts as staff for bookings: approves, overrides, cancels at any time, sees everyone's.
STAFF = Role.librarian
# How early before the start a member may check in.
CHECK_IN_EARLY = timedelta(minutes=15)
# How long after the start an unchecked booking is kept before it is released as a no-show.
DEFAULT_NO_SHOW_GRACE = timedelta(minutes=15)
# Longest window one availability question may cover; longer ones are paged by the client.
MAX_AVAILABILITY_WINDOW = timedelta(days=62)


class JobEstimator(Protocol):
    """Looks up a print job's slicer estimate in seconds; None for an unknown or unsliced job.

    The print farm provides it; booking only needs the number, so it does not import the farm.
    """

    def __call__(self, job_id: str) -> Awaitable[float | None]: ...


@dataclass(frozen=True)
class BookingRequest:
    resource_id: int
    start: datetime
    end: datetime | None = None
    duration_from_job: str | None = None
    # Staff only: book for this member instead of for themselves.
    user_id: int | None = None
    # Staff only: waive the member-facing rules, for the reason given.
    override_reason: str | None = None


def is_staff(user: User) -> bool:
    return user.role >= STAFF


def reservation_view(reservation: Reservation, resource: Resource) -> dict[str, Any]:
    """A reservation for the API, its times on the resource's wall clock."""
    policy = policy_of(resource)
    override = None
    if reservation.override_reason is not None:
        override = {
            "by": reservation.override_by,
            "reason": reservation.override_reason,
            "rules": reservation.override_rules or [],
        }
    return {
        "id": reservation.id,
        "resource_id": reservation.resource_id,
        "resource_name": resource.name,
        "user_id": reservation.user_id,
        "start": local_iso(policy, reservation.starts_at),
        "end": local_iso(policy, reservation.ends_at),
        "blocked_until": local_iso(policy, reservation.blocked_until),
        "timezone": policy.timezone,
        "state": reservation.state,
        "checked_in_at": local_iso(policy, reservation.checked_in_at),
        "print_job_id": reservation.print_job_id,
        "override": override,
        "decided_by": reservation.decided_by,
        "decision_note": reservation.decision_note,
        "created_at": reservation.created_at.isoformat(),
        "updated_at": reservation.updated_at.isoformat(),
    }


def _breaches_record(breaches: tuple[Breach, ...]) -> list[dict[str, Any]]:
    return [{"rule": b.rule.value, "message": b.message} for b in breaches]


async def create_reservation(
    session: AsyncSession,
    actor: User,
    request: BookingRequest,
    *,
    now: datetime,
    estimator: JobEstimator | None = None,
) -> tuple[Reservation, Resource]:
    """Book a slot; 422 when a rule refuses, 409 when the slot (with its buffer) is taken."""
    booker_id = actor.id
    if request.user_id is not None and request.user_id != actor.id:
        if not is_staff(actor):
            raise Forbidden("Only staff can book for another member.")
        booker_id = request.user_id
    if request.override_reason is not None and not is_staff(actor):
        raise Forbidden("Only staff can override the booking rules.")
    # Asked before the locks are taken: the print farm's answer may take its own queries.
    job_seconds = None
    if request.duration_from_job is not None:
        job_seconds = await _job_seconds(request.duration_from_job, estimator)
    await lock_bookings(session)
    await lock_member(session, booker_id)
    if booker_id != actor.id and await session.get(User, booker_id) is None:
        raise NotFound(f"There is no user #{booker_id}.")

    resource = await get_resource(session, request.resource_id)
    policy = policy_of(resource)
    start, end = request.start, request.end
    if job_seconds is not None:
        if start.tzinfo is None:
            raise Invalid("The start time needs a UTC offset.", field="start")
        end = slot_for_duration(policy, start, job_seconds)
    if end is None:
        raise Invalid("Give an end time, or a print job to size the slot from.", field="end")

    facts = await member_facts(session, booker_id, policy, start, end, now)
    override = request.override_reason is not None
    breaches = check_request(
        policy, start, end, now, facts, override=override, override_reason=request.override_reason
    )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    blocked_until = end + timedelta(minutes=policy.buffer_minutes)
    taken = await first_conflict(session, resource.id, start, blocked_until)
    if taken is not None:
        raise conflict_error(policy, taken)

    reservation = Reservation(
        resource_id=resource.id,
        user_id=booker_id,
        starts_at=start,
        ends_at=end,
        blocked_until=blocked_until,
        state=(
            State.requested.value
            if policy.needs_approval and not is_staff(actor)
            else State.confirmed.value
        ),
        print_job_id=request.duration_from_job,
        created_at=now,
        updated_at=now,
    )
    if override:
        reservation.override_by = actor.id
        reservation.override_reason = (request.override_reason or "").strip()
        reservation.override_rules = _breaches_record(breaches)
    await _write_guarded(
        session, policy, resource.id, start, blocked_until, None, lambda: session.add(reservation)
    )
    return reservation, resource


async def _job_seconds(job_id: str, estimator: JobEstimator | None) -> float:
    if estimator is None:
        raise Invalid(
            "Slots cannot be sized from print jobs on this server yet; give an end time instead.",
            field="duration_from_job",
        )
    seconds = await estimator(job_id)
    if seconds is None:
        raise NotFound(
            f"Print job {job_id} was not found or has no time estimate yet; slice it first, or "
            "give an end time.",
            field="duration_from_job",
        )
    return seconds


async def _write_guarded(
    session: AsyncSession,
    policy: BookingPolicy,
    resource_id: int,
    start: datetime,
    blocked_until: datetime,
    exclude_id: int | None,
    write: Callable[[], None],
) -> None:
    """Apply `write` (an insert or a move) and flush it, turning an exclusion violation into 409.

    On PostgreSQL the write runs in a savepoint: after a violation the transaction is still
    usable to look up the reservation that won, so the loser hears which slot is taken. The
    change must be made inside the savepoint, or its failure would take the whole transaction.
    """
    if session.bind.dialect.name != "postgresql":
        write()
        await session.flush()
        return
    try:
        async with session.begin_nested():
            write()
            await session.flush()
    except IntegrityError as error:
        if not is_exclusion_violation(error):
            raise
        taken = await first_conflict(
            session, resource_id, start, blocked_until, exclude_id=exclude_id
        )
        if taken is None:
            raise Conflict(
                f"'{policy.name}' was booked for that time a moment ago; choose another time.",
                field="start",
            ) from None
        raise conflict_error(policy, taken) from None


async def get_reservation(
    session: AsyncSession, actor: User, reservation_id: int, *, lock: bool = False
) -> tuple[Reservation, Resource]:
    """A reservation its owner or staff may see; others get a 404, not a hint that it exists.

    With `lock`, the reservation's row stays locked until the transaction ends (PostgreSQL), so
    two changes to one reservation (say, a cancel and an approval) happen one after the other.
    """
    query = (
        select(Reservation, Resource)
        .join(Resource, Resource.id == Reservation.resource_id)
        .where(Reservation.id == reservation_id)
    )
    if lock:
        query = query.with_for_update(of=Reservation)
    row = (await session.execute(query)).first()
    if row is None or (row[0].user_id != actor.id and not is_staff(actor)):
        raise NotFound(f"There is no reservation #{reservation_id}.")
    return row[0], row[1]


def _require_active(reservation: Reservation, doing: str) -> None:
    if reservation.state not in ACTIVE_STATES:
        raise Conflict(
            f"Reservation #{reservation.id} is {reservation.state.replace('_', ' ')}, so it "
            f"cannot be {doing}."
        )


async def approve_reservation(
    session: AsyncSession, actor: User, reservation_id: int, note: str | None = None
) -> tuple[Reservation, Resource]:
    reservation, resource = await _staff_decision(session, actor, reservation_id, "approved")
    reservation.state = State.confirmed.value
    reservation.decision_note = note
    reservation.sequence += 1
    await session.flush()
    return reservation, resource


async def deny_reservation(
    session: AsyncSession,
    bus: EventBus,
    actor: User,
    reservation_id: int,
    note: str | None,
    *,
    now: datetime,
) -> tuple[Reservation, Resource]:
    reservation, resource = await _staff_decision(session, actor, reservation_id, "denied")
    reservation.state = State.denied.value
    reservation.decision_note = note
    reservation.sequence += 1
    await session.flush()
    await offer_freed(session, bus, resource, _held(reservation), now)
    return reservation, resource


async def _staff_decision(
    session: AsyncSession, actor: User, reservation_id: int, doing: str
) -> tuple[Reservation, Resource]:
    if not is_staff(actor):
        raise Forbidden("Only staff can approve or deny booking requests.")
    await lock_bookings(session)
    reservation, resource = await get_reservation(session, actor, reservation_id, lock=True)
    if reservation.state != State.requested.value:
        raise Conflict(
            f"Reservation #{reservation.id} is {reservation.state.replace('_', ' ')}, not "
            f"waiting for approval, so it cannot be {doing}."
        )
    reservation.decided_by = actor.id
    return reservation, resource


def _held(reservation: Reservation) -> TimeRange:
    return TimeRange(reservation.starts_at, reservation.blocked_until)


async def cancel_reservation(
    session: AsyncSession,
    bus: EventBus,
    actor: User,
    reservation_id: int,
    *,
    now: datetime,
    note: str | None = None,
) -> tuple[Reservation, Resource]:
    """Call a booking off: its member until it starts, staff at any time."""
    await lock_bookings(session)
    reservation, resource = await get_reservation(session, actor, reservation_id, lock=True)
    _require_active(reservation, "cancelled")
    if not is_staff(actor) and now >= reservation.starts_at:
        raise Forbidden(
            "A booking can only be cancelled before it starts; ask the makerspace staff."
        )
    reservation.state = State.cancelled.value
    reservation.decided_by = actor.id
    reservation.decision_note = note
    reservation.sequence += 1
    await session.flush()
    await offer_freed(session, bus, resource, _held(reservation), now)
    return reservation, resource


async def move_reservation(
    session: AsyncSession,
    bus: EventBus,
    actor: User,
    reservation_id: int,
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    override_reason: str | None = None,
) -> tuple[Reservation, Resource]:
    """Move a booking to new times, checked like a new request (without counting itself).

    A missing start keeps the old one; a missing end keeps the booking's length.
    """
    if override_reason is not None and not is_staff(actor):
        raise Forbidden("Only staff can override the booking rules.")
    await lock_bookings(session)
    # The member is locked before their reservation, in the order every writer takes them.
    owner_id = await session.scalar(
        select(Reservation.user_id).where(Reservation.id == reservation_id)
    )
    if owner_id is not None:
        await lock_member(session, owner_id)
    reservation, resource = await get_reservation(session, actor, reservation_id, lock=True)
    _require_active(reservation, "moved")
    if not is_staff(actor) and now >= reservation.starts_at:
        raise Forbidden("A booking can only be moved before it starts; ask the makerspace staff.")
    if reservation.checked_in_at is not None and not is_staff(actor):
        raise Forbidden("You have already checked in; ask the makerspace staff to change it.")
    policy = policy_of(resource)
    if start is None:
        start = reservation.starts_at
    if end is None:
        end = start + (reservation.ends_at - reservation.starts_at)
    facts = await member_facts(
        session, owner_id, policy, start, end, now, exclude_id=reservation.id
    )
    breaches = check_request(
        policy,
        start,
        end,
        now,
        facts,
        override=override_reason is not None,
        override_reason=override_reason,
    )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    blocked_until = end + timedelta(minutes=policy.buffer_minutes)
    taken = await first_conflict(
        session, resource.id, start, blocked_until, exclude_id=reservation.id
    )
    if taken is not None:
        raise conflict_error(policy, taken)

    previous = _held(reservation)

    def move() -> None:
        reservation.starts_at, reservation.ends_at = start, end
        reservation.blocked_until = blocked_until
        reservation.sequence += 1
        reservation.updated_at = now
        if override_reason is not None:
            reservation.override_by = actor.id
            reservation.override_reason = override_reason.strip()
            reservation.override_rules = _breaches_record(breaches)
        if policy.needs_approval and not is_staff(actor):
            # An approval was given for the old times, not for these.
            reservation.state = State.requested.value

    await _write_guarded(session, policy, resource.id, start, blocked_until, reservation.id, move)
    for freed in _difference(previous, TimeRange(start, blocked_until)):
        await offer_freed(session, bus, resource, freed, now)
    return reservation, resource


def _difference(old: TimeRange, new: TimeRange) -> list[TimeRange]:
    pieces = []
    if old.start < new.start:
        pieces.append(TimeRange(old.start, min(old.end, new.start)))
    if new.end < old.end:
        pieces.append(TimeRange(max(old.start, new.end), old.end))
    return [piece for piece in pieces if piece.start < piece.end]


async def check_in(
    session: AsyncSession, actor: User, reservation_id: int, *, now: datetime
) -> tuple[Reservation, Resource]:
    """Mark that the member came; from a little before the start until the end."""
    await lock_bookings(session)
    reservation, resource = await get_reservation(session, actor, reservation_id, lock=True)
    if reservation.checked_in_at is not None:
        return reservation, resource
    if reservation.state == State.requested.value:
        raise Conflict("This booking is still waiting for a librarian's approval.")
    _require_active(reservation, "checked in")
    policy = policy_of(resource)
    opens = reservation.starts_at - CHECK_IN_EARLY
    if now < opens:
        raise Invalid(
            f"Check-in opens {int(CHECK_IN_EARLY.total_seconds() // 60)} min before the "
            f"booking, at {opens.astimezone(policy.zone):%H:%M} ({policy.timezone} time)."
        )
    if now >= reservation.ends_at:
        raise Invalid("This booking has already ended.")
    reservation.checked_in_at = now
    await session.flush()
    return reservation, resource


async def release_no_shows(
    session: AsyncSession,
    bus: EventBus,
    *,
    now: datetime,
    grace: timedelta = DEFAULT_NO_SHOW_GRACE,
) -> list[Reservation]:
    """Release confirmed bookings nobody checked in to within `grace` of their start.

    Called periodically by the worker. What is left of each released slot is offered to the
    waitlist at once.
    """
    await lock_bookings(session)
    released = list(
        await session.scalars(
            select(Reservation)
            .where(
                Reservation.state == State.confirmed.value,
                Reservation.checked_in_at.is_(None),
                Reservation.starts_at <= now - grace,
            )
            .order_by(Reservation.starts_at)
            .with_for_update()
        )
    )
    resources: dict[int, Resource] = {}
    for reservation in released:
        reservation.state = State.no_show.value
        reservation.sequence += 1
        reservation.updated_at = now
    await session.flush()
    for reservation in released:
        resource = resources.get(reservation.resource_id)
        if resource is None:
            resource = resources[reservation.resource_id] = await get_resource(
                session, reservation.resource_id
            )
        remaining = TimeRange(max(reservation.starts_at, now), reservation.blocked_until)
        await offer_freed(session, bus, resource, remaining, now)
    return released


async def complete_finished(session: AsyncSession, *, now: datetime) -> int:
    """Mark checked-in bookings that have ended as completed; returns how many."""
    finished = list(
        await session.scalars(
            select(Reservation).where(
                Reservation.state == State.confirmed.value,
                Reservation.checked_in_at.is_not(None),
                Reservation.ends_at <= now,
            )
        )
    )
    for reservation in finished:
        reservation.state = State.completed.value
        reservation.updated_at = now
    await session.flush()
    return len(finished)


async def list_reservations(
    session: AsyncSession,
    actor: User,
    *,
    resource_id: int | None = None,
    user_id: int | None = None,
    state: str | None = None,
    limit: int = 50,
    after: str | None = None,
) -> Page[tuple[Reservation, Resource]]:
    """Reservations by start time. A member sees only their own; staff see everyone's."""
    filters = []
    if not is_staff(actor):
        if user_id is not None and user_id != actor.id:
            raise Forbidden("Members can only list their own reservations.")
        user_id = actor.id
    if user_id is not None:
        filters.append(Reservation.user_id == user_id)
    if resource_id is not None:
        filters.append(Reservation.resource_id == resource_id)
    if state is not None:
        if state not in State.__members__:
            raise Invalid(
                f"'{state}' is not a reservation state; use one of {', '.join(State)}.",
                field="state",
            )
        filters.append(Reservation.state == state)
    total = await session.scalar(select(func.count()).select_from(Reservation).where(*filters)) or 0
    query = (
        select(Reservation, Resource)
        .join(Resource, Resource.id == Reservation.resource_id)
        .where(*filters)
        .order_by(Reservation.starts_at, Reservation.id)
        .limit(limit + 1)
    )
    if after:
        instant, last_id = decode_cursor(after, 2)
        try:
            last_start = datetime.fromisoformat(instant)
            last = int(last_id)
        except ValueError:
            raise Invalid("The page cursor is not valid.", field="after") from None
        query = query.where(
            or_(
                Reservation.starts_at > last_start,
                and_(Reservation.starts_at == last_start, Reservation.id > last),
            )
        )
    rows = [(r, res) for r, res in await session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = encode_cursor(rows[-1][0].starts_at.isoformat(), rows[-1][0].id) if more else None
    return Page(rows, total, cursor)


async def availability(
    session: AsyncSession,
    resource_id: int,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    member: User | None,
) -> tuple[Resource, list[FreeInterval]]:
    """Free, bookable stretches of the resource; a member's own limits shrink them further."""
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("Give 'from' and 'to' with a UTC offset, e.g. 2026-11-23T08:00:00+07:00.")
    if end <= start:
        raise Invalid("'to' must come after 'from'.", field="to")
    if end - start > MAX_AVAILABILITY_WINDOW:
        raise Invalid(f"Ask for at most {MAX_AVAILABILITY_WINDOW.days} days at a time.", field="to")
    resource = await get_resource(session, resource_id)
    policy = policy_of(resource)
    reach = timedelta(minutes=policy.buffer_minutes)
    bookings = await active_bookings(session, resource.id, start, end, reach)
    facts = None
    if member is not None and not is_staff(member):
        facts = await member_facts(session, member.id, policy, start, end, now)
    return resource, free_intervals(policy, start, end, bookings, now=now, member=facts)
