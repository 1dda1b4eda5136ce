"""The catalog link over REST: local records, their exhibits and MARCXML, imports, live SRU.

Records are named "source:control number" (their 003 and 001), the same pair an exhibit's
`catalog{source, record_id}` holds, so a client can go from an exhibit to its record and back
without an id of ours in between.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.database import unit_of_work
from core.errors import Invalid, TooLarge
from core.models import Role
from experience import catalog, catalog_sru
from experience.catalog_import import import_catalog
from experience.catalog_search import search_records
from experience.exhibits import public_view
from experience.sru import MAX_PAGE, SruClient
from web.auth import require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import BLOBS, EVENTS, SESSIONS, SETTINGS

routes = web.RouteTableDef()

# One SRU client per application: its connection pool keeps catalog connections alive.
SRU_CLIENT = web.AppKey("sru_client", SruClient)

MARCXML_TYPE = "application/marcxml+xml"


async def sru_client(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the SRU client, with timeouts from settings `sru_timeout_s` and
    `sru_attempts` (defaults 10 s and 3)."""
    extra = app[SETTINGS].extra
    client = SruClient(
        timeout=float(extra.get("sru_timeout_s", 10.0)),
        attempts=int(extra.get("sru_attempts", 3)),
    )
    app[SRU_CLIENT] = client
    yield
    await client.close()


def _opac(request: web.Request) -> str | None:
    return request.app[SETTINGS].extra.get("opac_url")


def _key(request: web.Request) -> catalog.RecordKey:
    return catalog.parse_record_ref(request.match_info["ref"])


def _int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}.", field=name)
    return int(raw)


@routes.get("/api/v1/catalog/records")
async def records(request: web.Request) -> web.Response:
    limit = _int(request, "limit", 20, 1, 100)
    async with request.app[SESSIONS]() as session:
        page = await search_records(
            session, request.query.get("q", ""), limit=limit, after=request.query.get("after")
        )
    opac = _opac(request)
    return json_response(
        {
            "items": [catalog.record_view(r, opac_url=opac) for r in page.items],
            "total": page.total,
            "next": page.next,
        }
    )


# registered before "{ref}" so that "x:y.marcxml" is not read as the record "x:y.marcxml"
@routes.get("/api/v1/catalog/records/{ref}.marcxml")
async def record_marcxml(request: web.Request) -> web.Response:
    source, record_id = _key(request)
    async with request.app[SESSIONS]() as session:
        document = await catalog.export_marcxml(
            session, source, record_id, request.app[SETTINGS].public_url
        )
    return web.Response(text=document, content_type=MARCXML_TYPE, charset="utf-8")


@routes.get("/api/v1/catalog/records/{ref}/exhibits")
async def record_exhibits(request: web.Request) -> web.Response:
    source, record_id = _key(request)
    async with request.app[SESSIONS]() as session:
        await catalog.get_record(session, source, record_id)
        exhibits = await catalog.linked_exhibits(session, source, record_id)
        items = [public_view(e, opac_url=_opac(request)) for e in exhibits]
    public_url = request.app[SETTINGS].public_url
    for exhibit, item in zip(exhibits, items, strict=True):
        item["visit_url"] = catalog.visitor_url(public_url, exhibit)
    return json_response({"items": items, "total": len(items), "next": None})


@routes.get("/api/v1/catalog/records/{ref}")
async def record(request: web.Request) -> web.Response:
    source, record_id = _key(request)
    async with request.app[SESSIONS]() as session:
        found = await catalog.get_record(session, source, record_id)
    return json_response(catalog.record_view(found, opac_url=_opac(request)))


async def _receive(request: web.Request, target: Path, limit: int) -> None:
    """Stream the upload (a multipart `file` field or the raw body) to `target`."""
    if (request.content_length or 0) > limit + (1 << 20):
        raise TooLarge(f"The file is larger than this server accepts ({limit >> 20} MB).")
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file":
                break
        else:
            raise Invalid("The upload has no 'file' field.", field="file")
        read = part.read_chunk  # type: ignore[union-attr]
    else:
        read = request.content.read
    size = 0
    with target.open("wb") as out:
        while chunk := await read(1 << 16):
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"The file is larger than this server accepts ({limit >> 20} MB).")
            out.write(chunk)


@routes.post("/api/v1/catalog/import")
async def import_file(request: web.Request) -> web.Response:
    """A MARC file (ISO 2709 or MARCXML) as multipart `file` or as the raw body."""
    await require(request, Role.librarian)
    staged = request.app[BLOBS].staging_file()
    try:
        await _receive(request, staged, request.app[SETTINGS].max_upload_bytes)
        summary = await import_catalog(request.app[SESSIONS], request.app[EVENTS], staged)
    finally:
        staged.unlink(missing_ok=True)
    return json_response(summary.as_dict())


@routes.get("/api/v1/catalog/sru/sources")
async def sru_sources(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    sources = catalog_sru.configured_sources(request.app[SETTINGS].extra)
    items = [
        {"name": s.name, "base_url": s.base_url, "database": s.database} for s in sources.values()
    ]
    return json_response({"items": items, "total": len(items), "next": None})


@routes.get("/api/v1/catalog/sru")
async def sru_search(request: web.Request) -> web.Response:
    """Live search: `source` (a configured catalog's name), `q` (CQL), `start`, `limit`."""
    await require(request, Role.librarian)
    sources = catalog_sru.configured_sources(request.app[SETTINGS].extra)
    source = catalog_sru.source_named(sources, request.query.get("source", ""))
    start = _int(request, "start", 1, 1, 10_000_000)
    limit = _int(request, "limit", 20, 1, MAX_PAGE)
    page = await request.app[SRU_CLIENT].search(
        source, request.query.get("q", ""), start=start, maximum=limit
    )
    return json_response(
        {
            "items": [catalog_sru.hit_view(entry, source) for entry in page.records],
            "total": page.total,
            "next": str(page.next_start) if page.next_start else None,
            "problems": [problem.message for problem in page.problems],
        }
    )


class SruLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    record_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    exhibit_id: int = Field(ge=1)


@routes.post("/api/v1/catalog/sru/link")
async def sru_link(request: web.Request) -> web.Response:
    """Link an exhibit to a record found live; the record is cached in the local catalog."""
    await require(request, Role.librarian)
    body = await parse_json(request, SruLink)
    sources = catalog_sru.configured_sources(request.app[SETTINGS].extra)
    source = catalog_sru.source_named(sources, body.source)
    # asked before the transaction opens: a slow catalog must not hold a database transaction
    entry = await catalog_sru.fetch_record(request.app[SRU_CLIENT], source, body.record_id)
    async with unit_of_work(request.app[SESSIONS]) as session:
        exhibit, cached = await catalog_sru.link_exhibit(
            session, request.app[EVENTS], entry, source, body.exhibit_id
        )
        opac = _opac(request)
        view = {
            "exhibit": public_view(exhibit, opac_url=opac),
            "record": catalog.record_view(cached, opac_url=opac),
        }
    return json_response(view)
