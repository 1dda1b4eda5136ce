"""The worker: background duties that must run exactly once per deployment.

Duties are the print farm, upload processing and periodic housekeeping. Each is an async
function that runs until cancelled; the worker runs them only while it holds the worker lock
(`core.leadership`), so a second `smartlib worker` (or a `serve` process with the in-process
worker) waits on standby and takes over when the active one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assets.store import BlobStore
from core.events import EventBus
from core.leadership import WorkerLock
from core.settings import Settings
from web.pools import MeshPool

log = logging.getLogger(__name__)

STANDBY_RETRY_S = 2.0


@dataclass
class WorkerContext:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    blobs: BlobStore
    # CPU-heavy work (meshes) goes here, never on the event loop; bounded by its size.
    meshes: MeshPool
    wake: dict[str, asyncio.Event] = field(default_factory=dict)

    def event(self, name: str) -> asyncio.Event:
        """A wake-up call for a duty (e.g. "assets" when an upload arrives)."""
        return self.wake.setdefault(name, asyncio.Event())


Duty = Callable[[WorkerContext], Awaitable[None]]


class Worker:
    def __init__(self, ctx: WorkerContext, duties: dict[str, Duty]) -> None:
        self.ctx = ctx
        self.duties = duties
        self.lock = WorkerLock(ctx.engine, ctx.settings.data_dir)
        self.active = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                if await self.lock.try_acquire():
                    log.info("worker lock taken; running %s", ", ".join(self.duties))
                    await self._lead()
                await asyncio.sleep(STANDBY_RETRY_S)
        finally:
            await self.lock.release()

    async def _lead(self) -> None:
        self.active.set()
        tasks = {
            name: asyncio.create_task(self._guard(name, duty), name=f"duty:{name}")
            for name, duty in self.duties.items()
        }
        try:
            while await self.lock.still_held():  # noqa: ASYNC110 - polls a database lock
                await asyncio.sleep(STANDBY_RETRY_S)
            log.warning("worker lock lost; stopping duties")
        finally:
            self.active.clear()
            for task in tasks.values():
                task.cancel()
            for task in tasks.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _guard(self, name: str, duty: Duty) -> None:
        """Restart a duty that crashed, after a pause, instead of losing it for good."""
        while True:
            try:
                await duty(self.ctx)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("worker duty %s crashed; restarting in 5 s", name)
                await asyncio.sleep(5)
