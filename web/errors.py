"""One place where failures become responses: the JSON error shape of DESIGN.md.

Domain errors carry their own code and message; aiohttp's HTTP exceptions (unknown route, body
too large) are translated to the same shape; anything unexpected is logged with its traceback
and the client gets a plain 500 without one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from core.errors import DomainError, Unavailable
from web.bodies import validation_message
from web.keys import METRICS

log = logging.getLogger(__name__)

STATUS = {
    "invalid": 422,
    "not_found": 404,
    "conflict": 409,
    "forbidden": 403,
    "unauthorized": 401,
    "too_large": 413,
    "unavailable": 503,
    "rate_limited": 429,
}
_HTTP_CODES = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid",
    409: "conflict",
    413: "too_large",
    415: "invalid",
    422: "invalid",
    429: "rate_limited",
}


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def error_response(
    code: str, message: str, field: str | None = None, status: int | None = None
) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return json_response({"error": body}, status=status or STATUS.get(code, 400))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except DomainError as exc:
        if isinstance(exc, Unavailable):
            log.warning("unavailable: %s", exc.message)
        response = error_response(exc.code, exc.message, exc.field)
        status = response.status
        return response
    except ValidationError as exc:
        message, field = validation_message(exc)
        status = 422
        return error_response("invalid", message, field)
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "invalid")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if exc.status == 413:
            message = "The request is larger than this server accepts."
        response = error_response(code, message or exc.reason, status=exc.status)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            "internal", "Something went wrong on the server; it was logged.", status=500
        )
    finally:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        request.app[METRICS].observe_request(
            request.method, name, status, time.perf_counter() - started
        )
