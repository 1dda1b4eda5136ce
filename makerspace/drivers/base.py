"""What the print farm needs from a printer, whatever software runs it.

OctoPrint is the first implementation; Moonraker or PrusaLink can follow without the
coordinator or dispatcher changing. The interface is deliberately small: the farm only ever
uploads one file named after the job, starts it, watches it, and pauses/resumes/cancels it.

Every snapshot is a plain immutable value so that the coordinator can compare two of them to
decide whether anything changed, and listeners can keep one without it moving under them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

JOB_FILE_PREFIX = "smartlib-job-"
JOB_FILE_SUFFIX = ".gcode"
_JOB_FILE_RE = re.compile(rf"^{re.escape(JOB_FILE_PREFIX)}(?P<id>[A-Za-z0-9_-]+)\.gcode$")


def job_file_name(job_id: int | str) -> str:
    """The file name a job gets on a printer; naming it after the job makes dispatch idempotent.

    After a crash the worker reads the printer's current file name back and knows which job it is.
    """
    text = str(job_id)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError(f"job id {text!r} cannot be part of a printer file name")
    return f"{JOB_FILE_PREFIX}{text}{JOB_FILE_SUFFIX}"


def job_id_from_file_name(name: str | None) -> str | None:
    """The job id in a printer file name, or None for files the farm did not put there."""
    if not name:
        return None
    match = _JOB_FILE_RE.match(name)
    return match.group("id") if match else None


class PrinterState(enum.StrEnum):
    """Where a printer stands, as the farm sees it (coarser than OctoPrint's dozen strings)."""

    OFFLINE = "offline"  # the printer software does not answer, or its printer is disconnected
    CONNECTING = "connecting"
    OPERATIONAL = "operational"  # idle and ready for a job
    STARTING = "starting"
    PRINTING = "printing"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELLING = "cancelling"
    FINISHING = "finishing"
    ERROR = "error"  # answers, but cannot be used until someone acts (bad API key, firmware error)

    @property
    def busy(self) -> bool:
        """A job occupies the printer: another one must not be started."""
        return self in _BUSY


_BUSY = {
    PrinterState.STARTING,
    PrinterState.PRINTING,
    PrinterState.PAUSING,
    PrinterState.PAUSED,
    PrinterState.RESUMING,
    PrinterState.CANCELLING,
    PrinterState.FINISHING,
}


class JobOutcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Temperature:
    actual: float | None
    target: float | None


@dataclass(frozen=True, slots=True)
class FinishedJob:
    """How the last print on this printer ended: the dispatcher settles the job from this."""

    name: str
    outcome: JobOutcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PrinterSnapshot:
    """One coherent reading of a printer.

    `received_at` (monotonic) and `source_time` (the printer software's own wall clock, when it
    sends one) are left out of equality: they say when, not what, and would make every reading
    look new.
    """

    state: PrinterState
    temps: dict[str, Temperature] = field(default_factory=dict)
    job_name: str | None = None
    progress: float | None = None  # 0-100
    print_time_left_s: int | None = None
    error: str | None = None
    last_finished: FinishedJob | None = None
    received_at: float = field(default=0.0, compare=False)
    source_time: float | None = field(default=None, compare=False)

    @property
    def online(self) -> bool:
        return self.state not in (PrinterState.OFFLINE, PrinterState.CONNECTING)

    @property
    def ready(self) -> bool:
        """Idle and answering: a new job may be sent."""
        return self.state is PrinterState.OPERATIONAL

    @property
    def job_id(self) -> str | None:
        return job_id_from_file_name(self.job_name)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready values (the shape of the `printer` Socket.IO event, minus `id`)."""
        finished = self.last_finished
        outcome = None
        if finished is not None:
            outcome = {
                "name": finished.name,
                "outcome": finished.outcome.value,
                "reason": finished.reason,
            }
        return {
            "state": self.state.value,
            "temps": {
                heater: {"actual": t.actual, "target": t.target} for heater, t in self.temps.items()
            },
            "job_id": self.job_id,
            "job_name": self.job_name,
            "progress": self.progress,
            "eta_s": self.print_time_left_s,
            "error": self.error,
            "last_finished": outcome,
        }


@dataclass(frozen=True, slots=True)
class StartResult:
    """What `upload_and_start` did.

    `already_running` / `already_done`: a previous dispatch of the same job got there first
    (the worker crashed or lost the answer), so nothing was sent this time.
    """

    name: str
    already_running: bool = False
    already_done: bool = False

    @property
    def started(self) -> bool:
        return not (self.already_running or self.already_done)


@runtime_checkable
class PrinterDriver(Protocol):
    """A connection to one printer.

    Commands raise `core.errors` exceptions: `Unavailable` when the printer does not answer,
    `Conflict` when it is in the wrong state for the command, `Forbidden` when it refuses our
    credentials. `state()` and `updates()` never raise for printer trouble: they describe it.
    """

    async def connect(self) -> None:
        """Reach the printer software and make sure it is connected to its printer."""

    async def state(self) -> PrinterSnapshot:
        """A full reading over request/response (the re-sync after any push gap)."""

    def updates(self) -> AsyncIterator[PrinterSnapshot]:
        """Push subscription: yields a snapshot for every pushed change, forever.

        Reconnects by itself with exponential back-off, yields an offline/error snapshot with the
        reason while the printer is unreachable, and a full re-sync after every reconnect.
        """

    async def upload_and_start(self, name: str, gcode: bytes | Path) -> StartResult:
        """Upload `gcode` as `name` and start it; report `already_running` if it already is."""

    async def current_job_name(self) -> str | None:
        """The file the printer is printing (or has selected), None when it has none."""

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def cancel(self) -> None: ...

    async def close(self) -> None:
        """Release connections; the driver may be used again after a new `connect()`."""
