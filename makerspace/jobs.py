"""Print jobs from a member's point of view: submit, see the estimate, confirm, cancel, re-queue.

Submitting never waits for a printer or the slicer: G-code gets its estimate at once and stops
in `ready`; a model (STL/3MF, or a replica's printable mesh) stops in `queued` until the worker
has sliced it. A job joins the dispatch queue when it is `ready` *and* confirmed, so the member
always sees the estimate before anything is printed (unless they confirmed up front).

Printers are only ever touched by the worker: pause/resume/cancel of a job on a printer are
recorded here as a `command` that the worker carries out.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assets.store import BlobStore
from booking.models import Reservation
from booking.paging import Page, decode_cursor, encode_cursor
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.models import Role, User
from makerspace.models import ON_PRINTER, JobState, PrintJob, printer_file
from makerspace.printers import check_some_printer_takes
from makerspace.quotas import Quota, check_length, check_weekly
from makerspace.schemas import JobOptions
from makerspace.slicing import GCODE_SUFFIXES, MODEL_SUFFIXES, SliceResult

STAFF = Role.librarian
COMMANDS = ("pause", "resume", "cancel")
_MOVE = re.compile(rb"^G[01]\s[^;\n]*", re.M)
_AXIS = re.compile(rb"([XYZ])(-?\d+(?:\.\d*)?)")


def job_view(job: PrintJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state,
        "progress": job.progress,
        "printer_id": job.printer_id,
        "requested_printer_id": job.requested_printer_id,
        "estimate_s": job.estimate_s,
        "filament_mm": job.filament_mm,
        "filament_g": job.filament_g,
        "extent_mm": job.extent_mm,
        "eta_s": job.eta_s,
        "paused": job.paused,
        "confirmed": job.confirmed_at is not None,
        "priority": job.priority,
        "error": job.error,
        "user_id": job.user_id,
        "asset_id": job.asset_id,
        "height_mm": job.height_mm,
        "reservation_id": job.reservation_id,
        "file_name": printer_file(job.id, job.file_tag) if job.file_tag else None,
        "created_at": job.created_at.isoformat() if job.created_at else None,
    }


def event_view(job: PrintJob) -> dict[str, Any]:
    """The `job` Socket.IO event (user_id routes it to the owner's room)."""
    return {
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "printer_id": job.printer_id,
        "eta_s": job.eta_s,
        "paused": job.paused,
        "error": job.error,
        "user_id": job.user_id,
    }


def gcode_extent(path: Path) -> list[float] | None:
    """The highest X, Y and Z that the G-code's moves reach (absolute positioning assumed).

    Blocking: read off the event loop. None when the file has no coordinates at all.
    """
    highest = {b"X": 0.0, b"Y": 0.0, b"Z": 0.0}
    seen = False
    for match in _MOVE.finditer(path.read_bytes()):
        for axis, value in _AXIS.findall(match.group(0)):
            number = float(value)
            seen = True
            if number > highest[axis]:
                highest[axis] = number
    if not seen:
        return None
    return [round(highest[b"X"], 2), round(highest[b"Y"], 2), round(highest[b"Z"], 2)]


def kind_of(filename: str) -> str:
    """'gcode' or 'model'; Invalid for anything else."""
    suffix = Path(filename).suffix.lower()
    if suffix in GCODE_SUFFIXES:
        return "gcode"
    if suffix in MODEL_SUFFIXES:
        return "model"
    raise Invalid(
        f"{filename or 'The file'}: upload G-code, STL or 3MF "
        f"(not {suffix or 'a file without extension'}).",
        field="file",
    )


async def _check_reservation(
    session: AsyncSession, user: User, reservation_id: int | None, now: datetime
) -> None:
    if reservation_id is None:
        return
    reservation = await session.get(Reservation, reservation_id)
    if reservation is None or (reservation.user_id != user.id and user.role < STAFF):
        raise NotFound(f"There is no reservation #{reservation_id}.", field="reservation_id")
    if reservation.ends_at <= now or reservation.state not in ("requested", "confirmed"):
        raise Invalid(
            f"Reservation #{reservation_id} is over or no longer active.", field="reservation_id"
        )


async def submit(
    session: AsyncSession,
    user: User,
    options: JobOptions,
    *,
    name: str,
    quota: Quota,
    now: datetime,
    gcode: SliceResult | None = None,
    gcode_sha256: str | None = None,
    extent_mm: list[float] | None = None,
    model: tuple[str, str] | None = None,
    asset_id: int | None = None,
    height_mm: float | None = None,
) -> PrintJob:
    """Record a new job: G-code (with its estimates) → `ready`; a model → `queued` to slice."""
    if options.confirm:
        await check_weekly(session, user, quota, now)
    if gcode is not None:
        check_length(user, quota, gcode.estimate_s)
    await _check_reservation(session, user, options.reservation_id, now)
    job = PrintJob(
        user_id=user.id,
        name=name[:200] or "print",
        requested_printer_id=options.printer_id,
        printer_type=options.printer_type,
        material=options.material,
        tags=options.tags,
        reservation_id=options.reservation_id,
        asset_id=asset_id,
        height_mm=height_mm,
        extent_mm=extent_mm,
        confirmed_at=now if options.confirm else None,
        created_at=now,
        updated_at=now,
    )
    if gcode is not None:
        job.state = JobState.READY.value
        job.gcode_sha256 = gcode_sha256
        job.estimate_s = gcode.estimate_s
        job.filament_mm = gcode.filament_mm
        job.filament_g = gcode.filament_g
    elif model is not None:
        job.state = JobState.QUEUED.value
        job.model_sha256, job.model_ext = model
    else:
        raise Invalid("A print job needs G-code or a model.", field="file")
    await check_some_printer_takes(session, job)
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, job_id: int, *, lock: bool = False) -> PrintJob:
    query = select(PrintJob).where(PrintJob.id == job_id)
    if lock:
        query = query.with_for_update()
    job = await session.scalar(query)
    if job is None:
        raise NotFound(f"There is no print job #{job_id}.")
    return job


async def job_for(
    session: AsyncSession, user: User, job_id: int, *, lock: bool = False
) -> PrintJob:
    """A job its owner or staff may see; others get NotFound (its existence is not revealed)."""
    job = await get_job(session, job_id, lock=lock)
    if job.user_id != user.id and user.role < STAFF:
        raise NotFound(f"There is no print job #{job_id}.")
    return job


async def list_jobs(
    session: AsyncSession,
    user: User,
    *,
    state: str | None = None,
    mine: bool = False,
    limit: int = 50,
    after: str | None = None,
) -> Page[PrintJob]:
    """Newest first; members see their own jobs, staff everyone's (or their own with `mine`)."""
    filters = []
    if user.role < STAFF or mine:
        filters.append(PrintJob.user_id == user.id)
    if state:
        if state not in {s.value for s in JobState}:
            raise Invalid(f"'{state}' is not a print job state.", field="state")
        filters.append(PrintJob.state == state)
    total = await session.scalar(select(func.count()).select_from(PrintJob).where(*filters)) or 0
    query = select(PrintJob).where(*filters).order_by(PrintJob.id.desc()).limit(limit + 1)
    if after:
        (last,) = decode_cursor(after, 1)
        if not last.isdigit():
            raise Invalid("The page cursor is not valid.", field="after")
        query = query.where(PrintJob.id < int(last))
    rows = list(await session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, total, encode_cursor(rows[-1].id) if more else None)


async def confirm(
    session: AsyncSession, user: User, job_id: int, quota: Quota, now: datetime
) -> PrintJob:
    """The member saw the estimate and wants the print: the job joins the dispatch queue."""
    job = await job_for(session, user, job_id, lock=True)
    if job.confirmed_at is not None:
        return job
    if job.state not in (JobState.QUEUED, JobState.SLICING, JobState.READY):
        raise Conflict(f"Job #{job.id} is {job.state}; it cannot be confirmed now.")
    owner = user if job.user_id == user.id else await session.get(User, job.user_id)
    assert owner is not None
    await check_weekly(session, owner, quota, now)
    check_length(owner, quota, job.estimate_s)
    job.confirmed_at = now
    await session.flush()
    return job


async def cancel(session: AsyncSession, user: User, job_id: int, now: datetime) -> PrintJob:
    """Cancel at once if no printer has it; otherwise ask the worker to stop the printer."""
    job = await job_for(session, user, job_id, lock=True)
    state = JobState(job.state)
    if state.final:
        raise Conflict(f"Job #{job.id} is already {job.state}.")
    if job.state in ON_PRINTER:
        job.command = "cancel"
    else:
        job.state = JobState.CANCELLED.value
        job.finished_at = now
    await session.flush()
    return job


async def request_command(session: AsyncSession, user: User, job_id: int, command: str) -> PrintJob:
    """Pause or resume a job that is on a printer (carried out by the worker)."""
    if command not in COMMANDS:
        raise Invalid(f"'{command}' is not a print command.")
    job = await job_for(session, user, job_id, lock=True)
    if job.state != JobState.PRINTING.value:
        raise Conflict(f"Job #{job.id} is {job.state}, not printing; it cannot be {command}d.")
    if command == "pause" and job.paused:
        raise Conflict(f"Job #{job.id} is already paused.")
    if command == "resume" and not job.paused:
        raise Conflict(f"Job #{job.id} is not paused.")
    job.command = command
    await session.flush()
    return job


async def requeue(
    session: AsyncSession, user: User, job_id: int, quota: Quota, now: datetime
) -> PrintJob:
    """Put a failed or cancelled job back in the queue (it counts as a new print)."""
    job = await job_for(session, user, job_id, lock=True)
    if job.state not in (JobState.FAILED.value, JobState.CANCELLED.value):
        raise Conflict(
            f"Job #{job.id} is {job.state}; only failed or cancelled jobs are re-queued."
        )
    owner = user if job.user_id == user.id else await session.get(User, job.user_id)
    assert owner is not None
    await check_weekly(session, owner, quota, now)
    job.state = (JobState.READY if job.gcode_sha256 else JobState.QUEUED).value
    job.printer_id = None
    job.error = None
    job.progress = None
    job.eta_s = None
    job.paused = False
    job.command = None
    job.dispatched_at = job.started_at = job.finished_at = None
    job.confirmed_at = now
    await session.flush()
    return job


async def set_priority(session: AsyncSession, user: User, job_id: int, priority: int) -> PrintJob:
    if user.role < STAFF:
        raise Forbidden("Only staff can change the order of the print queue.")
    job = await get_job(session, job_id)
    job.priority = priority
    await session.flush()
    return job


async def estimate_seconds(session: AsyncSession, job_id: str) -> float | None:
    """The slicer's estimate of a job (the booking module sizes print slots from it)."""
    if not str(job_id).isdigit():
        return None
    job = await session.get(PrintJob, int(job_id))
    if job is None:
        return None
    return float(job.estimate_s) if job.estimate_s is not None else None


async def store_gcode(blobs: BlobStore, path: Path) -> tuple[str, list[float] | None]:
    """Keep G-code in the blob store; returns (digest, highest X/Y/Z it reaches)."""
    extent = await asyncio.to_thread(gcode_extent, path)
    ref = await asyncio.to_thread(blobs.put_file, path, "gcode", move=True)
    return ref.sha256, extent


async def finish_claim(session: AsyncSession, job_id: int, expected: str, **values: Any) -> bool:
    """Move a job out of `expected` only if it is still there (the worker's state changes)."""
    result = await session.execute(
        update(PrintJob)
        .where(PrintJob.id == job_id, PrintJob.state == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
