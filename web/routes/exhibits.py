"""The exhibit list: published exhibits with their markers for anyone."""

from __future__ import annotations

from aiohttp import web

from core.errors import Invalid
from core.models import Role
from experience.curation import list_all
from experience.exhibits import list_published, public_view
from web.auth import require
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
    """Published exhibits for anyone; `?all=true` adds unpublished ones for librarians."""
    everything = request.query.get("all") in {"1", "true"}
    if everything:
        await require(request, Role.librarian)
    lister = list_all if everything else list_published
    async with request.app[SESSIONS]() as session:
        page = await lister(session, limit=_limit(request), after=request.query.get("after"))
    return json_response(
        {"items": [public_view(e) for e in page.items], "total": page.total, "next": page.next}
    )
