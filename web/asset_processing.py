"""The upload-processing duty: runs the asset pipeline stage by stage in the mesh pool.

Progress is announced after every stage ("asset.progress" on the event bus; the edge relays it
to curators). Outputs go into the blob store and the asset row records them; the work directory
is removed whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any

from assets import pipeline
from assets.limits import Limits
from assets.store import BlobStore
from core.database import unit_of_work
from core.errors import DomainError
from core.settings import Settings
from experience import asset_records
from web.worker import WorkerContext

log = logging.getLogger(__name__)

ASSET_PROGRESS = "asset.progress"
IDLE_POLL_S = 5.0


def limits_for(settings: Settings) -> Limits:
    return Limits(max_bytes=settings.max_upload_bytes)


async def process_uploads(ctx: WorkerContext) -> None:
    wake = ctx.event("assets")
    while True:
        async with ctx.sessions() as session:
            queue = [asset.id for asset in await asset_records.pending(session)]
        for asset_id in queue:
            await process_one(ctx, asset_id)
        if not queue:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), IDLE_POLL_S)
            wake.clear()


async def _announce(
    ctx: WorkerContext, asset_id: int, status: str, stage: str, index: int, error: str | None = None
) -> None:
    await ctx.bus.publish(
        ASSET_PROGRESS,
        {
            "id": asset_id,
            "status": status,
            "stage": stage,
            "error": error,
            "progress": round(100 * index / len(pipeline.STAGES)),
        },
    )


async def process_one(ctx: WorkerContext, asset_id: int) -> None:
    async with unit_of_work(ctx.sessions) as session:
        asset = await asset_records.start_attempt(session, asset_id)
        if asset is None:
            failed = await asset_records.get_asset(session, asset_id)
            error = failed.error
        else:
            source = ctx.blobs.path(asset.source_sha256, asset.source_ext)
            filename = asset.filename
    if asset is None:
        await _announce(ctx, asset_id, "failed", "failed", 0, error)
        return
    work = ctx.settings.data_dir / "work" / f"asset-{asset_id}"
    shutil.rmtree(work, ignore_errors=True)
    limits = limits_for(ctx.settings)
    try:
        pipeline.prepare(work, source, filename)
        for index, (name, stage) in enumerate(pipeline.STAGES):
            async with unit_of_work(ctx.sessions) as session:
                await asset_records.set_stage(session, asset_id, name)
            await _announce(ctx, asset_id, "processing", name, index)
            await ctx.meshes.run(stage, str(work), limits)
        result = pipeline.result_from(work)
        stored = await asyncio.to_thread(store_outputs, ctx.blobs, result)
        async with unit_of_work(ctx.sessions) as session:
            await asset_records.mark_ready(session, asset_id, **stored)
        await _announce(ctx, asset_id, "ready", "done", len(pipeline.STAGES))
    except DomainError as exc:
        await _fail(ctx, asset_id, exc.message)
    except Exception as exc:
        log.exception("asset %s failed unexpectedly", asset_id)
        await _fail(
            ctx, asset_id, f"Processing failed unexpectedly ({type(exc).__name__}); it was logged."
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def _fail(ctx: WorkerContext, asset_id: int, message: str) -> None:
    async with unit_of_work(ctx.sessions) as session:
        await asset_records.mark_failed(session, asset_id, message)
    await _announce(ctx, asset_id, "failed", "failed", 0, message)


def store_outputs(blobs: BlobStore, result: pipeline.AssetResult) -> dict[str, Any]:
    """Move the pipeline's files into the blob store; returns the asset row's new fields."""
    lods = []
    for lod in result.lods:
        ref = blobs.put_file(Path(lod["path"]), lod.get("ext", "glb"), move=True)
        lods.append(
            {
                "level": lod["level"],
                "triangles": lod["triangles"],
                "bytes": ref.size,
                "max_error": lod.get("max_error"),
                "sha256": ref.sha256,
                "ext": ref.ext,
            }
        )
    thumb = blobs.put_file(Path(result.thumbnail), "png", move=True)
    printable = dict(result.printable)
    path = printable.pop("path", None)
    if path:
        printable["sha256"] = blobs.put_file(Path(path), "stl", move=True).sha256
    stats = {**result.stats, "timings_s": result.timings}
    return {"stats": stats, "lods": lods, "thumbnail_sha256": thumb.sha256, "printable": printable}
