"""Curators' changes to exhibits and tours.

Every change that visitors could notice is announced on the event bus as "exhibit.changed" or
"tour.changed", so manifest caches in every server process can forget what they built.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid, NotFound
from core.events import EventBus
from experience.exhibits import Page
from experience.models import Asset, Exhibit, Tour, TourMember
from experience.schemas import ExhibitIn, ExhibitPatch, TourIn, TourPatch

EXHIBIT_CHANGED = "exhibit.changed"
TOUR_CHANGED = "tour.changed"
# Letters that cannot be mistaken for each other when read aloud or off a poster.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


async def get_exhibit(session: AsyncSession, exhibit_id: int, *, staff: bool) -> Exhibit:
    exhibit = await session.get(Exhibit, exhibit_id)
    if exhibit is None or (not exhibit.published and not staff):
        raise NotFound(f"There is no exhibit {exhibit_id}.")
    return exhibit


async def list_all(session: AsyncSession, *, limit: int, after: str | None) -> Page:
    """Every exhibit, published or not, for curators."""
    after_id = _cursor(after)
    total = await session.scalar(select(func.count()).select_from(Exhibit))
    rows = list(
        await session.scalars(
            select(Exhibit).where(Exhibit.id > after_id).order_by(Exhibit.id).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, int(total or 0), str(rows[-1].id) if more and rows else None)


def _cursor(after: str | None) -> int:
    try:
        return int(after) if after else 0
    except ValueError:
        raise Invalid("The page cursor is not valid.", field="next") from None


async def _check_asset(session: AsyncSession, asset_id: int | None, publishing: bool) -> None:
    if asset_id is None:
        if publishing:
            raise Invalid(
                "An exhibit needs a 3D scan before it can be published.", field="asset_id"
            )
        return
    asset = await session.get(Asset, asset_id)
    if asset is None:
        raise Invalid(f"There is no asset {asset_id}.", field="asset_id")
    if publishing and asset.status != "ready":
        raise Invalid(
            f"Asset {asset_id} is {asset.status}; publish once it is ready.", field="published"
        )


async def _check_unique(
    session: AsyncSession,
    exhibit_id: int | None,
    slug: str | None,
    dictionary: str | None,
    marker_id: int | None,
) -> None:
    others = Exhibit.id != exhibit_id if exhibit_id is not None else True
    if slug is not None:
        taken = await session.scalar(select(Exhibit.id).where(Exhibit.slug == slug, others))
        if taken is not None:
            raise Conflict(f"The slug '{slug}' is already used by another exhibit.", field="slug")
    if dictionary is not None and marker_id is not None:
        owner = await session.scalar(
            select(Exhibit.slug).where(
                Exhibit.marker_dictionary == dictionary, Exhibit.marker_id == marker_id, others
            )
        )
        if owner is not None:
            raise Conflict(
                f"Marker {marker_id} of {dictionary} already belongs to the exhibit '{owner}'.",
                field="marker",
            )


async def create_exhibit(session: AsyncSession, bus: EventBus, data: ExhibitIn) -> Exhibit:
    await _check_unique(session, None, data.slug, data.marker.dictionary, data.marker.id)
    await _check_asset(session, data.asset_id, data.published)
    exhibit = Exhibit(
        slug=data.slug,
        title=data.title,
        narration=data.narration,
        asset_id=data.asset_id,
        marker_dictionary=data.marker.dictionary,
        marker_id=data.marker.id,
        marker_size_m=data.marker.size_m,
        anchor_offset=data.anchor_offset,
        hotspots=[h.model_dump() for h in data.hotspots],
        catalog_source=data.catalog.source if data.catalog else None,
        catalog_record_id=data.catalog.record_id if data.catalog else None,
        published=data.published,
        narration_audio={},
    )
    session.add(exhibit)
    await session.flush()
    await bus.publish(EXHIBIT_CHANGED, {"exhibit_id": exhibit.id})
    return exhibit


async def update_exhibit(
    session: AsyncSession, bus: EventBus, exhibit_id: int, patch: ExhibitPatch
) -> Exhibit:
    exhibit = await get_exhibit(session, exhibit_id, staff=True)
    given = patch.model_fields_set
    marker = patch.marker
    await _check_unique(
        session,
        exhibit.id,
        patch.slug,
        marker.dictionary if marker else None,
        marker.id if marker else None,
    )
    asset_id = patch.asset_id if "asset_id" in given else exhibit.asset_id
    published = patch.published if patch.published is not None else exhibit.published
    await _check_asset(session, asset_id, published)
    for name in ("slug", "title", "narration", "anchor_offset"):
        if name in given and getattr(patch, name) is not None:
            setattr(exhibit, name, getattr(patch, name))
    if "asset_id" in given:
        exhibit.asset_id = patch.asset_id
    if marker is not None:
        exhibit.marker_dictionary, exhibit.marker_id = marker.dictionary, marker.id
        exhibit.marker_size_m = marker.size_m
    if patch.hotspots is not None:
        exhibit.hotspots = [h.model_dump() for h in patch.hotspots]
    if "catalog" in given:
        exhibit.catalog_source = patch.catalog.source if patch.catalog else None
        exhibit.catalog_record_id = patch.catalog.record_id if patch.catalog else None
    exhibit.published = published
    await session.flush()
    await session.refresh(exhibit)
    await bus.publish(EXHIBIT_CHANGED, {"exhibit_id": exhibit.id})
    return exhibit


async def set_narration_audio(
    session: AsyncSession, bus: EventBus, exhibit_id: int, lang: str, blob_name: str
) -> Exhibit:
    exhibit = await get_exhibit(session, exhibit_id, staff=True)
    exhibit.narration_audio = {**(exhibit.narration_audio or {}), lang: blob_name}
    await session.flush()
    await bus.publish(EXHIBIT_CHANGED, {"exhibit_id": exhibit.id})
    return exhibit


async def delete_exhibit(session: AsyncSession, bus: EventBus, exhibit_id: int) -> None:
    exhibit = await get_exhibit(session, exhibit_id, staff=True)
    tours = await session.scalars(select(Tour))
    used = [t.id for t in tours if any(s["exhibit_id"] == exhibit_id for s in t.stops)]
    if used:
        raise Conflict(
            f"Exhibit {exhibit_id} is a stop of tour(s) {', '.join(map(str, used))};"
            " remove it from them first."
        )
    await session.delete(exhibit)
    await session.flush()
    await bus.publish(EXHIBIT_CHANGED, {"exhibit_id": exhibit_id})


def tour_view(tour: Tour) -> dict[str, Any]:
    return {
        "id": tour.id,
        "title": tour.title,
        "code": tour.code,
        "stops": tour.stops,
        "current_index": tour.current_index,
    }


async def _check_stops(session: AsyncSession, stops: list[Any]) -> None:
    wanted = {stop.exhibit_id for stop in stops}
    found = set(await session.scalars(select(Exhibit.id).where(Exhibit.id.in_(wanted))))
    missing = sorted(wanted - found)
    if missing:
        raise Invalid(f"There is no exhibit {missing[0]} for this tour.", field="stops")


async def get_tour(session: AsyncSession, tour_id: int) -> Tour:
    tour = await session.get(Tour, tour_id)
    if tour is None:
        raise NotFound(f"There is no tour {tour_id}.")
    return tour


async def find_tour_by_code(session: AsyncSession, code: str) -> Tour:
    tour = await session.scalar(select(Tour).where(Tour.code == code.strip().upper()))
    if tour is None:
        raise NotFound(f"No tour has the code '{code}'.")
    return tour


async def create_tour(session: AsyncSession, bus: EventBus, data: TourIn) -> Tour:
    await _check_stops(session, data.stops)
    for _attempt in range(10):
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(5))
        if await session.scalar(select(Tour.id).where(Tour.code == code)) is None:
            break
    tour = Tour(
        title=data.title, stops=[s.model_dump() for s in data.stops], code=code, current_index=0
    )
    session.add(tour)
    await session.flush()
    await bus.publish(TOUR_CHANGED, {"tour_id": tour.id})
    return tour


async def update_tour(session: AsyncSession, bus: EventBus, tour_id: int, patch: TourPatch) -> Tour:
    tour = await get_tour(session, tour_id)
    if patch.title is not None:
        tour.title = patch.title
    if patch.stops is not None:
        await _check_stops(session, patch.stops)
        tour.stops = [s.model_dump() for s in patch.stops]
        tour.current_index = min(tour.current_index, len(tour.stops) - 1)
    await session.flush()
    await bus.publish(TOUR_CHANGED, {"tour_id": tour.id})
    return tour


async def delete_tour(session: AsyncSession, bus: EventBus, tour_id: int) -> None:
    tour = await get_tour(session, tour_id)
    await session.execute(delete(TourMember).where(TourMember.tour_id == tour_id))
    await session.delete(tour)
    await session.flush()
    await bus.publish(TOUR_CHANGED, {"tour_id": tour_id})


async def list_tours(session: AsyncSession) -> list[Tour]:
    return list(await session.scalars(select(Tour).order_by(Tour.id)))
