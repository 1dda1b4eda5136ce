"""Receiving uploaded files: streamed to the blob store's staging area, never whole in memory."""

from __future__ import annotations

from pathlib import Path

from aiohttp import BodyPartReader, web

from assets.store import BlobStore
from core.errors import TooLarge


def refuse_oversized(request: web.Request, limit: int) -> None:
    """Refuse by the declared length before reading anything (multipart adds a little)."""
    if (request.content_length or 0) > limit + (1 << 20):
        raise TooLarge(f"The upload is larger than this server accepts ({limit >> 20} MB).")


async def stage_part(part: BodyPartReader, blobs: BlobStore, limit: int) -> Path:
    """Write one multipart part to a staging file, stopping (and removing it) past `limit`."""
    staged = blobs.staging_file()
    size = 0
    try:
        with staged.open("wb") as fh:
            while chunk := await part.read_chunk(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(
                        f"The upload is larger than this server accepts ({limit >> 20} MB)."
                    )
                fh.write(chunk)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged
