"""Reading request bodies into pydantic models, with errors in the project's shape."""

from __future__ import annotations

from typing import TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from core.errors import Invalid

M = TypeVar("M", bound=BaseModel)


async def parse_json(request: web.Request, model: type[M]) -> M:
    """Validate the JSON body; the size limit is aiohttp's `client_max_size` (413 past it)."""
    raw = await request.read()
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        raise Invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Invalid("The request body must be a JSON object.")
    return model.model_validate(data)


def validation_message(exc: ValidationError) -> tuple[str, str | None]:
    """The first problem pydantic found, phrased for a person, and the field it concerns."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    message = first.get("msg", "invalid value")
    return (f"{field}: {message}" if field else message), field
