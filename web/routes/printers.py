"""Printers of the farm: librarians register and edit them; members see which exist."""

from __future__ import annotations

from aiohttp import web

from core.database import unit_of_work, utcnow
from core.models import Role
from makerspace import printers
from makerspace.schemas import PrinterIn, PrinterPatch
from web.auth import require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import SESSIONS, SETTINGS, WORKER_WAKE
from web.params import path_id

routes = web.RouteTableDef()
WAKE = "print_farm"


def _view(printer: printers.Printer, staff: bool) -> dict:
    view = printers.printer_view(printer)
    if not staff:
        view.pop("url", None)  # where the farm's machines live is for staff only
        view.pop("port", None)
    return view


@routes.post("/api/v1/printers")
async def create(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    body = await parse_json(request, PrinterIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        printer = await printers.create_printer(session, body, request.app[SETTINGS].secret_key)
        view = _view(printer, True)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view, status=201)


@routes.get("/api/v1/printers")
async def index(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        items = [
            _view(p, user.role >= Role.librarian) for p in await printers.list_printers(session)
        ]
    return json_response({"items": items, "total": len(items), "next": None})


@routes.get(r"/api/v1/printers/{id}")
async def read(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        printer = await printers.get_printer(session, path_id(request, "printer"))
        return json_response(_view(printer, user.role >= Role.librarian))


@routes.patch(r"/api/v1/printers/{id}")
async def edit(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    patch = await parse_json(request, PrinterPatch)
    async with unit_of_work(request.app[SESSIONS]) as session:
        printer = await printers.update_printer(
            session, path_id(request, "printer"), patch, request.app[SETTINGS].secret_key
        )
        view = _view(printer, True)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view)


@routes.delete(r"/api/v1/printers/{id}")
async def remove(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await printers.delete_printer(session, path_id(request, "printer"), utcnow())
    request.app[WORKER_WAKE](WAKE)
    return web.Response(status=204)


@routes.post(r"/api/v1/printers/{id}/bed-cleared")
async def bed_cleared(request: web.Request) -> web.Response:
    """Someone took the last print off: the printer may take its next job."""
    await require(request, Role.docent)
    async with unit_of_work(request.app[SESSIONS]) as session:
        printer = await printers.mark_bed_cleared(session, path_id(request, "printer"))
        view = _view(printer, True)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view)
