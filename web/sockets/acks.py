"""Socket.IO event handlers answer with an ack: `{ok: true, ...}` or `{ok: false, error}`.

This wrapper is the Socket.IO twin of the REST error middleware: it validates the payload,
turns domain errors into error acks, and makes sure no traceback ever reaches a tablet.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import DomainError
from web.bodies import validation_message

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Ack = dict[str, Any]


def error_ack(code: str, message: str, field: str | None = None) -> Ack:
    error = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"ok": False, "error": error}


def acked(
    model: type[M], *, count: Callable[[str, str], None] | None = None
) -> Callable[[Callable[[Any, str, M], Awaitable[Ack]]], Callable[..., Awaitable[Ack]]]:
    def decorate(handler: Callable[[Any, str, M], Awaitable[Ack]]) -> Callable[..., Awaitable[Ack]]:
        event = handler.__name__.removeprefix("on_")

        @functools.wraps(handler)
        async def wrapper(self: Any, sid: str, *args: Any) -> Ack:
            outcome = "ok"
            try:
                if len(args) != 1:
                    outcome = "invalid"
                    return error_ack("invalid", f"'{event}' takes exactly one object as payload.")
                try:
                    payload = model.model_validate(args[0])
                except ValidationError as exc:
                    outcome = "invalid"
                    message, field = validation_message(exc)
                    return error_ack("invalid", message, field)
                try:
                    result = await handler(self, sid, payload)
                except DomainError as exc:
                    outcome = exc.code
                    return {"ok": False, "error": exc.as_dict()}
                return {"ok": True, **result}
            except Exception:
                outcome = "internal"
                log.exception("event %s failed", event)
                return error_ack("internal", "Something went wrong on the server; it was logged.")
            finally:
                if count is not None:
                    count(event, outcome)
                elif hasattr(self, "count_event"):
                    self.count_event(event, outcome)

        return wrapper

    return decorate
