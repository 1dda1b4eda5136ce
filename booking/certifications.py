"""Trainings a librarian records for a member, each with an optional expiry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import Certification
from core.database import utcnow
from core.errors import Invalid, NotFound
from core.models import User


def certification_view(certification: Certification) -> dict[str, Any]:
    return {
        "user_id": certification.user_id,
        "type": certification.type,
        "expires_at": (certification.expires_at.isoformat() if certification.expires_at else None),
        "granted_by": certification.granted_by,
        "granted_at": certification.granted_at.isoformat(),
    }


async def _member(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"There is no user #{user_id}.")
    return user


async def grant_certification(
    session: AsyncSession,
    granted_by: User,
    user_id: int,
    type: str,
    expires_at: datetime | None,
) -> Certification:
    """Record a training; granting one the member already holds renews it with the new expiry.

    An expiry in the past is accepted: it records a training the member took but let lapse,
    which the booking rules then name when they refuse.
    """
    type = type.strip()
    if not type:
        raise Invalid("Name the training, such as 'fdm-basic'.", field="type")
    await _member(session, user_id)
    certification = await session.scalar(
        select(Certification).where(Certification.user_id == user_id, Certification.type == type)
    )
    if certification is None:
        certification = Certification(user_id=user_id, type=type)
        session.add(certification)
    certification.expires_at = expires_at
    certification.granted_by = granted_by.id
    certification.granted_at = utcnow()
    await session.flush()
    return certification


async def list_certifications(session: AsyncSession, user_id: int) -> list[Certification]:
    await _member(session, user_id)
    return list(
        await session.scalars(
            select(Certification)
            .where(Certification.user_id == user_id)
            .order_by(Certification.type)
        )
    )


async def revoke_certification(session: AsyncSession, user_id: int, type: str) -> None:
    certification = await session.scalar(
        select(Certification).where(Certification.user_id == user_id, Certification.type == type)
    )
    if certification is None:
        raise NotFound(f"User #{user_id} has no '{type}' training on record.")
    await session.delete(certification)
    await session.flush()


async def held_certifications(session: AsyncSession, user_id: int) -> dict[str, datetime | None]:
    """Training type → expiry, in the shape the booking rules take (`MemberFacts`)."""
    rows = await session.execute(
        select(Certification.type, Certification.expires_at).where(Certification.user_id == user_id)
    )
    return {type: expires_at for type, expires_at in rows}
