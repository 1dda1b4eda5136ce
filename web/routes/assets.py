"""Uploading scans and following their processing."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web

from assets import formats
from assets.limits import Limits
from core.database import unit_of_work
from core.errors import Invalid
from core.models import Role
from experience import asset_records
from web.auth import require
from web.errors import json_response
from web.keys import BLOBS, MESHES, SESSIONS, SETTINGS, WORKER_WAKE
from web.params import path_id
from web.uploads import refuse_oversized, stage_part

routes = web.RouteTableDef()


def check_model(path: str, filename: str, limits: Limits) -> int:
    """Read the whole model once (in the mesh pool) so a broken file is refused at upload."""
    with tempfile.TemporaryDirectory() as scratch:
        return formats.read_model(path, filename, limits, scratch).triangles


async def _receive_file(request: web.Request, limit: int) -> tuple[Path, str, str]:
    """Stream the multipart `file` field to a staging file; returns (path, filename, title)."""
    refuse_oversized(request, limit)
    if not request.content_type.startswith("multipart/"):
        raise Invalid("Send the scan as multipart/form-data with a 'file' field.", field="file")
    reader = await request.multipart()
    staged: Path | None = None
    filename, title = "", ""
    try:
        while (part := await reader.next()) is not None:
            if part.name == "title":
                title = (await part.text())[:300]
            elif part.name == "file" and staged is None:
                filename = Path(part.filename or "").name
                formats.suffix_of(filename)  # refuse an unsupported kind before reading it
                staged = await stage_part(part, request.app[BLOBS], limit)
        if staged is None:
            raise Invalid("The upload has no 'file' field.", field="file")
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    return staged, filename, title or Path(filename).stem


@routes.post("/api/v1/assets")
async def upload(request: web.Request) -> web.Response:
    user = await require(request, Role.librarian)
    settings = request.app[SETTINGS]
    staged, filename, title = await _receive_file(request, settings.max_upload_bytes)
    try:
        # The model must read in a kind-named file: the readers go by the extension.
        named = staged.with_name(staged.name + Path(filename).suffix.lower())
        staged.rename(named)
        staged = named
        await request.app[MESHES].run(
            check_model, str(staged), filename, Limits(max_bytes=settings.max_upload_bytes)
        )
        ext = formats.suffix_of(filename).lstrip(".")
        blobs = request.app[BLOBS]
        # Hashing and moving a large scan must not stall the event loop.
        ref = await asyncio.to_thread(lambda: blobs.put_file(staged, ext, move=True))
    finally:
        staged.unlink(missing_ok=True)
    async with unit_of_work(request.app[SESSIONS]) as session:
        asset = await asset_records.create_asset(
            session, title=title, filename=filename, sha256=ref.sha256, ext=ref.ext, user_id=user.id
        )
        body = {"id": asset.id, "status": asset.status}
    request.app[WORKER_WAKE]("assets")
    return json_response(body, status=202)


@routes.get(r"/api/v1/assets/{id}")
async def read(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with request.app[SESSIONS]() as session:
        asset = await asset_records.get_asset(session, path_id(request, "asset"))
        return json_response(asset_records.asset_view(asset))
