"""Bookable resources: creating, editing, listing and removing them, and reading their policy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import ACTIVE_STATES, Reservation, Resource
from booking.paging import Page, decode_cursor, encode_cursor
from booking.policy import BookingPolicy
from booking.schemas import parse_policy, policy_to_body
from core.errors import Conflict, Invalid, NotFound

# Parsed policies by their stored JSON: parsing runs pydantic and the policy's own checks, which
# costs more than the rest of a booking request, and a resource's rules change rarely.
_POLICIES: dict[bytes, BookingPolicy] = {}
_POLICY_CACHE_SIZE = 512


def policy_of(resource: Resource) -> BookingPolicy:
    key = orjson.dumps(resource.policy, option=orjson.OPT_SORT_KEYS)
    policy = _POLICIES.get(key)
    if policy is None:
        policy = parse_policy(resource.policy)
        if len(_POLICIES) >= _POLICY_CACHE_SIZE:
            _POLICIES.clear()
        _POLICIES[key] = policy
    return policy


def local_iso(policy: BookingPolicy, instant: datetime | None) -> str | None:
    """An instant as ISO 8601 on the resource's wall clock, with its offset."""
    return None if instant is None else instant.astimezone(policy.zone).isoformat()


def resource_view(resource: Resource) -> dict[str, Any]:
    return {
        "id": resource.id,
        **resource.policy,
        "created_at": resource.created_at.isoformat(),
        "updated_at": resource.updated_at.isoformat(),
    }


async def create_resource(session: AsyncSession, body: Mapping[str, Any]) -> Resource:
    policy = parse_policy(body)
    resource = Resource(type=policy.type, name=policy.name, policy=policy_to_body(policy))
    session.add(resource)
    await session.flush()
    return resource


async def get_resource(session: AsyncSession, resource_id: int, *, lock: bool = False) -> Resource:
    query = select(Resource).where(Resource.id == resource_id)
    if lock:
        query = query.with_for_update()
    resource = await session.scalar(query)
    if resource is None:
        raise NotFound(f"There is no resource #{resource_id}.")
    return resource


async def update_resource(
    session: AsyncSession, resource_id: int, changes: Mapping[str, Any]
) -> Resource:
    """Apply a partial update; the merged rules are validated as a whole, like a new resource.

    Existing reservations keep their times: a change of hours or limits applies to bookings
    made from now on, and staff move or cancel the ones it affects.
    """
    resource = await get_resource(session, resource_id)
    policy = parse_policy({**policy_to_body(policy_of(resource)), **changes})
    resource.type, resource.name = policy.type, policy.name
    resource.policy = policy_to_body(policy)
    await session.flush()
    return resource


async def delete_resource(session: AsyncSession, resource_id: int, now: datetime) -> None:
    """Remove a resource and its booking history, unless members still hold bookings on it."""
    resource = await get_resource(session, resource_id)
    upcoming = await session.scalar(
        select(func.count())
        .select_from(Reservation)
        .where(
            Reservation.resource_id == resource_id,
            Reservation.state.in_(ACTIVE_STATES),
            Reservation.ends_at > now,
        )
    )
    if upcoming:
        raise Conflict(
            f"'{resource.name}' still has {upcoming} upcoming booking(s); cancel them first, "
            "so that the members are told."
        )
    await session.delete(resource)
    await session.flush()


async def list_resources(
    session: AsyncSession, *, type: str | None = None, limit: int = 50, after: str | None = None
) -> Page[Resource]:
    """Resources by id, optionally of one type, paged with an opaque cursor."""
    filters = [Resource.type == type] if type else []
    total = await session.scalar(select(func.count()).select_from(Resource).where(*filters)) or 0
    query = select(Resource).where(*filters).order_by(Resource.id).limit(limit + 1)
    if after:
        (last_id,) = decode_cursor(after, 1)
        if not last_id.isdigit():
            raise Invalid("The page cursor is not valid.", field="after")
        query = query.where(Resource.id > int(last_id))
    rows = list(await session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, total, encode_cursor(rows[-1].id) if more else None)
