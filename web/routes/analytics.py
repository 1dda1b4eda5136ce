"""What visitors look at, for curators."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from core.database import utcnow
from core.errors import Invalid
from core.models import Role
from experience.analytics import exhibit_summary, tour_completions
from web.auth import require
from web.errors import json_response
from web.keys import RECORDER, SESSIONS

routes = web.RouteTableDef()


def _instant(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"'{name}' must be an ISO 8601 date or time.", field=name) from None
    if value.tzinfo is None:
        raise Invalid(
            f"'{name}' needs a time zone offset, e.g. 2026-11-22T00:00:00+07:00.", field=name
        )
    return value


@routes.get("/api/v1/analytics/exhibits")
async def exhibits(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    end = _instant(request, "to", utcnow() + timedelta(seconds=1))
    start = _instant(request, "from", end - timedelta(days=30))
    # Events still buffered in this process belong in the answer a curator sees now.
    await request.app[RECORDER].flush()
    async with request.app[SESSIONS]() as session:
        items = await exhibit_summary(session, start, end)
        completions = await tour_completions(session, start, end)
    return json_response(
        {
            "items": items,
            "total": len(items),
            "next": None,
            "tour_completions": {str(k): v for k, v in completions.items()},
            "from": start.isoformat(),
            "to": end.isoformat(),
        }
    )
