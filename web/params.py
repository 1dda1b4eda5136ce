"""Reading values out of URLs, with errors in words."""

from __future__ import annotations

from aiohttp import web

from core.errors import Invalid


def path_id(request: web.Request, what: str = "", name: str = "id") -> int:
    """A numeric id from the path; `what` names the thing for the error ("exhibit").

    The length check keeps a thousand-digit "id" from reaching the database as an integer
    it cannot hold (an error there would be a 500, not the 422 it deserves).
    """
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 12:
        raise Invalid(f"The {what + ' ' if what else ''}id must be a number.", field=name)
    return int(raw)
