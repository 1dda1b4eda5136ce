"""Exhibits over REST."""

from __future__ import annotations

from aiohttp import web

from core.errors import Invalid
from experience.exhibits import list_published, public_view
from web.errors import json_response
from web.keys import SESSIONS

routes = web.RouteTableDef()


def _limit(request: web.Request, default: int = 50) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise Invalid("limit must be a whole number from 1 to 200.", field="limit")
    return int(raw)


@routes.get("/api/v1/exhibits")
async def exhibits(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        page = await list_published(
            session, limit=_limit(request), after=request.query.get("after")
        )
    return json_response(
        {"items": [public_view(e) for e in page.items], "total": page.total, "next": page.next}
    )
