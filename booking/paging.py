"""Pages of a list and the opaque cursors that continue them."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from core.errors import Invalid

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    next: str | None


def encode_cursor(*parts: object) -> str:
    # Opaque to clients so that the sort key can change without breaking their links.
    raw = "|".join(str(part) for part in parts)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Invalid(
            "The page cursor is not valid; start again from the first page.", field="after"
        ) from None
    parts = raw.split("|")
    if len(parts) != count:
        raise Invalid(
            "The page cursor is not valid; start again from the first page.", field="after"
        )
    return parts
