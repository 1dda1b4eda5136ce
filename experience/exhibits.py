"""Exhibits: finding them, listing them, and turning rows into snapshots for manifests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from experience.manifest import CatalogView, ExhibitSnapshot, LodView
from experience.models import Asset, CatalogRecord, Exhibit


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int
    next: str | None


def opac_link(template: str | None, source: str, record_id: str) -> str:
    """The record's page in the library's own OPAC, from a template such as
    "https://opac.example/record/{record_id}" (`{source}` may appear too); "" without one."""
    if not template:
        return ""
    return template.replace("{record_id}", quote(record_id, safe="")).replace(
        "{source}", quote(source, safe="")
    )


def _loaded_record(exhibit: Exhibit) -> CatalogRecord | None:
    # Exhibits loaded the usual way carry their record (a joined load); one only just created
    # does not, and touching an unloaded attribute in async code would fail, so it goes without.
    if "catalog_record" in inspect(exhibit).unloaded:
        return None
    return exhibit.catalog_record


def catalog_view(exhibit: Exhibit, opac_url: str | None = None) -> CatalogView | None:
    """The manifest's catalog block: the linked record as visitors see it, or None."""
    if exhibit.catalog_record_id is None:
        return None
    source = exhibit.catalog_source or ""
    record = _loaded_record(exhibit)
    return CatalogView(
        source=source,
        record_id=exhibit.catalog_record_id,
        title=record.title if record else "",
        author=(record.author or "") if record else "",
        isbn=(record.isbn or "") if record else "",
        call_number=(record.call_number or "") if record else "",
        url=opac_link(opac_url, source, exhibit.catalog_record_id),
    )


def snapshot(exhibit: Exhibit, *, opac_url: str | None = None) -> ExhibitSnapshot:
    """`opac_url` is the library's OPAC record-page template (settings `opac_url`), if any."""
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
        if isinstance(raw_bounds, dict):  # the pipeline's {min, max, size}
            raw_bounds = [raw_bounds["min"], raw_bounds["max"]]
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
        catalog=catalog_view(exhibit, opac_url),
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


def _catalog_link(exhibit: Exhibit, opac_url: str | None) -> dict[str, Any] | None:
    """`{source, record_id}` as DESIGN.md names it, plus what the local copy says of it."""
    view = catalog_view(exhibit, opac_url)
    if view is None:
        return None
    link: dict[str, Any] = {"source": view.source, "record_id": view.record_id}
    if _loaded_record(exhibit) is not None:
        link.update(
            title=view.title, author=view.author, isbn=view.isbn, call_number=view.call_number
        )
    if view.url:
        link["url"] = view.url
    return link


def public_view(exhibit: Exhibit, *, opac_url: str | None = None) -> dict[str, Any]:
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
        "catalog": _catalog_link(exhibit, opac_url),
        "narration_audio": {
            lang: f"/files/{name}" for lang, name in (exhibit.narration_audio or {}).items()
        },
        "anchor_offset": exhibit.anchor_offset,
        "published": exhibit.published,
    }


async def get_asset(session: AsyncSession, asset_id: int) -> Asset | None:
    return await session.get(Asset, asset_id)
