"""Tables of the print farm: printers and print jobs.

A printer row holds what the farm needs to reach and choose it (its API key only encrypted) and
the last health the worker saw, so that the web side can show it without talking to printers.
A job row is the single truth about a print: the worker reconciles printers against it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, UTCDateTime, utcnow
from makerspace.drivers.base import job_file_name, job_id_from_file_name


class JobState(enum.StrEnum):
    QUEUED = "queued"  # accepted; a model waits for the slicer
    SLICING = "slicing"
    READY = "ready"  # G-code and estimates known; in the queue once confirmed
    DISPATCHING = "dispatching"  # being sent to a printer
    PRINTING = "printing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


# States in which a job occupies a printer.
ON_PRINTER = (JobState.DISPATCHING.value, JobState.PRINTING.value)


def printer_file(job_id: int, file_tag: str | None) -> str:
    """The job's file on the printer: `smartlib-job-<id>-<tag>.gcode`.

    Named after the job, so that after a crash the worker recognises its own print; the tag
    changes with every attempt and every database, so that a re-queued job, or a printer that
    served another deployment (or this one before its database was reset), can never pass an
    old print of the same job id for this one.
    """
    return job_file_name(f"{job_id}-{file_tag}" if file_tag else str(job_id))


def job_id_of_file(name: str | None) -> int | None:
    ref = job_id_from_file_name(name)
    head = (ref or "").split("-", 1)[0]
    return int(head) if head.isdigit() else None


class Health(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


class Printer(Base):
    __tablename__ = "printers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    driver: Mapped[str] = mapped_column(String(20), default="octoprint")
    url: Mapped[str] = mapped_column(String(300))
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    # OctoPrint's serial port for its printer ("VIRTUAL" for the simulator; None: auto-detect).
    port: Mapped[str | None] = mapped_column(String(80), nullable=True)
    printer_type: Mapped[str] = mapped_column(String(40), default="fdm")
    build_volume_mm: Mapped[list[float]] = mapped_column(JSON)
    nozzle_mm: Mapped[float] = mapped_column(Float, default=0.4)
    material: Mapped[str] = mapped_column(String(40), default="PLA")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # False once a print ended on it: someone must take the print off before the next starts.
    bed_clear: Mapped[bool] = mapped_column(Boolean, default=True)
    # Printers with an automatic part ejector need no one to clear the bed.
    needs_bed_clear: Mapped[bool] = mapped_column(Boolean, default=True)
    # The booking module's resource for this printer (reservations of print slots).
    resource_id: Mapped[int | None] = mapped_column(
        ForeignKey("resources.id", ondelete="SET NULL"), nullable=True
    )
    # Bumped whenever how to reach the printer changes, so the worker reconnects.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # Last health seen by the worker.
    health: Mapped[str] = mapped_column(String(12), default=Health.OFFLINE.value)
    state: Mapped[str] = mapped_column(String(20), default="connecting")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    temps: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PrintJob(Base):
    __tablename__ = "print_jobs"
    __table_args__ = (
        Index("ix_print_jobs_state_priority", "state", "priority"),
        Index("ix_print_jobs_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED.value)
    name: Mapped[str] = mapped_column(String(200))
    # The printer the member chose (the job waits for it), else None (any compatible one).
    requested_printer_id: Mapped[int | None] = mapped_column(
        ForeignKey("printers.id", ondelete="SET NULL"), nullable=True
    )
    # The printer it was sent to.
    printer_id: Mapped[int | None] = mapped_column(
        ForeignKey("printers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    printer_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    material: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The model to slice (STL/3MF; a replica's printable mesh), by blob digest.
    model_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_ext: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # A replica: the asset it reproduces and the height asked for.
    asset_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    gcode_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Highest X, Y, Z the G-code reaches: a printer whose build volume is smaller cannot run it.
    extent_mm: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    estimate_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    filament_mm: Mapped[float | None] = mapped_column(Float, nullable=True)
    filament_g: Mapped[float | None] = mapped_column(Float, nullable=True)
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    eta_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pause / resume / cancel asked over the API, for the worker to carry out on the printer.
    command: Mapped[str | None] = mapped_column(String(12), nullable=True)
    reservation_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservations.id", ondelete="SET NULL"), nullable=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Random part of the file name on the printer, new for every attempt (see `printer_file`).
    file_tag: Mapped[str | None] = mapped_column(String(16), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
