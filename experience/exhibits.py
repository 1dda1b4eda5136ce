"""Exhibits: finding them, listing them, and turning rows into snapshots for manifests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Conflict, Invalid
from experience.manifest import ExhibitSnapshot, LodView
from experience.models import Asset, Exhibit

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int
    next: str | None


def snapshot(exhibit: Exhibit) -> ExhibitSnapshot:
    asset = exhibit.asset
    lods: tuple[LodView, ...] = ()
    bounds = None
    thumbnail = None
    if asset is not None and asset.status == "ready":
        lods = tuple(
            LodView(
                level=int(lod["level"]),
                sha256=lod["sha256"],
                ext=lod.get("ext", "glb"),
                triangles=int(lod["triangles"]),
                bytes=int(lod["bytes"]),
            )
            for lod in asset.lods
        )
        raw_bounds = (asset.stats or {}).get("bounds_m")
        bounds = (
            tuple(tuple(float(v) for v in corner) for corner in raw_bounds) if raw_bounds else None
        )
        if asset.thumbnail_sha256:
            thumbnail = f"/files/{asset.thumbnail_sha256}.png"
    return ExhibitSnapshot(
        id=exhibit.id,
        slug=exhibit.slug,
        title=dict(exhibit.title or {}),
        narration=dict(exhibit.narration or {}),
        marker_dictionary=exhibit.marker_dictionary,
        marker_id=exhibit.marker_id,
        marker_size_m=exhibit.marker_size_m,
        anchor_offset=tuple(exhibit.anchor_offset or (0.0, 0.0, 0.0)),  # type: ignore[arg-type]
        hotspots=tuple(exhibit.hotspots or ()),
        asset_id=exhibit.asset_id,
        lods=lods,
        bounds_m=bounds,
        thumbnail_url=thumbnail,
        narration_audio=dict(exhibit.narration_audio or {}),
    )


async def find_published_by_marker(
    session: AsyncSession, dictionary: str, marker_id: int
) -> Exhibit | None:
    return await session.scalar(
        select(Exhibit).where(
            Exhibit.marker_dictionary == dictionary,
            Exhibit.marker_id == marker_id,
            Exhibit.published.is_(True),
        )
    )


async def list_published(
    session: AsyncSession, *, limit: int = 50, after: str | None = None
) -> Page:
    """Published exhibits by id, paged with an opaque cursor (the last id seen)."""
    try:
        after_id = int(after) if after else 0
    except ValueError:
        raise Invalid("The page cursor is not valid.", field="next") from None
    limit = max(1, min(limit, 200))
    published = Exhibit.published.is_(True)
    total = await session.scalar(select(func.count()).select_from(Exhibit).where(published))
    rows = list(
        await session.scalars(
            select(Exhibit)
            .where(published, Exhibit.id > after_id)
            .order_by(Exhibit.id)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, int(total or 0), str(rows[-1].id) if more and rows else None)


def public_view(exhibit: Exhibit) -> dict[str, Any]:
    """An exhibit as DESIGN.md names it over REST."""
    return {
        "id": exhibit.id,
        "slug": exhibit.slug,
        "title": exhibit.title,
        "narration": exhibit.narration,
        "asset_id": exhibit.asset_id,
        "marker": {
            "dictionary": exhibit.marker_dictionary,
            "id": exhibit.marker_id,
            "size_m": exhibit.marker_size_m,
        },
        "hotspots": exhibit.hotspots,
        "catalog": None
        if exhibit.catalog_record_id is None
        else {"source": exhibit.catalog_source, "record_id": exhibit.catalog_record_id},
        "narration_audio": {
            lang: f"/files/{name}" for lang, name in (exhibit.narration_audio or {}).items()
        },
        "anchor_offset": exhibit.anchor_offset,
        "published": exhibit.published,
    }


async def create_exhibit(
    session: AsyncSession,
    *,
    slug: str,
    title: dict[str, str],
    marker_dictionary: str,
    marker_id: int,
    asset_id: int | None = None,
    narration: dict[str, str] | None = None,
    marker_size_m: float = 0.15,
    hotspots: list[dict[str, Any]] | None = None,
    published: bool = False,
) -> Exhibit:
    if not _SLUG.match(slug):
        raise Invalid(
            f"'{slug}' is not a slug: use lower-case letters, digits and hyphens.", field="slug"
        )
    if await session.scalar(select(Exhibit.id).where(Exhibit.slug == slug)) is not None:
        raise Conflict(f"The slug '{slug}' is already used by another exhibit.", field="slug")
    taken = await session.scalar(
        select(Exhibit.slug).where(
            Exhibit.marker_dictionary == marker_dictionary, Exhibit.marker_id == marker_id
        )
    )
    if taken is not None:
        raise Conflict(
            f"Marker {marker_id} of {marker_dictionary} already belongs to the exhibit '{taken}'.",
            field="marker",
        )
    exhibit = Exhibit(
        slug=slug,
        title=title,
        narration=narration or {},
        asset_id=asset_id,
        marker_dictionary=marker_dictionary,
        marker_id=marker_id,
        marker_size_m=marker_size_m,
        hotspots=hotspots or [],
        published=published,
    )
    session.add(exhibit)
    await session.flush()
    return exhibit


async def get_asset(session: AsyncSession, asset_id: int) -> Asset | None:
    return await session.get(Asset, asset_id)
