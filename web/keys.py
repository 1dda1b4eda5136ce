"""Typed keys for what the application shares between handlers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import socketio
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from assets.store import BlobStore
from core.events import EventBus
from core.settings import Settings
from experience.analytics import VisitRecorder
from experience.scan_index import ScanIndex
from web.metrics import Metrics
from web.pools import MeshPool
from web.sockets.visit import VisitNamespace

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
BLOBS = web.AppKey("blobs", BlobStore)
EVENTS = web.AppKey("events", EventBus)
SIO = web.AppKey("sio", socketio.AsyncServer)
SCAN_INDEX = web.AppKey("scan_index", ScanIndex)
METRICS = web.AppKey("metrics", Metrics)
RECORDER = web.AppKey("recorder", VisitRecorder)
VISIT = web.AppKey("visit", VisitNamespace)
MESHES = web.AppKey("meshes", MeshPool)
# Wakes a worker duty by name ("assets") when the worker runs in this process; a no-op otherwise
# (an external worker polls).
WORKER_WAKE = web.AppKey("worker_wake", Callable[[str], None])  # type: ignore[arg-type]
VISION = web.AppKey("vision", ThreadPoolExecutor)
