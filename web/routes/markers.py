"""Marker images and printable sheets."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ar_markers.images import marker_png
from ar_markers.sheets import sheet_pdf
from core.models import Role
from experience import curation
from experience.marker_sheets import sheet_item, sheet_items
from experience.models import Exhibit
from web.auth import current_user, require
from web.keys import SESSIONS, SETTINGS
from web.params import path_id

routes = web.RouteTableDef()


async def _exhibit(request: web.Request) -> Exhibit:
    user = await current_user(request)
    staff = user is not None and user.role >= Role.librarian
    async with request.app[SESSIONS]() as session:
        return await curation.get_exhibit(session, path_id(request, "exhibit"), staff=staff)


@routes.get(r"/api/v1/exhibits/{id}/marker.png")
async def png(request: web.Request) -> web.Response:
    exhibit = await _exhibit(request)
    data = await asyncio.to_thread(marker_png, exhibit.marker_dictionary, exhibit.marker_id)
    return web.Response(body=data, content_type="image/png", headers={"Cache-Control": "no-cache"})


@routes.get(r"/api/v1/exhibits/{id}/marker.pdf")
async def pdf(request: web.Request) -> web.Response:
    exhibit = await _exhibit(request)
    settings = request.app[SETTINGS]
    data = await asyncio.to_thread(
        sheet_pdf,
        [sheet_item(exhibit, settings.languages)],
        settings.public_url,
        title=exhibit.slug,
    )
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="marker-{exhibit.slug}.pdf"',
            "Cache-Control": "no-cache",
        },
    )


@routes.get("/api/v1/markers/sheet.pdf")
async def all_markers(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        items = await sheet_items(session, settings.languages)
    data = await asyncio.to_thread(sheet_pdf, items, settings.public_url, title="smartlib")
    return web.Response(
        body=data,
        content_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="markers.pdf"'},
    )
