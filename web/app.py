"""The application factory: everything with a lifetime lives in a cleanup context."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web
from aiohttp.typedefs import Handler

from assets.store import BlobStore
from core.database import create_engine, session_factory, upgrade_database_async
from core.events import EventBus
from core.settings import Settings
from experience.analytics import VisitRecorder
from experience.curation import EXHIBIT_CHANGED
from experience.scan_index import ScanIndex
from web.errors import error_middleware
from web.keys import (
    BLOBS,
    ENGINE,
    EVENTS,
    METRICS,
    RECORDER,
    SCAN_INDEX,
    SESSIONS,
    SETTINGS,
    SIO,
    VISIT,
)
from web.metrics import Metrics
from web.routes import analytics, auth, curation, exhibits, files, health, pages, tours
from web.sockets.manager import SharedRedisManager
from web.sockets.visit import VisitNamespace

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
    app[SCAN_INDEX] = ScanIndex(app[SESSIONS], settings.fallback_lang)
    yield
    await engine.dispose()


async def _analytics(app: web.Application) -> AsyncIterator[None]:
    recorder = VisitRecorder(app[SESSIONS])
    app[RECORDER] = recorder
    task = asyncio.create_task(recorder.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await recorder.flush()  # what tablets did in the last seconds is not lost on shutdown


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
    sio.register_namespace(visit)
    if manager is not None:
        manager.on_shared(visit.on_shared)

    async def exhibit_changed(_topic: str, payload: dict[str, Any]) -> None:
        app[SCAN_INDEX].invalidate(payload.get("exhibit_id"))
        if manager is not None:
            await manager.share(EXHIBIT_CHANGED, payload)

    unsubscribe = app[EVENTS].subscribe(EXHIBIT_CHANGED, exhibit_changed)
    yield
    unsubscribe()
    # Closes every engine.io connection so tablets reconnect at once instead of timing out.
    await sio.shutdown()
    if manager is not None:
        await manager.close()


def _socket_server(settings: Settings) -> socketio.AsyncServer:
    manager = (
        SharedRedisManager(settings.redis_url, channel=settings.redis_channel)
        if settings.redis_url
        else None
    )
    return socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        # Only pages served by this server may connect from a browser; apps without an Origin
        # header (tablets' native shells, scripts) are unaffected.
        cors_allowed_origins=[settings.public_url],
        max_http_buffer_size=settings.max_request_bytes,
        logger=False,
        engineio_logger=False,
    )


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware, security_headers], client_max_size=settings.max_request_bytes
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[EVENTS] = EventBus()
    app[BLOBS] = BlobStore(settings.blob_dir)
    sio = _socket_server(settings)
    app[SIO] = sio
    sio.attach(app)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_analytics)
    app.cleanup_ctx.append(_sockets)
    for module in (auth, exhibits, curation, tours, analytics, files, health, pages):
        app.router.add_routes(module.routes)
    return app
