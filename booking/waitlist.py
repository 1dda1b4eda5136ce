"""Waiting for a taken slot, and offering it to the next member in line when it frees up.

An offer is a notice, not a hold: the member books the slot through the ordinary request, so
the rules and the database's overlap guarantee apply to them like to anyone. Offers go out in
the order members joined, one freed slot to one member.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.hours import TimeRange
from booking.models import Resource, WaitlistEntry, WaitState
from booking.occupancy import first_conflict, member_facts
from booking.policy import BookingPolicy
from booking.publishing import publish_after_commit
from booking.resources import get_resource, local_iso, policy_of
from booking.rules import check_request
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.events import EventBus
from core.models import User

SLOT_OFFERED = "booking.slot_offered"


def entry_view(entry: WaitlistEntry, resource: Resource) -> dict[str, Any]:
    policy = policy_of(resource)
    return {
        "id": entry.id,
        "resource_id": entry.resource_id,
        "resource_name": resource.name,
        "user_id": entry.user_id,
        "start": local_iso(policy, entry.starts_at),
        "end": local_iso(policy, entry.ends_at),
        "timezone": policy.timezone,
        "state": entry.state,
        "created_at": entry.created_at.isoformat(),
        "offered_at": entry.offered_at.isoformat() if entry.offered_at else None,
    }


async def join_waitlist(
    session: AsyncSession,
    member: User,
    resource_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
) -> WaitlistEntry:
    """Queue for a slot that is taken; refused if the member could not book it anyway."""
    resource = await get_resource(session, resource_id)
    policy = policy_of(resource)
    facts = await member_facts(session, member.id, policy, start, end, now)
    check_request(policy, start, end, now, facts)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    blocked_until = end + timedelta(minutes=policy.buffer_minutes)
    if await first_conflict(session, resource.id, start, blocked_until) is None:
        raise Invalid(
            f"'{resource.name}' is free at that time; book it instead of waiting.", field="start"
        )
    duplicate = await session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.user_id == member.id,
            WaitlistEntry.resource_id == resource.id,
            WaitlistEntry.starts_at == start,
            WaitlistEntry.ends_at == end,
            WaitlistEntry.state == WaitState.waiting.value,
        )
    )
    if duplicate is not None:
        raise Conflict("You are already on the waitlist for this slot.")
    entry = WaitlistEntry(
        resource_id=resource.id, user_id=member.id, starts_at=start, ends_at=end, created_at=now
    )
    session.add(entry)
    await session.flush()
    return entry


async def my_waitlist(session: AsyncSession, member: User) -> list[tuple[WaitlistEntry, Resource]]:
    rows = await session.execute(
        select(WaitlistEntry, Resource)
        .join(Resource, Resource.id == WaitlistEntry.resource_id)
        .where(
            WaitlistEntry.user_id == member.id,
            WaitlistEntry.state != WaitState.withdrawn.value,
        )
        .order_by(WaitlistEntry.starts_at, WaitlistEntry.id)
    )
    return [(entry, resource) for entry, resource in rows]


async def leave_waitlist(session: AsyncSession, member: User, entry_id: int) -> None:
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None or entry.state == WaitState.withdrawn.value:
        raise NotFound(f"There is no waitlist entry #{entry_id}.")
    if entry.user_id != member.id:
        raise Forbidden("This waitlist entry belongs to another member.")
    entry.state = WaitState.withdrawn.value
    await session.flush()


async def offer_freed(
    session: AsyncSession,
    bus: EventBus,
    resource: Resource,
    freed: TimeRange,
    now: datetime,
) -> WaitlistEntry | None:
    """Offer a freed stretch to the first waiting member whose slot now fits entirely.

    The event goes out when the transaction that freed the slot commits, so the member never
    hears of a slot their booking request could not yet see.
    """
    policy = policy_of(resource)
    buffer = timedelta(minutes=policy.buffer_minutes)
    if freed.end <= max(freed.start, now):
        return None
    candidates = await session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.resource_id == resource.id,
            WaitlistEntry.state == WaitState.waiting.value,
            WaitlistEntry.starts_at < freed.end,
            # An entry's own cool-down must fit into the freed stretch too.
            WaitlistEntry.ends_at > freed.start - buffer,
            WaitlistEntry.starts_at > now,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    for entry in candidates:
        taken = await first_conflict(session, resource.id, entry.starts_at, entry.ends_at + buffer)
        if taken is not None:
            continue
        entry.state = WaitState.offered.value
        entry.offered_at = now
        await session.flush()
        publish_after_commit(session, bus, SLOT_OFFERED, _offer(entry, resource, policy))
        return entry
    return None


def _offer(entry: WaitlistEntry, resource: Resource, policy: BookingPolicy) -> dict[str, Any]:
    return {
        "waitlist_id": entry.id,
        "user_id": entry.user_id,
        "resource_id": resource.id,
        "resource_name": resource.name,
        "start": local_iso(policy, entry.starts_at),
        "end": local_iso(policy, entry.ends_at),
        "timezone": policy.timezone,
    }
