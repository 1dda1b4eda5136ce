"""Live tours: who follows which tour, and where the docent has taken it.

The current stop and the membership live in the database, not in a server process, so a docent
connected to one process moves tablets connected to another, and a tablet that reconnects (to
any process) is put back on the tour at the stop the docent is at now.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from experience.curation import find_tour_by_code, get_tour
from experience.models import Tour, TourMember


async def join(
    session: AsyncSession,
    visitor_id: str,
    lang: str,
    *,
    tour_id: int | None = None,
    code: str | None = None,
) -> Tour:
    if tour_id is None and not code:
        raise Invalid("Give the tour's id or its code.", field="code")
    tour = (
        await get_tour(session, tour_id)
        if tour_id is not None
        else await find_tour_by_code(session, code or "")
    )
    member = await session.get(TourMember, visitor_id)
    if member is None:
        session.add(TourMember(visitor_id=visitor_id, tour_id=tour.id, lang=lang))
    else:
        member.tour_id, member.lang = tour.id, lang
    await session.flush()
    return tour


async def leave(session: AsyncSession, visitor_id: str) -> int | None:
    member = await session.get(TourMember, visitor_id)
    if member is None:
        return None
    await session.delete(member)
    return member.tour_id


async def membership(session: AsyncSession, visitor_id: str) -> tuple[Tour, str] | None:
    member = await session.get(TourMember, visitor_id)
    if member is None:
        return None
    tour = await session.get(Tour, member.tour_id)
    return (tour, member.lang) if tour is not None else None


async def goto(session: AsyncSession, tour_id: int, index: int) -> Tour:
    tour = await get_tour(session, tour_id)
    if not 0 <= index < len(tour.stops):
        raise Invalid(
            f"Tour {tour_id} has stops 0 to {len(tour.stops) - 1}; there is no stop {index}.",
            field="index",
        )
    tour.current_index = index
    await session.flush()
    return tour


async def members(session: AsyncSession, tour_id: int) -> list[TourMember]:
    return list(await session.scalars(select(TourMember).where(TourMember.tour_id == tour_id)))
