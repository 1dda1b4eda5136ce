"""`smartlib worker`: the print farm and upload processing, as a process of its own.

With Redis configured its progress events reach every server process's tablets through a
write-only Socket.IO manager; without Redis nobody would hear them, so it says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

import socketio

from assets.store import BlobStore
from core.database import create_engine, session_factory, upgrade_database
from core.events import EventBus
from core.settings import Settings
from web.pools import MeshPool
from web.relay import relay_events
from web.worker import Worker, WorkerContext

log = logging.getLogger(__name__)


async def _run(settings: Settings) -> None:
    from web.app import worker_duties

    engine = create_engine(settings.database_url)
    meshes = MeshPool(workers=settings.mesh_workers)
    bus = EventBus()
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(
            settings.redis_url, channel=settings.redis_channel, write_only=True
        )
        relay_events(bus, manager.emit)
    else:
        log.warning("no SMARTLIB_REDIS_URL: progress of this worker reaches no tablet")
    ctx = WorkerContext(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        bus=bus,
        blobs=BlobStore(settings.blob_dir),
        meshes=meshes,
    )
    task = asyncio.create_task(Worker(ctx, worker_duties()).run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("smartlib worker running", flush=True)
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    meshes.close()
    await engine.dispose()


def worker(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade_database(settings.database_url)
    asyncio.run(_run(settings))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    commands.add_parser("worker", help="run the print farm and upload processing").set_defaults(
        func=worker
    )
