"""Registering printers and choosing one for a job.

A printer's API key is encrypted with the server's secret as soon as it arrives and decrypted
only by the worker when it connects; `printer_view` never includes it. Each printer is also a
bookable resource of the booking module, so members can reserve print slots on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.resources import create_resource, delete_resource
from core import crypto
from core.errors import Conflict, Invalid, NotFound
from makerspace.models import ON_PRINTER, Printer, PrintJob
from makerspace.schemas import PrinterIn, PrinterPatch
from makerspace.slicing import Material, PrinterProfile

KEY_PURPOSE = "printer-api-key"
# Slack for rounding in the slicer's coordinates (mm).
_FIT_SLACK_MM = 0.5


def api_key_of(printer: Printer, secret_key: str) -> str:
    return crypto.decrypt(secret_key, printer.api_key_encrypted, purpose=KEY_PURPOSE)


def printer_view(printer: Printer) -> dict[str, Any]:
    return {
        "id": printer.id,
        "name": printer.name,
        "driver": printer.driver,
        "url": printer.url,
        "port": printer.port,
        "printer_type": printer.printer_type,
        "build_volume_mm": printer.build_volume_mm,
        "nozzle_mm": printer.nozzle_mm,
        "material": printer.material,
        "tags": printer.tags,
        "enabled": printer.enabled,
        "needs_bed_clear": printer.needs_bed_clear,
        "bed_clear": printer.bed_clear,
        "resource_id": printer.resource_id,
        "health": printer.health,
        "state": printer.state,
        "error": printer.error,
        "temps": printer.temps,
        "seen_at": printer.seen_at.isoformat() if printer.seen_at else None,
    }


async def _name_taken(session: AsyncSession, name: str, exclude: int | None = None) -> None:
    query = select(Printer.id).where(func.lower(Printer.name) == name.strip().lower())
    if exclude is not None:
        query = query.where(Printer.id != exclude)
    if await session.scalar(query) is not None:
        raise Conflict(f"There is already a printer called '{name}'.", field="name")


async def create_printer(session: AsyncSession, body: PrinterIn, secret_key: str) -> Printer:
    await _name_taken(session, body.name)
    resource = await create_resource(session, {"type": "printer", "name": body.name.strip()})
    printer = Printer(
        name=body.name.strip(),
        driver=body.driver,
        url=str(body.url).rstrip("/"),
        api_key_encrypted=crypto.encrypt(secret_key, body.api_key, purpose=KEY_PURPOSE),
        port=body.port,
        printer_type=body.printer_type,
        build_volume_mm=list(body.build_volume_mm),
        nozzle_mm=body.nozzle_mm,
        material=body.material,
        tags=body.tags,
        enabled=body.enabled,
        needs_bed_clear=body.needs_bed_clear,
        resource_id=resource.id,
    )
    session.add(printer)
    await session.flush()
    return printer


async def get_printer(session: AsyncSession, printer_id: int) -> Printer:
    printer = await session.get(Printer, printer_id)
    if printer is None:
        raise NotFound(f"There is no printer #{printer_id}.")
    return printer


async def list_printers(session: AsyncSession) -> list[Printer]:
    return list(await session.scalars(select(Printer).order_by(Printer.id)))


async def update_printer(
    session: AsyncSession, printer_id: int, patch: PrinterPatch, secret_key: str
) -> Printer:
    printer = await get_printer(session, printer_id)
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        await _name_taken(session, changes["name"], exclude=printer.id)
        printer.name = changes["name"].strip()
    reconnect = False
    if changes.get("api_key") is not None:
        printer.api_key_encrypted = crypto.encrypt(
            secret_key, changes["api_key"], purpose=KEY_PURPOSE
        )
        reconnect = True
    if changes.get("url") is not None:
        printer.url = str(changes["url"]).rstrip("/")
        reconnect = True
    if "port" in changes:
        printer.port = changes["port"]
        reconnect = True
    for name in ("printer_type", "nozzle_mm", "material", "tags", "enabled", "needs_bed_clear"):
        if changes.get(name) is not None:
            setattr(printer, name, changes[name])
    if changes.get("build_volume_mm") is not None:
        printer.build_volume_mm = list(changes["build_volume_mm"])
    if reconnect or "enabled" in changes:
        printer.revision += 1
    await session.flush()
    return printer


async def delete_printer(session: AsyncSession, printer_id: int, now: datetime) -> None:
    printer = await get_printer(session, printer_id)
    running = await session.scalar(
        select(PrintJob.id).where(PrintJob.printer_id == printer_id, PrintJob.state.in_(ON_PRINTER))
    )
    if running is not None:
        raise Conflict(
            f"Printer '{printer.name}' is running job #{running}; cancel it or wait for it to end."
        )
    resource_id = printer.resource_id
    await session.delete(printer)
    await session.flush()
    if resource_id is not None:
        await delete_resource(session, resource_id, now)


async def mark_bed_cleared(session: AsyncSession, printer_id: int) -> Printer:
    printer = await get_printer(session, printer_id)
    running = await session.scalar(
        select(PrintJob.id).where(PrintJob.printer_id == printer_id, PrintJob.state.in_(ON_PRINTER))
    )
    if running is not None:
        raise Conflict(f"Printer '{printer.name}' is still printing job #{running}.")
    printer.bed_clear = True
    await session.flush()
    return printer


# -- matching jobs and printers -----------------------------------------------------------------


def profile_of(printer: Printer) -> PrinterProfile:
    x, y, z = printer.build_volume_mm
    return PrinterProfile(
        build_volume_mm=(float(x), float(y), float(z)),
        nozzle_mm=printer.nozzle_mm,
        material=Material(name=printer.material),
    )


def fits(size_mm: Iterable[float] | None, build_volume_mm: Iterable[float]) -> bool:
    if size_mm is None:
        return True
    return all(s <= b + _FIT_SLACK_MM for s, b in zip(size_mm, build_volume_mm, strict=True))


def takes(printer: Printer, job: PrintJob) -> bool:
    """Whether `printer` can run `job` at all (ignoring whether it is free now)."""
    if not printer.enabled:
        return False
    if job.requested_printer_id is not None and job.requested_printer_id != printer.id:
        return False
    if job.material and job.material.lower() != printer.material.lower():
        return False
    if job.printer_type and job.printer_type.lower() != printer.printer_type.lower():
        return False
    if not set(job.tags or ()) <= set(printer.tags or ()):
        return False
    return fits(job.extent_mm, printer.build_volume_mm)


def describe_needs(job: PrintJob) -> str:
    needs = []
    if job.material:
        needs.append(f"material {job.material}")
    if job.printer_type:
        needs.append(f"type {job.printer_type}")
    if job.tags:
        needs.append("tags " + ", ".join(job.tags))
    if job.extent_mm:
        needs.append("a build volume of " + " × ".join(f"{v:.0f}" for v in job.extent_mm) + " mm")
    return " and ".join(needs) or "nothing special"


async def check_some_printer_takes(session: AsyncSession, job: PrintJob) -> None:
    """Refuse at once a job no registered printer could ever run, rather than queue it forever."""
    printers = await list_printers(session)
    if job.requested_printer_id is not None:
        chosen = next((p for p in printers if p.id == job.requested_printer_id), None)
        if chosen is None:
            raise NotFound(f"There is no printer #{job.requested_printer_id}.", field="printer_id")
        if not takes(chosen, job):
            raise Invalid(
                f"Printer '{chosen.name}' cannot print this job (it needs {describe_needs(job)}).",
                field="printer_id",
            )
        return
    if not any(takes(p, job) for p in printers):
        raise Invalid(
            f"No printer here can print this job: it needs {describe_needs(job)}.",
            field="printer_id",
        )


def profile_printer(
    printers: Iterable[Printer], job: PrintJob, size_mm: tuple[float, float, float] | None
) -> Printer:
    """The printer whose profile slices `job`: the chosen one, else the smallest that fits.

    Sliced G-code is placed for one bed; slicing for the smallest bed that holds the model keeps
    every larger compatible printer able to run it too.
    """
    candidates = []
    for printer in printers:
        if job.requested_printer_id is not None and printer.id != job.requested_printer_id:
            continue
        if not takes(printer, job):
            continue
        candidates.append(printer)
    if not candidates:
        raise Invalid(f"No printer here can print this job: it needs {describe_needs(job)}.")
    candidates.sort(key=lambda p: (p.build_volume_mm[0] * p.build_volume_mm[1], p.id))
    for printer in candidates:
        if fits(size_mm, printer.build_volume_mm):
            return printer
    if job.requested_printer_id is not None:
        return candidates[0]  # the slicer explains that it is too big for the chosen printer
    largest = max(p.build_volume_mm for p in candidates)
    raise Invalid(
        "The model measures "
        + " × ".join(f"{v:.0f}" for v in size_mm or ())
        + " mm, bigger than every printer here (the largest takes "
        + " × ".join(f"{v:.0f}" for v in largest)
        + " mm)."
    )
