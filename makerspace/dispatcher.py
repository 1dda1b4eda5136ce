"""The queue and the dispatcher's decisions, as database transactions the worker runs.

The worker holds one coordinator per printer; whenever a printer's snapshot changes it calls
`settle` (which is also the reconciliation after a start or a reconnect: it only compares what
the printer says with what the database says, so running it again changes nothing), and
whenever a printer may have become free it calls `claim_next` and then uploads the claimed job
under its job-named file. Because the file name is the job id, an upload repeated after a crash
finds the print already running instead of starting it twice.

Queue order: priority (staff set it), then the moment the member confirmed, then the id. A
printer takes the first queued job it is compatible with (build volume, material, type, tags,
a member's choice of printer). A printer that is reserved right now takes only the jobs bound to
that reservation; unbooked printers take walk-in jobs; a job bound to a reservation waits for
its slot.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assets.store import BlobStore
from booking.models import ACTIVE_STATES, Reservation
from core.errors import Invalid
from core.models import User
from makerspace import slicing
from makerspace.drivers.base import JobOutcome, PrinterSnapshot, PrinterState
from makerspace.jobs import gcode_extent
from makerspace.models import (
    ON_PRINTER,
    Health,
    JobState,
    Printer,
    PrintJob,
    job_id_of_file,
    printer_file,
)
from makerspace.printers import profile_of, profile_printer, takes
from makerspace.quotas import Quota, check_length
from makerspace.replicas import printable_stl

log = logging.getLogger(__name__)

# How many queued jobs one claim looks at; the queue is ordered, so this bounds the work per
# claim without skipping anything a printer could take in practice.
CLAIM_WINDOW = 200
RunCpu = Callable[..., Awaitable[Any]]


def health_of(snapshot: PrinterSnapshot) -> Health:
    if snapshot.state is PrinterState.ERROR:
        return Health.ERROR
    return Health.ONLINE if snapshot.online else Health.OFFLINE


# -- slicing ---------------------------------------------------------------------------------


async def reset_interrupted_slicing(session: AsyncSession) -> int:
    """Slicing done by a worker that died is started again (nothing of it was kept)."""
    result = await session.execute(
        update(PrintJob)
        .where(PrintJob.state == JobState.SLICING.value)
        .values(state=JobState.QUEUED.value)
    )
    return result.rowcount or 0


async def take_next_to_slice(session: AsyncSession) -> PrintJob | None:
    job = await session.scalar(
        select(PrintJob)
        .where(PrintJob.state == JobState.QUEUED.value)
        .order_by(PrintJob.priority.desc(), PrintJob.id)
        .limit(1)
    )
    if job is not None:
        job.state = JobState.SLICING.value
        await session.flush()
    return job


@dataclass
class Prepared:
    gcode_sha256: str
    extent_mm: list[float] | None
    estimate: slicing.SliceResult


async def prepare(
    job: PrintJob,
    printers: list[Printer],
    blobs: BlobStore,
    work_dir: Path,
    *,
    run_cpu: RunCpu,
    slicer: str | None = None,
) -> Prepared:
    """Turn a queued job's model into G-code for the printer profile that suits it.

    A replica is first scaled to its height (in the process pool, as all mesh work); an upload
    is measured to pick the smallest printer that holds it. Invalid with the reason otherwise.
    """
    assert job.model_sha256 and job.model_ext
    model = blobs.path(job.model_sha256, job.model_ext)
    await asyncio.to_thread(_fresh_dir, work_dir)
    try:
        if job.height_mm is not None:
            # A replica: scaled once against the largest compatible printer (refused with its
            # size if even that one is too small), then sliced for the smallest that holds it.
            largest = largest_printer(printers, job)
            source = work_dir / "replica.stl"
            volume = tuple(float(v) for v in largest.build_volume_mm)
            size = await run_cpu(printable_stl, str(model), job.height_mm, volume, str(source))
            printer = profile_printer(printers, job, size)
        else:
            source = work_dir / f"model.{job.model_ext}"
            await asyncio.to_thread(shutil.copyfile, model, source)
            size = await run_cpu(model_size, str(source))
            printer = profile_printer(printers, job, size)
        result = await slicing.slice_model(
            source, profile_of(printer), work_dir / "out.gcode", slicer=slicer
        )
        extent = await asyncio.to_thread(gcode_extent, result.gcode_path)
        ref = await asyncio.to_thread(blobs.put_file, result.gcode_path, "gcode", move=True)
        return Prepared(ref.sha256, extent, result)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def largest_printer(printers: list[Printer], job: PrintJob) -> Printer:
    candidates = [p for p in printers if takes(p, job)]
    if not candidates:
        return profile_printer(printers, job, None)  # raises with what the job needs
    return max(candidates, key=lambda p: (p.build_volume_mm[0] * p.build_volume_mm[1], -p.id))


def _fresh_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)


def model_size(path: str) -> tuple[float, float, float]:
    """A model's bounding box in millimetres (blocking; the pool runs it)."""
    import trimesh

    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as exc:  # trimesh raises many kinds for broken files
        raise Invalid(f"The model cannot be read: {exc}", field="file") from None
    if mesh.is_empty:
        raise Invalid("The model is empty: it has no printable volume.", field="file")
    x, y, z = (float(v) for v in mesh.extents)
    return (x, y, z)


async def sliced(
    session: AsyncSession, job_id: int, prepared: Prepared, quota: Quota
) -> PrintJob | None:
    """Record the slicer's result; a confirmed job over the length limit fails with the limit."""
    job = await session.get(PrintJob, job_id)
    if job is None or job.state != JobState.SLICING.value:
        return None  # cancelled while slicing
    job.gcode_sha256 = prepared.gcode_sha256
    job.extent_mm = prepared.extent_mm
    job.estimate_s = prepared.estimate.estimate_s
    job.filament_mm = prepared.estimate.filament_mm
    job.filament_g = prepared.estimate.filament_g
    job.state = JobState.READY.value
    owner = await session.get(User, job.user_id)
    if job.confirmed_at is not None and owner is not None:
        try:
            check_length(owner, quota, job.estimate_s)
        except Invalid as exc:
            job.state = JobState.FAILED.value
            job.error = exc.message
    await session.flush()
    return job


async def slicing_failed(session: AsyncSession, job_id: int, reason: str) -> PrintJob | None:
    job = await session.get(PrintJob, job_id)
    if job is None or job.state != JobState.SLICING.value:
        return None
    job.state = JobState.FAILED.value
    job.error = reason
    await session.flush()
    return job


# -- dispatch --------------------------------------------------------------------------------


async def _active_reservation(
    session: AsyncSession, resource_id: int | None, now: datetime
) -> Reservation | None:
    if resource_id is None:
        return None
    return await session.scalar(
        select(Reservation).where(
            Reservation.resource_id == resource_id,
            Reservation.state.in_(ACTIVE_STATES),
            Reservation.starts_at <= now,
            Reservation.ends_at > now,
        )
    )


async def printer_is_free(session: AsyncSession, printer: Printer) -> bool:
    if not printer.enabled or (printer.needs_bed_clear and not printer.bed_clear):
        return False
    occupied = await session.scalar(
        select(PrintJob.id).where(PrintJob.printer_id == printer.id, PrintJob.state.in_(ON_PRINTER))
    )
    return occupied is None


async def claim_next(session: AsyncSession, printer_id: int, now: datetime) -> PrintJob | None:
    """Pick the job this printer should print next and mark it `dispatching` on it."""
    printer = await session.get(Printer, printer_id)
    if printer is None or not await printer_is_free(session, printer):
        return None
    reservation = await _active_reservation(session, printer.resource_id, now)
    queued = await session.scalars(
        select(PrintJob)
        .where(
            PrintJob.state == JobState.READY.value,
            PrintJob.confirmed_at.is_not(None),
            PrintJob.gcode_sha256.is_not(None),
        )
        .order_by(PrintJob.priority.desc(), PrintJob.confirmed_at, PrintJob.id)
        .limit(CLAIM_WINDOW)
    )
    for job in queued:
        if reservation is not None:
            if job.reservation_id != reservation.id:
                continue
        elif job.reservation_id is not None:
            continue  # waits for its slot
        if not takes(printer, job):
            continue
        # Conditional, so that a job can never be claimed twice even by overlapping claims.
        result = await session.execute(
            update(PrintJob)
            .where(PrintJob.id == job.id, PrintJob.state == JobState.READY.value)
            .values(
                state=JobState.DISPATCHING.value,
                printer_id=printer.id,
                dispatched_at=now,
                attempts=PrintJob.attempts + 1,
                file_tag=secrets.token_hex(4),
                progress=0.0,
                error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:
            await session.refresh(job)
            return job
    return None


async def dispatch_failed(
    session: AsyncSession, job_id: int, reason: str, now: datetime
) -> PrintJob | None:
    """The upload did not start the print: the job goes back to the queue, unless it is gone."""
    job = await session.get(PrintJob, job_id)
    if job is None or job.state != JobState.DISPATCHING.value:
        return job
    job.state = JobState.READY.value
    job.printer_id = None
    job.progress = None
    job.error = reason
    job.updated_at = now
    await session.flush()
    return job


async def started(
    session: AsyncSession, job_id: int, already_done: bool, now: datetime
) -> PrintJob | None:
    job = await session.get(PrintJob, job_id)
    if job is None or job.state != JobState.DISPATCHING.value:
        return job
    if already_done:
        _finish(job, JobOutcome.DONE, None, now)
    else:
        job.state = JobState.PRINTING.value
        job.started_at = job.started_at or now
    await session.flush()
    return job


def _finish(job: PrintJob, outcome: JobOutcome, reason: str | None, now: datetime) -> None:
    job.state = {
        JobOutcome.DONE: JobState.DONE,
        JobOutcome.FAILED: JobState.FAILED,
        JobOutcome.CANCELLED: JobState.CANCELLED,
    }[outcome].value
    if outcome is JobOutcome.DONE:
        job.progress = 100.0
    job.eta_s = None
    job.paused = False
    job.command = None
    job.finished_at = now
    job.error = reason if outcome is JobOutcome.FAILED else None


@dataclass
class Settled:
    """What `settle` changed, for the worker to announce and act on."""

    jobs: list[PrintJob] = field(default_factory=list)
    # Jobs the printer runs although the database says they must not run (cancelled meanwhile).
    cancel_on_printer: bool = False
    printer_freed: bool = False
    # A print seems lost: look again after a grace period (`settle(..., confirm_lost=True)`).
    suspect: bool = False
    # The job the printer holds after settling (printing or being sent), if any.
    running: PrintJob | None = None


def _dead_reason(printer: Printer, snapshot: PrinterSnapshot) -> str:
    what = "went offline" if snapshot.state is not PrinterState.ERROR else "reported an error"
    return (
        f"Printer '{printer.name}' {what} during the print: {snapshot.error or 'no reason given'}"
    )


async def settle(
    session: AsyncSession,
    printer: Printer,
    snapshot: PrinterSnapshot,
    *,
    uploading: bool,
    now: datetime,
    confirm_lost: bool = False,
) -> Settled:
    """Bring the jobs on `printer` in line with what it reports (idempotent).

    `uploading`: this worker is sending a job to the printer right now; a `dispatching` job is
    then left alone, since the printer may not show it yet. A printing job the printer seems to
    have lost (offline, or idle without an outcome) is only failed with `confirm_lost`: push
    messages and state changes can arrive out of order, and a push channel can drop for a
    moment, so the worker looks again after a grace period before it fails a print.
    """
    out = Settled()
    on_printer = list(
        await session.scalars(
            select(PrintJob).where(
                PrintJob.printer_id == printer.id, PrintJob.state.in_(ON_PRINTER)
            )
        )
    )
    running_id = job_id_of_file(snapshot.job_name)
    running_name = snapshot.job_name if snapshot.state.busy else None
    finished = snapshot.last_finished
    for job in on_printer:
        name = printer_file(job.id, job.file_tag)
        before = (job.state, job.progress, job.paused, job.eta_s)
        if uploading and job.state == JobState.DISPATCHING.value:
            continue
        if finished is not None and finished.name == name and running_name != name:
            _finish(job, finished.outcome, finished.reason, now)
            if printer.needs_bed_clear:
                printer.bed_clear = False
            out.printer_freed = True
        elif running_name == name:
            job.state = JobState.PRINTING.value
            job.started_at = job.started_at or now
            if snapshot.progress is not None:
                job.progress = snapshot.progress
            job.eta_s = snapshot.print_time_left_s
            job.paused = snapshot.state in (PrinterState.PAUSED, PrinterState.PAUSING)
        elif (
            snapshot.state is PrinterState.OPERATIONAL
            and snapshot.job_name == name
            and (snapshot.progress or 0.0) >= 100.0
            and job.state == JobState.PRINTING.value
        ):
            # Idle at 100 % on our file: done, even before the PrintDone event arrives.
            _finish(job, JobOutcome.DONE, None, now)
            if printer.needs_bed_clear:
                printer.bed_clear = False
            out.printer_freed = True
        elif snapshot.state in (PrinterState.OFFLINE, PrinterState.ERROR):
            if job.state == JobState.PRINTING.value:
                if not confirm_lost:
                    out.suspect = True
                    continue
                _finish(job, JobOutcome.FAILED, _dead_reason(printer, snapshot), now)
            else:
                # Never reached the printer as far as anyone can tell: back in the queue.
                job.state = JobState.READY.value
                job.printer_id = None
                job.progress = None
        elif snapshot.state is PrinterState.OPERATIONAL:
            if job.state == JobState.DISPATCHING.value:
                job.state = JobState.READY.value
                job.printer_id = None
                job.progress = None
            else:
                if not confirm_lost:
                    out.suspect = True
                    continue
                _finish(
                    job,
                    JobOutcome.FAILED,
                    f"Printer '{printer.name}' stopped this print without saying why "
                    "(it was probably stopped on the printer itself).",
                    now,
                )
                if printer.needs_bed_clear:
                    printer.bed_clear = False
                out.printer_freed = True
        else:
            continue
        if (job.state, job.progress, job.paused, job.eta_s) != before:
            out.jobs.append(job)

    # A job of ours that the printer runs although the database lost it from the printer: a
    # crash between upload and record, or a cancel that arrived while the worker was away.
    if running_id is not None and running_name is not None:
        known = {job.id for job in on_printer}
        stray = None if running_id in known else await session.get(PrintJob, running_id)
        if stray is not None and running_name != printer_file(stray.id, stray.file_tag):
            stray = None  # an older attempt, or another deployment's job with the same id
        if stray is not None:
            if stray.state in (JobState.READY.value, JobState.QUEUED.value):
                stray.state = JobState.PRINTING.value
                stray.printer_id = printer.id
                stray.started_at = stray.started_at or now
                stray.progress = snapshot.progress
                out.jobs.append(stray)
            elif stray.state == JobState.CANCELLED.value:
                out.cancel_on_printer = True
    await session.flush()
    out.running = next(
        (
            job
            for job in [*on_printer, *out.jobs]
            if job.state in ON_PRINTER and job.printer_id == printer.id
        ),
        None,
    )
    return out


def record_health(printer: Printer, snapshot: PrinterSnapshot, now: datetime) -> None:
    printer.health = health_of(snapshot).value
    printer.state = snapshot.state.value
    printer.error = snapshot.error
    printer.temps = {
        heater: {"actual": t.actual, "target": t.target} for heater, t in snapshot.temps.items()
    }
    if snapshot.online:
        printer.seen_at = now


async def pending_commands(session: AsyncSession, printer_id: int) -> list[tuple[int, str, str]]:
    """(job id, its file on the printer, command) for each command waiting to be carried out."""
    rows = await session.execute(
        select(PrintJob.id, PrintJob.file_tag, PrintJob.command).where(
            PrintJob.printer_id == printer_id,
            PrintJob.state.in_(ON_PRINTER),
            PrintJob.command.is_not(None),
        )
    )
    return [(job_id, printer_file(job_id, tag), command) for job_id, tag, command in rows]


async def clear_command(
    session: AsyncSession, job_id: int, command: str, error: str | None = None
) -> PrintJob | None:
    job = await session.get(PrintJob, job_id)
    if job is None:
        return None
    if job.command == command:
        job.command = None
    if error:
        job.error = error
    if command == "cancel" and job.state == JobState.DISPATCHING.value and error is None:
        job.state = JobState.CANCELLED.value
    await session.flush()
    return job
