"""The life of an uploaded scan in the database: queued, processing stage by stage, ready or failed.

The files themselves are the blob store's; these rows say which files belong together. A row
left "processing" by a worker that died is picked up again on the next start; after
`MAX_ATTEMPTS` it is marked failed, so an asset is never stuck.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import NotFound
from experience.models import Asset

MAX_ATTEMPTS = 3


async def create_asset(
    session: AsyncSession, *, title: str, filename: str, sha256: str, ext: str, user_id: int | None
) -> Asset:
    asset = Asset(
        title=title,
        filename=filename,
        source_sha256=sha256,
        source_ext=ext,
        status="processing",
        stage="queued",
        stats={},
        lods=[],
        created_by=user_id,
    )
    session.add(asset)
    await session.flush()
    return asset


async def get_asset(session: AsyncSession, asset_id: int) -> Asset:
    asset = await session.get(Asset, asset_id)
    if asset is None:
        raise NotFound(f"There is no asset {asset_id}.")
    return asset


async def pending(session: AsyncSession) -> list[Asset]:
    """Assets to (re)process, oldest first: queued ones and ones a dead worker left behind."""
    return list(
        await session.scalars(select(Asset).where(Asset.status == "processing").order_by(Asset.id))
    )


async def start_attempt(session: AsyncSession, asset_id: int) -> Asset | None:
    """Count an attempt; None (and the asset failed) when it has had too many."""
    asset = await get_asset(session, asset_id)
    attempts = int((asset.stats or {}).get("_attempts", 0)) + 1
    if attempts > MAX_ATTEMPTS:
        asset.status, asset.error = (
            "failed",
            (
                f"Processing stopped {MAX_ATTEMPTS} times before finishing; the file may be too "
                "large or complex for this server."
            ),
        )
        return None
    asset.stats = {**(asset.stats or {}), "_attempts": attempts}
    asset.stage = "starting"
    return asset


async def set_stage(session: AsyncSession, asset_id: int, stage: str) -> None:
    asset = await get_asset(session, asset_id)
    asset.stage = stage


async def mark_ready(
    session: AsyncSession,
    asset_id: int,
    *,
    stats: dict[str, Any],
    lods: list[dict[str, Any]],
    thumbnail_sha256: str,
    printable: dict[str, Any],
) -> Asset:
    asset = await get_asset(session, asset_id)
    asset.status, asset.stage, asset.error = "ready", "done", None
    asset.stats, asset.lods = stats, lods
    asset.thumbnail_sha256, asset.printable = thumbnail_sha256, printable
    return asset


async def mark_failed(session: AsyncSession, asset_id: int, message: str) -> Asset:
    asset = await get_asset(session, asset_id)
    asset.status, asset.error = "failed", message
    return asset


def asset_view(asset: Asset) -> dict[str, Any]:
    """An asset as DESIGN.md names it over REST."""
    stats = {k: v for k, v in (asset.stats or {}).items() if not k.startswith("_")}
    printable = asset.printable or None
    return {
        "id": asset.id,
        "title": asset.title,
        "filename": asset.filename,
        "sha256": asset.source_sha256,
        "status": asset.status,
        "stage": asset.stage,
        "error": asset.error,
        "stats": stats,
        "lods": [
            {
                "level": lod["level"],
                "triangles": lod["triangles"],
                "bytes": lod["bytes"],
                "max_error": lod.get("max_error"),
                "url": f"/files/{lod['sha256']}.{lod.get('ext', 'glb')}",
            }
            for lod in asset.lods or []
        ],
        "thumbnail": f"/files/{asset.thumbnail_sha256}.png" if asset.thumbnail_sha256 else None,
        "printable": None
        if not printable
        else {
            "url": f"/files/{printable['sha256']}.stl" if printable.get("sha256") else None,
            "error": printable.get("error"),
            "watertight": printable.get("watertight"),
            "volume_cm3": printable.get("volume_cm3"),
            "height_mm": printable.get("height_mm"),
            "size_mm": printable.get("size_mm"),
        },
    }
