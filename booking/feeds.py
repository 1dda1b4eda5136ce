"""Calendar feeds of reservations, and the feed tokens that let a calendar app fetch them.

Calendar apps cannot send an Authorization header, so a feed URL carries its own token. That
token opens the member's feed and nothing else (`TokenKind.feed`), never expires by itself, and
is revoked on its own without signing the member out anywhere.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.calendar import CalendarEntry, build_feed
from booking.models import Reservation, Resource
from booking.reservations import is_staff
from booking.resources import get_resource, policy_of
from core.accounts import issue_token, user_for_token
from core.database import utcnow
from core.errors import Forbidden
from core.models import Token, TokenKind, User

# A feed shows recent history too, so a member can look back at what they booked.
FEED_HISTORY = timedelta(days=90)


async def create_feed_token(session: AsyncSession, member: User) -> str:
    """A new feed token; the previous one stops working, so a leaked URL is fixed by renewing."""
    await revoke_feed_tokens(session, member)
    return await issue_token(session, member, TokenKind.feed, None)


async def revoke_feed_tokens(session: AsyncSession, member: User) -> int:
    result = await session.execute(
        update(Token)
        .where(
            Token.user_id == member.id,
            Token.kind == TokenKind.feed.value,
            Token.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


def _entry(reservation: Reservation, resource: Resource, who: User | None) -> CalendarEntry:
    policy = policy_of(resource)
    description = None
    if who is not None:
        description = f"Booked by {who.name or who.email}"
    return CalendarEntry(
        uid=f"reservation-{reservation.id}@smartlib",
        start=reservation.starts_at,
        end=reservation.ends_at,
        timezone=policy.timezone,
        summary=resource.name,
        state=reservation.state,
        location=policy.location,
        description=description,
        updated_at=reservation.updated_at,
        sequence=reservation.sequence,
    )


async def member_feed(session: AsyncSession, token: str, *, now: datetime) -> bytes:
    """The member's own reservations as iCalendar; the token alone says whose."""
    member = await user_for_token(session, token, {TokenKind.feed})
    rows = await session.execute(
        select(Reservation, Resource)
        .join(Resource, Resource.id == Reservation.resource_id)
        .where(Reservation.user_id == member.id, Reservation.ends_at > now - FEED_HISTORY)
        .order_by(Reservation.starts_at, Reservation.id)
    )
    entries = [_entry(reservation, resource, None) for reservation, resource in rows]
    return build_feed(entries, name="My makerspace bookings", generated_at=now)


async def resource_feed(
    session: AsyncSession, actor: User, resource_id: int, *, now: datetime
) -> bytes:
    """Every reservation of one resource, with who booked it: for staff only."""
    if not is_staff(actor):
        raise Forbidden("Only staff can subscribe to a resource's calendar.")
    resource = await get_resource(session, resource_id)
    rows = await session.execute(
        select(Reservation, User)
        .join(User, User.id == Reservation.user_id)
        .where(Reservation.resource_id == resource.id, Reservation.ends_at > now - FEED_HISTORY)
        .order_by(Reservation.starts_at, Reservation.id)
    )
    entries = [_entry(reservation, resource, who) for reservation, who in rows]
    return build_feed(entries, name=resource.name, generated_at=now)


async def feed_user(session: AsyncSession, token: str) -> User:
    return await user_for_token(session, token, {TokenKind.feed})
