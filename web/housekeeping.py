"""Periodic worker duties of the booking and catalog capabilities."""

from __future__ import annotations

import asyncio
import logging

from booking.sweeps import run_sweeps
from experience import catalog_sru
from experience.sru import SruClient
from web.worker import WorkerContext

log = logging.getLogger(__name__)

CATALOG_REFRESH_S = 6 * 3600


async def booking_sweeps(ctx: WorkerContext) -> None:
    """No-show release and completion of finished bookings."""
    await run_sweeps(ctx.sessions, ctx.bus)


async def catalog_refresh(ctx: WorkerContext) -> None:
    """Re-fetch records first found over SRU, so their cached copies follow the catalog."""
    sources = catalog_sru.configured_sources(ctx.settings.extra)
    if not sources:
        return
    async with SruClient() as client:
        while True:
            try:
                summary = await catalog_sru.refresh_cached(ctx.sessions, ctx.bus, client, sources)
                log.info("catalog refresh: %s", summary.as_dict())
            except Exception:
                log.exception("catalog refresh failed; trying again later")
            await asyncio.sleep(CATALOG_REFRESH_S)
