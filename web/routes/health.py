"""Liveness and metrics for operators."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from core.errors import Unavailable
from web.errors import json_response
from web.keys import ENGINE, METRICS

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise Unavailable(f"The database does not answer: {type(exc).__name__}") from exc
    return json_response({"status": "ok", "database": "ok"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        text=request.app[METRICS].render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
