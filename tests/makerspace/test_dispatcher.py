"""The queue's decisions in the database: order, compatibility, reservations, settling.

No printer is involved: snapshots are built by hand, as the coordinator would report them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from booking.models import Reservation
from core.database import unit_of_work, utcnow
from core.settings import Settings
from makerspace import dispatcher, jobs
from makerspace.drivers.base import FinishedJob, JobOutcome, PrinterSnapshot, PrinterState
from makerspace.models import PrintJob, printer_file
from makerspace.printers import create_printer
from makerspace.quotas import Quota
from makerspace.schemas import JobOptions, PrinterIn
from makerspace.slicing import SliceResult


async def setup(sessions: Any, settings: Settings, user: Any, **printer: Any) -> int:
    async with unit_of_work(sessions) as session:
        created = await create_printer(
            session,
            PrinterIn(
                name=printer.pop("name", "MK3"),
                url="http://127.0.0.1:9",
                api_key="0123456789abcdef",
                build_volume_mm=printer.pop("build_volume_mm", (250, 210, 210)),
                **printer,
            ),
            settings.secret_key,
        )
        return created.id


async def queue(sessions: Any, user: Any, blobs: Any, **options: Any) -> int:
    ref = blobs.put_bytes(b"G28\nG1 X10 Y10\n" + str(options).encode(), "gcode")
    extent = options.pop("extent_mm", None)
    async with unit_of_work(sessions) as session:
        job = await jobs.submit(
            session,
            user,
            JobOptions(confirm=True, **options),
            name="part.gcode",
            quota=Quota(prints_per_week=100),
            now=utcnow(),
            gcode=SliceResult(blobs.path(ref.sha256, "gcode"), 60, None, None),
            gcode_sha256=ref.sha256,
            extent_mm=extent,
        )
        return job.id


async def claim(sessions: Any, printer_id: int, now: Any = None) -> int | None:
    async with unit_of_work(sessions) as session:
        job = await dispatcher.claim_next(session, printer_id, now or utcnow())
        return job.id if job else None


async def test_the_queue_goes_by_priority_then_confirmation_order(
    sessions: Any, settings: Settings, blobs: Any, make_user: Any
) -> None:
    user, _ = await make_user("librarian")
    printer_id = await setup(sessions, settings, user, needs_bed_clear=False)
    first = await queue(sessions, user, blobs)
    second = await queue(sessions, user, blobs, tags=[])
    urgent = await queue(sessions, user, blobs, material="PLA")
    async with unit_of_work(sessions) as session:
        await jobs.set_priority(session, user, urgent, 10)

    order = []
    for _ in range(3):
        job_id = await claim(sessions, printer_id)
        order.append(job_id)
        # Only one job at a time on a printer: nothing more until this one is settled.
        assert await claim(sessions, printer_id) is None
        async with unit_of_work(sessions) as session:
            row = await session.get(PrintJob, job_id)
            printer = await session.get(dispatcher.Printer, printer_id)
            name = printer_file(row.id, row.file_tag)
            done = PrinterSnapshot(
                PrinterState.OPERATIONAL,
                job_name=name,
                progress=100.0,
                last_finished=FinishedJob(name, JobOutcome.DONE),
            )
            settled = await dispatcher.settle(session, printer, done, uploading=False, now=utcnow())
        assert [j.state for j in settled.jobs] == ["done"] and settled.printer_freed
    assert order == [urgent, first, second]
    assert await claim(sessions, printer_id) is None


async def test_a_printer_takes_only_jobs_it_can_print_and_waits_for_a_cleared_bed(
    sessions: Any, settings: Settings, blobs: Any, make_user: Any
) -> None:
    user, _ = await make_user("member")
    small = await setup(sessions, settings, user, name="Mini", build_volume_mm=(120, 120, 120))
    big = await setup(sessions, settings, user, name="Big", build_volume_mm=(300, 300, 300),
                      material="PETG", tags=["enclosure"])  # fmt: skip
    wide = await queue(sessions, user, blobs, extent_mm=[200, 50, 10])
    tagged = await queue(sessions, user, blobs, tags=["enclosure"])
    plain = await queue(sessions, user, blobs, material="PLA")
    assert await claim(sessions, small) == plain
    assert await claim(sessions, big) == wide
    async with unit_of_work(sessions) as session:
        row = await session.get(PrintJob, wide)
        printer = await session.get(dispatcher.Printer, big)
        name = printer_file(row.id, row.file_tag)
        failed = PrinterSnapshot(
            PrinterState.OPERATIONAL,
            job_name=name,
            last_finished=FinishedJob(name, JobOutcome.FAILED, "thermal runaway"),
        )
        settled = await dispatcher.settle(session, printer, failed, uploading=False, now=utcnow())
        assert settled.jobs[0].error == "thermal runaway"
    # The failed print is still on the bed: nothing starts until someone clears it.
    assert await claim(sessions, big) is None
    async with unit_of_work(sessions) as session:
        from makerspace.printers import mark_bed_cleared

        await mark_bed_cleared(session, big)
    assert await claim(sessions, big) == tagged


async def test_a_job_bound_to_a_reservation_starts_only_in_its_slot(
    sessions: Any, settings: Settings, blobs: Any, make_user: Any
) -> None:
    user, _ = await make_user("member")
    printer_id = await setup(sessions, settings, user, needs_bed_clear=False)
    now = utcnow()
    async with unit_of_work(sessions) as session:
        printer = await session.get(dispatcher.Printer, printer_id)
        slot = Reservation(
            resource_id=printer.resource_id,
            user_id=user.id,
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=2),
            blocked_until=now + timedelta(hours=2),
            state="confirmed",
        )
        session.add(slot)
        await session.flush()
        slot_id = slot.id
    booked = await queue(sessions, user, blobs, reservation_id=slot_id)
    walk_in = await queue(sessions, user, blobs)

    # Before the slot, the printer is free for walk-in jobs; the booked one waits.
    assert await claim(sessions, printer_id, now) == walk_in
    async with unit_of_work(sessions) as session:
        row = await session.get(PrintJob, walk_in)
        row.state = "done"
    assert await claim(sessions, printer_id, now) is None
    # In the slot, the booked job starts (and walk-ins would wait).
    assert await claim(sessions, printer_id, now + timedelta(hours=1, minutes=5)) == booked
