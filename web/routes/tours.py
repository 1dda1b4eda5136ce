"""Tours: librarians write them, docents lead them."""

from __future__ import annotations

from aiohttp import web

from core.database import unit_of_work
from core.models import Role
from experience import curation
from experience.schemas import TourIn, TourPatch
from web.auth import require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import EVENTS, SESSIONS
from web.params import path_id

routes = web.RouteTableDef()


@routes.get("/api/v1/tours")
async def list_tours(request: web.Request) -> web.Response:
    await require(request, Role.docent)
    async with request.app[SESSIONS]() as session:
        items = [curation.tour_view(t) for t in await curation.list_tours(session)]
    return json_response({"items": items, "total": len(items), "next": None})


@routes.post("/api/v1/tours")
async def create(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    data = await parse_json(request, TourIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        tour = await curation.create_tour(session, request.app[EVENTS], data)
        view = curation.tour_view(tour)
    return json_response(view, status=201)


@routes.get(r"/api/v1/tours/{id}")
async def read(request: web.Request) -> web.Response:
    await require(request, Role.docent)
    async with request.app[SESSIONS]() as session:
        return json_response(
            curation.tour_view(await curation.get_tour(session, path_id(request, "tour")))
        )


@routes.patch(r"/api/v1/tours/{id}")
async def update(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    patch = await parse_json(request, TourPatch)
    async with unit_of_work(request.app[SESSIONS]) as session:
        tour = await curation.update_tour(
            session, request.app[EVENTS], path_id(request, "tour"), patch
        )
        view = curation.tour_view(tour)
    return json_response(view)


@routes.delete(r"/api/v1/tours/{id}")
async def remove(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await curation.delete_tour(session, request.app[EVENTS], path_id(request, "tour"))
    return web.Response(status=204)
