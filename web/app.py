"""The application factory: everything with a lifetime lives in a cleanup context."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import socketio
from aiohttp import web
from aiohttp.typedefs import Handler

from assets.store import BlobStore
from core.database import create_engine, session_factory, upgrade_database_async
from core.events import EventBus
from core.settings import Settings
from experience.scan_index import ScanIndex
from web.errors import error_middleware
from web.keys import BLOBS, ENGINE, EVENTS, METRICS, SCAN_INDEX, SESSIONS, SETTINGS, SIO
from web.metrics import Metrics
from web.routes import auth, exhibits, files, health, pages
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


async def _sockets(app: web.Application) -> AsyncIterator[None]:
    sio = app[SIO]
    sio.register_namespace(
        VisitNamespace(app[SETTINGS], app[SESSIONS], app[SCAN_INDEX], app[METRICS])
    )
    yield
    # Closes every engine.io connection so tablets reconnect at once instead of timing out.
    await sio.shutdown()


def _socket_server(settings: Settings) -> socketio.AsyncServer:
    manager = None
    if settings.redis_url:
        manager = socketio.AsyncRedisManager(settings.redis_url)
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
    app.cleanup_ctx.append(_sockets)
    for module in (auth, exhibits, files, health, pages):
        app.router.add_routes(module.routes)
    return app
