"""Curators edit exhibits; anyone reads the published ones."""

from __future__ import annotations

import asyncio

from aiohttp import web

from core.database import unit_of_work
from core.errors import Invalid, TooLarge
from core.models import Role
from experience import curation
from experience.exhibits import public_view
from experience.schemas import ExhibitIn, ExhibitPatch
from web.auth import current_user, require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import BLOBS, EVENTS, SESSIONS, SETTINGS
from web.params import path_id

routes = web.RouteTableDef()

AUDIO_TYPES = {"audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/mp4": "m4a"}
MAX_AUDIO_BYTES = 30 << 20


@routes.post("/api/v1/exhibits")
async def create(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    data = await parse_json(request, ExhibitIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        exhibit = await curation.create_exhibit(session, request.app[EVENTS], data)
        await session.refresh(exhibit)
        view = public_view(exhibit)
    return json_response(view, status=201)


@routes.get(r"/api/v1/exhibits/{id}")
async def read(request: web.Request) -> web.Response:
    user = await current_user(request)
    staff = user is not None and user.role >= Role.librarian
    async with request.app[SESSIONS]() as session:
        exhibit = await curation.get_exhibit(session, path_id(request, "exhibit"), staff=staff)
        return json_response(public_view(exhibit))


@routes.patch(r"/api/v1/exhibits/{id}")
async def update(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    patch = await parse_json(request, ExhibitPatch)
    async with unit_of_work(request.app[SESSIONS]) as session:
        exhibit = await curation.update_exhibit(
            session, request.app[EVENTS], path_id(request, "exhibit"), patch
        )
        view = public_view(exhibit)
    return json_response(view)


@routes.delete(r"/api/v1/exhibits/{id}")
async def remove(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await curation.delete_exhibit(session, request.app[EVENTS], path_id(request, "exhibit"))
    return web.Response(status=204)


@routes.put(r"/api/v1/exhibits/{id}/narration/{lang:[a-z]{2,3}}/audio")
async def narration_audio(request: web.Request) -> web.Response:
    """A recorded narration, sent as the raw body with its audio content type."""
    await require(request, Role.librarian)
    lang = request.match_info["lang"]
    if lang not in request.app[SETTINGS].languages:
        raise Invalid(f"'{lang}' is not one of this library's languages.", field="lang")
    ext = AUDIO_TYPES.get(request.content_type)
    if ext is None:
        raise Invalid(
            "Send MP3 (audio/mpeg), Ogg (audio/ogg) or AAC (audio/mp4).", field="content_type"
        )
    if (request.content_length or 0) > MAX_AUDIO_BYTES:
        raise TooLarge(f"A narration may be at most {MAX_AUDIO_BYTES >> 20} MB.")
    blobs = request.app[BLOBS]
    staged = blobs.staging_file()
    size = 0
    try:
        with staged.open("wb") as fh:
            async for chunk in request.content.iter_chunked(1 << 16):
                size += len(chunk)
                if size > MAX_AUDIO_BYTES:
                    raise TooLarge(f"A narration may be at most {MAX_AUDIO_BYTES >> 20} MB.")
                fh.write(chunk)
        if size == 0:
            raise Invalid("The narration file is empty.")
        ref = await asyncio.to_thread(lambda: blobs.put_file(staged, ext, move=True))
    finally:
        staged.unlink(missing_ok=True)
    async with unit_of_work(request.app[SESSIONS]) as session:
        exhibit = await curation.set_narration_audio(
            session, request.app[EVENTS], path_id(request, "exhibit"), lang, ref.name
        )
        view = public_view(exhibit)
    return json_response(view)
