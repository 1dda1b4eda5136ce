"""Print jobs: upload a file or ask for a replica, see the estimate, confirm, follow, cancel.

`POST /print-jobs` answers 201 at once. G-code is `ready` with its estimate straight away; an
STL/3MF or a replica is `queued` until the worker has sliced it (poll `GET`, or listen on
`/makerspace`). A job prints only once confirmed: `POST /print-jobs/{id}/confirm` after seeing
the estimate, or `confirm=true` with the upload to skip that step.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from core.database import unit_of_work, utcnow
from core.errors import Invalid, NotFound
from core.models import Role
from experience import asset_records
from makerspace import jobs, replicas, slicing
from makerspace.quotas import Quota
from makerspace.schemas import JobOptions, JobPatch, ReplicaIn
from web.auth import require
from web.bodies import parse_json, validation_message
from web.errors import json_response
from web.keys import BLOBS, SESSIONS, SETTINGS, WORKER_WAKE
from web.params import path_id
from web.uploads import refuse_oversized, stage_part

routes = web.RouteTableDef()
WAKE = "print_farm"
_FIELDS = {"printer_id", "printer_type", "material", "tags", "reservation_id", "confirm"}


def _quota(request: web.Request) -> Quota:
    return Quota.from_settings(request.app[SETTINGS].extra)


async def _receive(request: web.Request, limit: int) -> tuple[Path, str, JobOptions]:
    """Stream the `file` part to a staging file and read the option fields beside it."""
    refuse_oversized(request, limit)
    reader = await request.multipart()
    staged: Path | None = None
    filename = ""
    fields: dict[str, object] = {}
    try:
        while (part := await reader.next()) is not None:
            if part.name in _FIELDS:
                value = (await part.text()).strip()[:200]
                if part.name == "tags":
                    fields["tags"] = [t for t in value.split(",") if t.strip()]
                elif part.name == "confirm":
                    fields["confirm"] = value.lower() in ("1", "true", "yes", "on")
                elif value:
                    fields[part.name] = value
            elif part.name == "file" and staged is None:
                filename = Path(part.filename or "").name
                jobs.kind_of(filename)  # refuse an unsupported kind before reading it
                staged = await stage_part(part, request.app[BLOBS], limit)
        if staged is None:
            raise Invalid("The upload has no 'file' field.", field="file")
        try:
            options = JobOptions.model_validate(fields)
        except ValidationError as exc:
            message, field = validation_message(exc)
            raise Invalid(message, field=field) from None
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    return staged, filename, options


@routes.post("/api/v1/print-jobs")
async def create(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    settings = request.app[SETTINGS]
    blobs = request.app[BLOBS]
    now = utcnow()
    if request.content_type.startswith("multipart/"):
        staged, filename, options = await _receive(request, settings.max_upload_bytes)
        try:
            if jobs.kind_of(filename) == "gcode":
                estimate = await slicing.read_gcode(staged)
                sha, extent = await jobs.store_gcode(blobs, staged)
                async with unit_of_work(request.app[SESSIONS]) as session:
                    job = await jobs.submit(
                        session,
                        user,
                        options,
                        name=filename,
                        quota=_quota(request),
                        now=now,
                        gcode=estimate,
                        gcode_sha256=sha,
                        extent_mm=extent,
                    )
                    view = jobs.job_view(job)
            else:
                ext = Path(filename).suffix.lower().lstrip(".")
                ref = await asyncio.to_thread(blobs.put_file, staged, ext, move=True)
                async with unit_of_work(request.app[SESSIONS]) as session:
                    job = await jobs.submit(
                        session,
                        user,
                        options,
                        name=filename,
                        quota=_quota(request),
                        now=now,
                        model=(ref.sha256, ref.ext),
                    )
                    view = jobs.job_view(job)
        finally:
            staged.unlink(missing_ok=True)
    elif request.content_type == "application/json":
        body = await parse_json(request, ReplicaIn)
        async with request.app[SESSIONS]() as session:
            try:
                asset = await asset_records.get_asset(session, body.asset_id)
            except NotFound:
                raise NotFound(f"There is no asset #{body.asset_id}.", field="asset_id") from None
        printable = asset.printable or {}
        if asset.status != "ready":
            raise Invalid(
                f"Asset #{asset.id} is still {asset.status}; a replica needs a processed scan.",
                field="asset_id",
            )
        if printable.get("sha256"):
            model_path = blobs.path(printable["sha256"], "stl")
        else:
            model_path = blobs.path(asset.source_sha256, asset.source_ext)
        async with unit_of_work(request.app[SESSIONS]) as session:
            job = await replicas.submit_replica(
                session,
                user,
                body,
                model_path=model_path,
                title=asset.title,
                blobs=blobs,
                quota=_quota(request),
                now=now,
            )
            view = jobs.job_view(job)
    else:
        raise Invalid(
            "Send a file as multipart/form-data (field 'file'), or JSON "
            '{"asset_id", "height_mm"} for a replica.'
        )
    request.app[WORKER_WAKE](WAKE)
    return json_response(view, status=201)


@routes.get("/api/v1/print-jobs")
async def index(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    raw_limit = request.query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
        raise Invalid("limit must be a number from 1 to 200.", field="limit")
    async with request.app[SESSIONS]() as session:
        page = await jobs.list_jobs(
            session,
            user,
            state=request.query.get("state"),
            mine=request.query.get("mine") in ("1", "true"),
            limit=int(raw_limit),
            after=request.query.get("after"),
        )
        items = [jobs.job_view(job) for job in page.items]
    return json_response({"items": items, "total": page.total, "next": page.next})


@routes.get(r"/api/v1/print-jobs/{id}")
async def read(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        return json_response(
            jobs.job_view(await jobs.job_for(session, user, path_id(request, "print job")))
        )


@routes.patch(r"/api/v1/print-jobs/{id}")
async def edit(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    patch = await parse_json(request, JobPatch)
    async with unit_of_work(request.app[SESSIONS]) as session:
        job = await jobs.set_priority(session, user, path_id(request, "print job"), patch.priority)
        view = jobs.job_view(job)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view)


@routes.delete(r"/api/v1/print-jobs/{id}")
async def cancel(request: web.Request) -> web.Response:
    """200 when cancelled at once; 202 when the worker still has to stop the printer."""
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        job = await jobs.cancel(session, user, path_id(request, "print job"), utcnow())
        view = jobs.job_view(job)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view, status=202 if view["state"] != "cancelled" else 200)


async def _command(request: web.Request, command: str) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        job = await jobs.request_command(session, user, path_id(request, "print job"), command)
        view = jobs.job_view(job)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view, status=202)


@routes.post(r"/api/v1/print-jobs/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    return await _command(request, "pause")


@routes.post(r"/api/v1/print-jobs/{id}/resume")
async def resume(request: web.Request) -> web.Response:
    return await _command(request, "resume")


@routes.post(r"/api/v1/print-jobs/{id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        job = await jobs.confirm(
            session, user, path_id(request, "print job"), _quota(request), utcnow()
        )
        view = jobs.job_view(job)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view)


@routes.post(r"/api/v1/print-jobs/{id}/requeue")
async def requeue(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        job = await jobs.requeue(
            session, user, path_id(request, "print job"), _quota(request), utcnow()
        )
        view = jobs.job_view(job)
    request.app[WORKER_WAKE](WAKE)
    return json_response(view)
