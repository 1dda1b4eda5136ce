"""The application factory: everything with a lifetime lives in a cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import socketio
from aiohttp import web
from aiohttp.typedefs import Handler

from ar_markers.frames import FrameLimits
from assets.store import BlobStore
from core.database import create_engine, session_factory, upgrade_database_async
from core.events import EventBus
from core.settings import Settings
from experience.analytics import VisitRecorder
from experience.curation import EXHIBIT_CHANGED
from experience.scan_index import ScanIndex
from makerspace.jobs import estimate_seconds
from web.asset_processing import process_uploads
from web.errors import error_middleware
from web.housekeeping import booking_sweeps, catalog_refresh
from web.keys import (
    BLOBS,
    ENGINE,
    EVENTS,
    MESHES,
    METRICS,
    RECORDER,
    SCAN_INDEX,
    SESSIONS,
    SETTINGS,
    SIO,
    VISION,
    VISIT,
    WORKER_WAKE,
)
from web.metrics import Metrics
from web.pools import MeshPool
from web.print_farm import run_print_farm
from web.relay import relay_events
from web.routes import (
    analytics,
    assets,
    auth,
    booking,
    catalog,
    curation,
    exhibits,
    files,
    health,
    markers,
    pages,
    print_jobs,
    printers,
    tours,
)
from web.sockets.fastpath import DirectEmit, DirectRedisManager, FastServer
from web.sockets.frames import FrameService
from web.sockets.makerspace import MakerspaceNamespace
from web.sockets.manager import SharedRedisManager
from web.sockets.visit import VisitNamespace
from web.worker import Duty, Worker, WorkerContext

log = logging.getLogger(__name__)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.migrate_on_start:
        await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    app[SCAN_INDEX] = ScanIndex(
        app[SESSIONS], settings.fallback_lang, opac_url=settings.extra.get("opac_url")
    )
    yield
    await engine.dispose()


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[METRICS].watch_loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _analytics(app: web.Application) -> AsyncIterator[None]:
    recorder = VisitRecorder(app[SESSIONS])
    app[RECORDER] = recorder
    task = asyncio.create_task(recorder.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await recorder.flush()  # what tablets did in the last seconds is not lost on shutdown


async def _vision(app: web.Application) -> AsyncIterator[None]:
    # OpenCV releases the GIL, so threads run frames in parallel with the event loop; one
    # OpenCV thread each, or the pool and OpenCV's own threads fight over two cores.
    cv2.setNumThreads(1)
    pool = ThreadPoolExecutor(max_workers=app[SETTINGS].vision_threads, thread_name_prefix="vision")
    app[VISION] = pool
    yield
    pool.shutdown(wait=False, cancel_futures=True)


async def _meshes(app: web.Application) -> AsyncIterator[None]:
    pool = MeshPool(workers=app[SETTINGS].mesh_workers)
    app[MESHES] = pool
    yield
    pool.close()


def worker_duties() -> dict[str, Duty]:
    """Everything the worker does; capabilities add their duties here."""
    return {
        "assets": process_uploads,
        "print_farm": run_print_farm,
        "booking": booking_sweeps,
        "catalog": catalog_refresh,
    }


async def _worker(app: web.Application) -> AsyncIterator[None]:
    """The in-process worker of the embedded deployment (standby if another holds the lock)."""
    settings = app[SETTINGS]
    if settings.worker != "inprocess":
        app[WORKER_WAKE] = lambda _name: None
        yield
        return
    ctx = WorkerContext(
        settings=settings,
        engine=app[ENGINE],
        sessions=app[SESSIONS],
        bus=app[EVENTS],
        blobs=app[BLOBS],
        meshes=app[MESHES],
    )
    app[WORKER_WAKE] = lambda name: ctx.event(name).set()
    task = asyncio.create_task(Worker(ctx, worker_duties()).run(), name="worker")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _sockets(app: web.Application) -> AsyncIterator[None]:
    sio = app[SIO]
    manager = sio.manager if isinstance(sio.manager, SharedRedisManager) else None
    visit = VisitNamespace(
        app[SETTINGS],
        app[SESSIONS],
        app[SCAN_INDEX],
        app[METRICS],
        app[RECORDER],
        share=manager.share if manager else None,
        host_id=manager.host_id if manager else "local",
    )
    app[VISIT] = visit
    visit.frames = FrameService(
        app[SCAN_INDEX],
        app[VISION],
        dictionaries=app[SETTINGS].frame_dictionaries,
        limits=FrameLimits(max_bytes=app[SETTINGS].max_frame_bytes),
    )
    sio.register_namespace(visit)
    sio.register_namespace(MakerspaceNamespace(app[SESSIONS]))
    if manager is not None:
        manager.on_shared(visit.on_shared)

    async def exhibit_changed(_topic: str, payload: dict[str, Any]) -> None:
        app[SCAN_INDEX].invalidate(payload.get("exhibit_id"))
        if manager is not None:
            await manager.share(EXHIBIT_CHANGED, payload)

    unsubscribe = app[EVENTS].subscribe(EXHIBIT_CHANGED, exhibit_changed)
    unrelay = relay_events(app[EVENTS], sio.emit)
    yield
    unrelay()
    unsubscribe()
    # Closes every engine.io connection so tablets reconnect at once instead of timing out.
    await sio.shutdown()
    if manager is not None:
        await manager.close()


def _socket_server(settings: Settings) -> socketio.AsyncServer:
    # The fast packet path (web/sockets/fastpath.py): direct frame writes, no task per event or
    # per recipient, uncompressed websocket frames, orjson with pre-encoded manifests.
    manager = (
        DirectRedisManager(settings.redis_url, channel=settings.redis_channel)
        if settings.redis_url
        else DirectEmit()
    )
    return FastServer(
        async_mode="aiohttp",
        client_manager=manager,
        # Only pages served by this server may connect from a browser; apps without an Origin
        # header (tablets' native shells, scripts) are unaffected.
        cors_allowed_origins=[settings.public_url],
        # Frames up to twice the frame limit arrive and get a "too large" ack; anything bigger
        # is refused by engine.io itself (the connection closes) before it is buffered.
        max_http_buffer_size=max(settings.max_request_bytes, 2 * settings.max_frame_bytes),
        logger=False,
        engineio_logger=False,
    )


def _job_estimator(app: web.Application) -> Callable[[str], Awaitable[float | None]]:
    """Booking sizes print slots from the print farm's slicer estimates: web composes the two."""

    async def estimate(job_id: str) -> float | None:
        async with app[SESSIONS]() as session:
            return await estimate_seconds(session, job_id)

    return estimate


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, security_headers], client_max_size=settings.max_request_bytes
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[EVENTS] = EventBus()
    app[BLOBS] = BlobStore(settings.blob_dir)
    app[booking.JOB_ESTIMATOR] = _job_estimator(app)
    sio = _socket_server(settings)
    app[SIO] = sio
    sio.attach(app)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(catalog.sru_client)
    app.cleanup_ctx.append(_loop_lag)
    app.cleanup_ctx.append(_analytics)
    app.cleanup_ctx.append(_meshes)
    app.cleanup_ctx.append(_vision)
    app.cleanup_ctx.append(_sockets)
    app.cleanup_ctx.append(_worker)
    for module in (
        auth,
        exhibits,
        curation,
        markers,
        tours,
        analytics,
        assets,
        files,
        health,
        pages,
        printers,
        print_jobs,
        booking,
        catalog,
    ):
        app.router.add_routes(module.routes)
    return app
