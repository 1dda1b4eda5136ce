"""The print-farm duty of the worker: coordinators, dispatcher, slicer, reconciliation, events.

One `PrinterCoordinator` per registered printer is the only thing that talks to that printer.
Every change it reports is (1) announced at once on the event bus (`printer.update`, and
`job.update` for the job it prints — before any database write, so members see progress within
a push interval of OctoPrint), then (2) settled against the database by the dispatcher, which is
also the reconciliation after a start or reconnect, then (3) a chance to dispatch the next job
when the printer is free. A slower loop picks up what changes elsewhere: printers registered or
edited over the API, pause/resume/cancel requests, newly confirmed jobs (woken at once when the
worker runs in the server process, polled otherwise).

Only one worker per deployment runs this (the worker lock): OctoPrint can be fooled into
reporting a print finished when two clients start files at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from assets.store import BlobStore
from core.database import unit_of_work, utcnow
from core.errors import DomainError
from core.events import EventBus
from core.settings import Settings
from makerspace import dispatcher
from makerspace.coordinator import PrinterCoordinator
from makerspace.drivers.base import PrinterDriver, PrinterSnapshot, PrinterState
from makerspace.drivers.octoprint import OctoPrintDriver
from makerspace.jobs import event_view
from makerspace.models import Printer, PrintJob, job_id_of_file, printer_file
from makerspace.printers import api_key_of
from makerspace.quotas import Quota
from web.worker import WorkerContext

log = logging.getLogger(__name__)

JOB_UPDATE = "job.update"
PRINTER_UPDATE = "printer.update"
WAKE = "print_farm"
# Temperatures change with every reading; the database copy (for the REST list) need not.
HEALTH_WRITE_S = 5.0
# A printer whose upload just failed is left alone this long, so that one bad job or a flaky
# printer does not spin the dispatcher.
DISPATCH_COOLDOWN_S = 3.0
RECONCILE_S = 5.0
# Progress reaches members in the `job` events at once; the database copy (for REST) is
# written at most this often per printer, so that ten printing printers cost a few
# transactions a second rather than dozens.
PROGRESS_WRITE_S = 2.0

DriverFactory = Callable[[Printer, str], PrinterDriver]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job claimed for a printer, as much of it as sending it needs."""

    job_id: int
    user_id: int
    gcode_sha256: str
    name: str
    event: dict[str, Any]


RunCpu = Callable[..., Awaitable[Any]]


def octoprint_driver(printer: Printer, api_key: str) -> PrinterDriver:
    return OctoPrintDriver(printer.url, api_key, port=printer.port)


class PrintFarm:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        blobs: BlobStore,
        settings: Settings,
        *,
        run_cpu: RunCpu,
        driver_factory: DriverFactory = octoprint_driver,
        poll_s: float = 1.0,
        lost_grace_s: float = 2.0,
        slicer: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.blobs = blobs
        self.settings = settings
        self.run_cpu = run_cpu
        self.driver_factory = driver_factory
        self.poll_s = poll_s
        self.lost_grace_s = lost_grace_s
        self.slicer = slicer
        self.quota = Quota.from_settings(settings.extra)
        self.coordinators: dict[int, PrinterCoordinator] = {}
        self._revisions: dict[int, int] = {}
        self._names: dict[int, str] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._removers: dict[int, Callable[[], None]] = {}
        # printer id → (job id, owner id, file name) of its job, for the fast progress event.
        self._current: dict[int, tuple[int, int, str]] = {}
        self._last_event: dict[int, dict[str, Any]] = {}
        self._health_written: dict[int, tuple[Any, float]] = {}
        # The reading each printer was last settled with (see `_settle`).
        self._settled: dict[int, tuple[Any, ...]] = {}
        self._settled_progress: dict[int, float | None] = {}
        self._progress_written: dict[int, float] = {}
        self._cooldown: dict[int, float] = {}
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._serial_writes = make_url(settings.database_url).get_backend_name() == "sqlite"
        # Per printer: set when it reported something; its settler task settles the latest.
        self._kicks: dict[int, asyncio.Event] = {}
        self._settlers: dict[int, asyncio.Task[None]] = {}
        self._slice_wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Seconds between OctoPrint's own timestamp of a reading and our event for it.
        self.lags: deque[float] = deque(maxlen=10_000)
        # Seconds from a printer reporting itself free to the next job's upload starting.
        self.dispatch_latencies: deque[float] = deque(maxlen=10_000)
        self._freed_at: dict[int, float] = {}
        self._was_ready: dict[int, bool] = {}
        self._dispatching: set[int] = set()
        self._dispatch_again: set[int] = set()
        # Seconds an upload-and-start took, as the driver saw it.
        self.upload_times: deque[float] = deque(maxlen=10_000)

    # -- lifetime ---------------------------------------------------------------------------

    async def run(self, wake: asyncio.Event | None = None) -> None:
        async with self._writing() as session:
            await dispatcher.reset_interrupted_slicing(session)
        slicer = asyncio.create_task(self._slice_forever(), name="print-farm-slicer")
        reconciled = time.monotonic()
        try:
            while True:
                await self.sync_printers()
                await self._run_commands()
                if time.monotonic() - reconciled >= RECONCILE_S:
                    # A safety net under the event-driven settling: changes made over the API
                    # (a re-queue, a cancel of a job the printer no longer shows) are seen
                    # even if the printer stays silent.
                    reconciled = time.monotonic()
                    for pid in list(self.coordinators):
                        await self._settle(pid, force=True)
                await asyncio.gather(*(self.try_dispatch(pid) for pid in list(self.coordinators)))
                waits = [asyncio.create_task(self._wake.wait())]
                if wake is not None:
                    waits.append(asyncio.create_task(wake.wait()))
                _done, pending = await asyncio.wait(
                    waits, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                for task in pending:
                    task.cancel()
                self._wake.clear()
                if wake is not None and wake.is_set():
                    wake.clear()
                    self._slice_wake.set()
        finally:
            slicer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slicer
            await self.stop()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for pid in list(self.coordinators):
            await self._drop(pid)

    def wake(self) -> None:
        self._wake.set()
        self._slice_wake.set()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """One farm transaction at a time.

        The farm is the database's busiest writer; on SQLite, concurrent writers wait on each
        other with sleeps of up to 100 ms, which showed as seconds of dispatch latency with ten
        printers. Queued in-process they take a few milliseconds each.
        """
        if not self._serial_writes:
            async with unit_of_work(self.sessions) as session:
                yield session
            return
        async with self._write_lock, unit_of_work(self.sessions) as session:
            yield session

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- printers ---------------------------------------------------------------------------

    async def sync_printers(self) -> None:
        """Follow printers added, edited (new key, address) or removed over the API."""
        async with self.sessions() as session:
            printers = list(await session.scalars(select(Printer).where(Printer.enabled)))
        wanted = {p.id: p for p in printers}
        for pid in list(self.coordinators):
            if pid not in wanted or wanted[pid].revision != self._revisions.get(pid):
                await self._drop(pid)
        for pid, printer in wanted.items():
            self._names[pid] = printer.name
            if pid in self.coordinators:
                continue
            try:
                key = api_key_of(printer, self.settings.secret_key)
            except DomainError as exc:
                async with self._writing() as session:
                    row = await session.get(Printer, pid)
                    if row is not None:
                        row.health, row.state, row.error = "error", "error", exc.message
                continue
            coordinator = PrinterCoordinator(pid, self.driver_factory(printer, key))
            self._locks.setdefault(pid, asyncio.Lock())
            self._removers[pid] = coordinator.add_listener(
                lambda snapshot, pid=pid: self._on_snapshot(pid, snapshot)
            )
            self.coordinators[pid] = coordinator
            self._revisions[pid] = printer.revision
            self._kicks[pid] = asyncio.Event()
            self._settlers[pid] = asyncio.create_task(
                self._settle_forever(pid), name=f"printer-{pid}-settle"
            )
            await coordinator.start()

    async def _drop(self, pid: int) -> None:
        settler = self._settlers.pop(pid, None)
        if settler is not None:
            settler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await settler
        self._kicks.pop(pid, None)
        coordinator = self.coordinators.pop(pid, None)
        remove = self._removers.pop(pid, None)
        if remove is not None:
            remove()
        if coordinator is not None:
            await coordinator.stop()
        self._current.pop(pid, None)
        self._settled.pop(pid, None)
        self._was_ready.pop(pid, None)

    # -- snapshots --------------------------------------------------------------------------

    async def _on_snapshot(self, pid: int, snapshot: PrinterSnapshot) -> None:
        # Announced at once, settled by the printer's own task: a listener that waited for the
        # database would hold up the next reading's announcement behind it.
        await self._announce_fast(pid, snapshot)
        kick = self._kicks.get(pid)
        if kick is not None:
            kick.set()

    async def _settle_forever(self, pid: int) -> None:
        """Settle each printer's latest reading; a burst of readings is one settle."""
        kick = self._kicks[pid]
        while True:
            await kick.wait()
            kick.clear()
            coordinator = self.coordinators.get(pid)
            if coordinator is None:
                return
            try:
                freed = await self._settle(pid)
                ready = coordinator.snapshot.ready
                became_ready = ready and not self._was_ready.get(pid)
                if became_ready:
                    self._freed_at[pid] = time.monotonic()
                self._was_ready[pid] = ready
                if ready and (became_ready or freed):
                    await self.try_dispatch(pid)
            except Exception:
                log.exception("printer %s: settling its reading failed", pid)

    async def _announce_fast(self, pid: int, snapshot: PrinterSnapshot) -> None:
        current = self._current.get(pid)
        await self.bus.publish(
            PRINTER_UPDATE,
            {
                "id": pid,
                "state": snapshot.state.value,
                "temps": snapshot.as_dict()["temps"],
                "job_id": job_id_of_file(snapshot.job_name),
                "error": snapshot.error,
            },
        )
        if current is None or snapshot.job_name != current[2]:
            return
        if not snapshot.state.busy:
            return  # how it ended is the database's call (settle), announced from there
        job_id, user_id, _name = current
        payload = {
            "id": job_id,
            "state": "printing",
            "progress": snapshot.progress,
            "printer_id": pid,
            "eta_s": snapshot.print_time_left_s,
            "paused": snapshot.state.value in ("paused", "pausing"),
            "error": None,
            "user_id": user_id,
        }
        await self._publish_job(payload)
        if snapshot.source_time is not None:
            self.lags.append(time.time() - snapshot.source_time)

    async def _publish_job(self, payload: dict[str, Any]) -> None:
        last = self._last_event.get(payload["id"])
        if last == payload:
            return
        if (
            last is not None
            and payload["state"] == last["state"] == "printing"
            and (payload["progress"] or 0.0) < (last["progress"] or 0.0)
        ):
            # A settle of an older reading finishing after the fast event of a newer one:
            # progress a member sees never runs backwards.
            return
        self._last_event[payload["id"]] = payload
        await self.bus.publish(JOB_UPDATE, payload)

    async def _settle(self, pid: int, *, confirm_lost: bool = False, force: bool = False) -> bool:
        """Settle the printer's latest reading; True when that freed the printer.

        Readings that differ from the last settled one only in temperatures or progress are
        skipped, except every few seconds (the database copy of those is for REST; events carry
        them live): ten printers report several times a second, and each settle is a
        transaction.
        """
        coordinator = self.coordinators.get(pid)
        if coordinator is None:
            return False
        async with self._locks[pid]:
            # The latest reading, not the one that triggered the call: readings queued behind
            # an upload would otherwise contradict what the upload just did.
            snapshot = coordinator.snapshot
            key = (snapshot.state, snapshot.job_name, snapshot.last_finished, snapshot.error)
            clock = time.monotonic()
            written = self._health_written.get(pid)
            health_due = written is None or clock - written[1] >= HEALTH_WRITE_S
            progress_due = (
                snapshot.progress != self._settled_progress.get(pid)
                and clock - self._progress_written.get(pid, 0.0) >= PROGRESS_WRITE_S
            )
            due = force or confirm_lost or health_due or progress_due
            previous = self._settled.get(pid)
            if not due and (previous == key or self._nothing_to_settle(pid, snapshot, previous)):
                self._settled[pid] = key
                return False
            now = utcnow()
            async with self._writing() as session:
                printer = await session.get(Printer, pid)
                if printer is None:
                    return False
                settled = await dispatcher.settle(
                    session, printer, snapshot, uploading=False, now=now, confirm_lost=confirm_lost
                )
                self._write_health(printer, snapshot, now)
                events = [event_view(job) for job in settled.jobs]
                claimed = None
                if settled.printer_freed and snapshot.ready and clock >= self._cooldown.get(pid, 0):
                    # The next job is claimed in the same transaction that freed the printer:
                    # under load every transaction waits its turn, and this saves one wait.
                    job = await dispatcher.claim_next(session, pid, now)
                    if job is not None:
                        claimed = self._claimed(job)
                running = settled.running
                row = None if running is None else (running.id, running.user_id, running.file_tag)
            self._settled[pid] = key
            if snapshot.progress != self._settled_progress.get(pid):
                self._settled_progress[pid] = snapshot.progress
                self._progress_written[pid] = clock
            if row is None:
                self._current.pop(pid, None)
            else:
                self._current[pid] = (row[0], row[1], printer_file(row[0], row[2]))
            if claimed is not None:
                for payload in events:
                    await self._publish_job(payload)
                events = []
                self._freed_at.setdefault(pid, snapshot.received_at or clock)
                await self._send(pid, coordinator, claimed)
                # Whatever the printer did meanwhile is settled by the next round.
                self._settled.pop(pid, None)
                self._kicks[pid].set()
        for payload in events:
            await self._publish_job(payload)
        if settled.cancel_on_printer:
            with contextlib.suppress(DomainError):
                await coordinator.cancel()
        if settled.suspect and not confirm_lost:
            self._spawn(self._recheck(pid), f"printer-{pid}-recheck")
        return settled.printer_freed and claimed is None

    def _nothing_to_settle(
        self, pid: int, snapshot: PrinterSnapshot, previous: tuple[Any, ...] | None
    ) -> bool:
        """True when the reading only moves the known job along (Starting → Printing → …).

        The database already says that job is printing on this printer; a transaction would
        change nothing. Endings, pauses, errors, other files and unknown jobs are settled.
        """
        current = self._current.get(pid)
        if current is None or previous is None:
            return False
        steady = (PrinterState.STARTING, PrinterState.PRINTING, PrinterState.FINISHING)
        finished = snapshot.last_finished
        return (
            snapshot.state in steady
            and previous[0] in steady
            and snapshot.job_name == current[2]
            and (finished is None or finished.name != current[2])
        )

    async def _recheck(self, pid: int) -> None:
        await asyncio.sleep(self.lost_grace_s)
        coordinator = self.coordinators.get(pid)
        if coordinator is None:
            return
        if coordinator.snapshot.online:
            # Ask over REST rather than trust a push stream that may have skipped the ending.
            await coordinator.refresh()
        if await self._settle(pid, confirm_lost=True):
            await self.try_dispatch(pid)

    def _write_health(self, printer: Printer, snapshot: PrinterSnapshot, now: Any) -> None:
        key = (snapshot.state, snapshot.error)
        last = self._health_written.get(printer.id)
        if last is not None and last[0] == key and time.monotonic() - last[1] < HEALTH_WRITE_S:
            return
        dispatcher.record_health(printer, snapshot, now)
        self._health_written[printer.id] = (key, time.monotonic())

    # -- dispatch ---------------------------------------------------------------------------

    async def try_dispatch(self, pid: int) -> None:
        """Send the printer its next job if it is free; never two dispatches to one printer.

        A call that arrives while a dispatch to the same printer runs asks that one to look
        again when it is done, rather than waiting or being lost: the printer's lock may be
        held by a settle for a moment, and a skipped chance would cost a push interval.
        """
        if pid in self._dispatching:
            self._dispatch_again.add(pid)
            return
        self._dispatching.add(pid)
        try:
            while True:
                self._dispatch_again.discard(pid)
                await self._dispatch_once(pid)
                if pid not in self._dispatch_again:
                    return
        finally:
            self._dispatching.discard(pid)

    async def _dispatch_once(self, pid: int) -> None:
        coordinator = self.coordinators.get(pid)
        if coordinator is None or not coordinator.snapshot.ready:
            return
        if time.monotonic() < self._cooldown.get(pid, 0.0):
            return
        async with self._locks[pid]:
            if not coordinator.snapshot.ready:
                return
            async with self._writing() as session:
                job = await dispatcher.claim_next(session, pid, utcnow())
                if job is None:
                    self._freed_at.pop(pid, None)  # nothing was waiting: not a latency sample
                    return
                claimed = self._claimed(job)
            await self._send(pid, coordinator, claimed)
        # What happened meanwhile (a very short print may already be over) is settled now.
        if await self._settle(pid, force=True):
            self._dispatch_again.add(pid)

    @staticmethod
    def _claimed(job: PrintJob) -> Claimed:
        assert job.gcode_sha256 is not None
        return Claimed(
            job.id,
            job.user_id,
            job.gcode_sha256,
            printer_file(job.id, job.file_tag),
            event_view(job),
        )

    async def _send(self, pid: int, coordinator: PrinterCoordinator, claimed: Claimed) -> None:
        """Upload and start a claimed job (the caller holds the printer's lock)."""
        job_id = claimed.job_id
        self._current[pid] = (job_id, claimed.user_id, claimed.name)
        await self._publish_job(claimed.event)
        freed = self._freed_at.pop(pid, None)
        if freed is not None:
            self.dispatch_latencies.append(time.monotonic() - freed)
        path: Path = self.blobs.path(claimed.gcode_sha256, "gcode")
        upload_started = time.monotonic()
        try:
            result = await coordinator.upload_and_start(claimed.name, path)
            self.upload_times.append(time.monotonic() - upload_started)
        except DomainError as exc:
            log.warning("printer %s: job %s was not started: %s", pid, job_id, exc.message)
            self._cooldown[pid] = time.monotonic() + DISPATCH_COOLDOWN_S
            async with self._writing() as session:
                after = await dispatcher.dispatch_failed(session, job_id, exc.message, utcnow())
                payload = event_view(after) if after is not None else None
            self._current.pop(pid, None)
            if payload is not None:
                await self._publish_job(payload)
            return
        async with self._writing() as session:
            after = await dispatcher.started(session, job_id, result.already_done, utcnow())
            payload = event_view(after) if after is not None else None
        if payload is not None:
            await self._publish_job(payload)

    async def _run_commands(self) -> None:
        for pid, coordinator in list(self.coordinators.items()):
            async with self.sessions() as session:
                commands = await dispatcher.pending_commands(session, pid)
            for job_id, name, command in commands:
                if coordinator.snapshot.job_name != name:
                    continue  # not on the printer yet (still uploading); next round
                error = None
                try:
                    await getattr(coordinator, command)()
                except DomainError as exc:
                    error = f"Could not {command} the print: {exc.message}"
                async with self._writing() as session:
                    await dispatcher.clear_command(session, job_id, command, error)
            if commands:
                await self._settle(pid, force=True)

    # -- slicing ----------------------------------------------------------------------------

    async def _slice_forever(self) -> None:
        while True:
            async with self._writing() as session:
                job = await dispatcher.take_next_to_slice(session)
                if job is not None:
                    printers = list(await session.scalars(select(Printer).where(Printer.enabled)))
                    await self._publish_job(event_view(job))
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slice_wake.wait(), self.poll_s * 5)
                self._slice_wake.clear()
                continue
            await self._slice(job, printers)

    async def _slice(self, job: PrintJob, printers: list[Printer]) -> None:
        work = self.settings.data_dir / "work" / f"print-job-{job.id}"
        try:
            prepared = await dispatcher.prepare(
                job, printers, self.blobs, work, run_cpu=self.run_cpu, slicer=self.slicer
            )
        except DomainError as exc:
            async with self._writing() as session:
                after = await dispatcher.slicing_failed(session, job.id, exc.message)
                payload = event_view(after) if after is not None else None
        except Exception as exc:
            log.exception("slicing job %s failed unexpectedly", job.id)
            reason = f"Slicing failed unexpectedly ({type(exc).__name__}); it was logged."
            async with self._writing() as session:
                after = await dispatcher.slicing_failed(session, job.id, reason)
                payload = event_view(after) if after is not None else None
        else:
            async with self._writing() as session:
                after = await dispatcher.sliced(session, job.id, prepared, self.quota)
                payload = event_view(after) if after is not None else None
        if payload is not None:
            await self._publish_job(payload)
        self._wake.set()


async def run_print_farm(ctx: WorkerContext) -> None:
    """The worker duty (see `web.app.worker_duties`)."""
    farm = PrintFarm(ctx.sessions, ctx.bus, ctx.blobs, ctx.settings, run_cpu=ctx.meshes.run)
    await farm.run(ctx.event(WAKE))
