"""Crash safety: a worker killed mid-print, a dispatch cut short, a printer that dies.

No job is lost, none is printed twice (OctoPrint's own print counter for the job's file says
so), and a job whose printer died fails with the reason and can be re-queued.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from assets.store import BlobStore
from core.database import unit_of_work, utcnow
from core.events import EventBus
from core.settings import Settings
from makerspace import jobs
from makerspace.drivers.octoprint import OctoPrintDriver
from makerspace.models import JobState, PrintJob, printer_file
from makerspace.octoprint_env import VirtualOctoPrint
from makerspace.printers import create_printer
from makerspace.quotas import Quota
from makerspace.schemas import JobOptions, PrinterIn
from makerspace.slicing import SliceResult
from tests.makerspace.test_print_farm import (
    bearer,
    job,
    printed_counts,
    register_printer,
    upload,
    wait_job,
    wait_printed,
)
from web.print_farm import PrintFarm

ROOT = Path(__file__).resolve().parents[2]
ServerFactory = Callable[..., Awaitable[VirtualOctoPrint]]


async def add_printer(sessions: Any, settings: Settings, server: VirtualOctoPrint) -> int:
    async with unit_of_work(sessions) as session:
        printer = await create_printer(
            session,
            PrinterIn(
                name=f"MK3-{server.port}",
                url=server.url,
                api_key=server.api_key,
                build_volume_mm=(250, 210, 210),
                needs_bed_clear=False,
            ),
            settings.secret_key,
        )
        return printer.id


async def add_job(sessions: Any, blobs: BlobStore, user: Any, gcode: bytes) -> int:
    ref = blobs.put_bytes(gcode, "gcode")
    async with unit_of_work(sessions) as session:
        created = await jobs.submit(
            session,
            user,
            JobOptions(confirm=True),
            name="crash.gcode",
            quota=Quota(),
            now=utcnow(),
            gcode=SliceResult(blobs.path(ref.sha256, "gcode"), None, None, None),
            gcode_sha256=ref.sha256,
        )
        return created.id


async def read_job(sessions: Any, job_id: int) -> PrintJob:
    async with sessions() as session:
        found = await session.get(PrintJob, job_id)
        assert found is not None
        return found


async def wait_for_job(
    sessions: Any, job_id: int, until: Callable[[PrintJob], bool], timeout_s: float
) -> PrintJob:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await read_job(sessions, job_id)
        if until(found):
            return found
        assert time.monotonic() < deadline, f"job {job_id}: {found.state} {found.progress}"
        await asyncio.sleep(0.1)


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SMARTLIB_DATA_DIR": str(settings.data_dir),
        "SMARTLIB_DATABASE_URL": settings.database_url,
        "SMARTLIB_SECRET_KEY": settings.secret_key,
    }
    env.pop("SMARTLIB_REDIS_URL", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_worker_killed_mid_print_and_restarted_neither_loses_nor_restarts_the_job(
    settings: Settings,
    sessions: Any,
    blobs: BlobStore,
    make_user: Any,
    idle_octoprint: VirtualOctoPrint,
    fast_gcode: Any,
    tmp_path: Path,
) -> None:
    user, _ = await make_user("member")
    await add_printer(sessions, settings, idle_octoprint)
    job_id = await add_job(sessions, blobs, user, fast_gcode(6.0, tag="crash"))
    log = tmp_path / "worker.log"

    first = start_worker(settings, log)
    try:
        running = await wait_for_job(
            sessions, job_id, lambda j: j.state == "printing" and (j.progress or 0) > 5, 60
        )
    finally:
        first.send_signal(signal.SIGKILL)  # no clean-up, as in a crash or a power cut
        first.wait()
    name = printer_file(job_id, running.file_tag)

    second = start_worker(settings, log)
    try:
        done = await wait_for_job(sessions, job_id, lambda j: j.state == "done", 60)
    finally:
        second.terminate()
        second.wait(timeout=20)
    assert (done.attempts, done.error, done.file_tag) == (1, None, running.file_tag)
    await wait_printed(idle_octoprint, name)
    assert await printed_counts(idle_octoprint, name) == (1, 0), log.read_text()[-3000:]
    assert idle_octoprint.api_key not in log.read_text()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_dispatch_cut_short_by_a_crash_is_recognised_on_the_printer_not_repeated(
    settings: Settings,
    sessions: Any,
    blobs: BlobStore,
    make_user: Any,
    idle_octoprint: VirtualOctoPrint,
    fast_gcode: Any,
) -> None:
    """The worker died after the upload started the print but before it recorded that."""
    user, _ = await make_user("member")
    printer_id = await add_printer(sessions, settings, idle_octoprint)
    started_id = await add_job(sessions, blobs, user, fast_gcode(2.0, tag="started"))
    unsent_id = await add_job(sessions, blobs, user, fast_gcode(0.5, tag="unsent"))
    async with unit_of_work(sessions) as session:
        for job_id, tag in ((started_id, "aaaa1111"), (unsent_id, "bbbb2222")):
            row = await session.get(PrintJob, job_id)
            row.state, row.printer_id, row.file_tag = "dispatching", printer_id, tag
            row.attempts, row.dispatched_at = 1, utcnow()
        sent = await session.get(PrintJob, started_id)
        path = blobs.path(sent.gcode_sha256, "gcode")
    name = printer_file(started_id, "aaaa1111")
    driver = OctoPrintDriver(idle_octoprint.url, idle_octoprint.api_key)
    try:
        assert (await driver.upload_and_start(name, path)).started
    finally:
        await driver.close()

    farm = PrintFarm(sessions, EventBus(), blobs, settings, run_cpu=_run_inline)
    task = asyncio.create_task(farm.run())
    try:
        first = await wait_for_job(sessions, started_id, lambda j: j.state == "done", 30)
        second = await wait_for_job(sessions, unsent_id, lambda j: j.state == "done", 30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    # The one already on the printer was adopted; the other went back to the queue and printed.
    assert (first.attempts, second.attempts) == (1, 2)
    await wait_printed(idle_octoprint, name)
    assert await printed_counts(idle_octoprint, name) == (1, 0)


async def _run_inline(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_printer_that_dies_fails_its_job_with_the_reason_and_others_print_on(
    client: Any, make_user: Any, octoprint_server: ServerFactory, fast_gcode: Any
) -> None:
    doomed_server, healthy_server = await asyncio.gather(octoprint_server(), octoprint_server())
    _, staff = await make_user("librarian")
    _, token = await make_user("member")
    doomed = await register_printer(client, staff, doomed_server, name="Doomed")
    healthy = await register_printer(client, staff, healthy_server, name="Healthy")
    created = []
    for tag in ("a", "b"):
        # Long enough that the doomed print is still running when its server is killed,
        # even on a loaded machine.
        status, body = await upload(client, token, fast_gcode(15.0, tag=tag), confirm=True)
        assert status == 201, body
        created.append(body["id"])
    printing = await asyncio.gather(
        *(wait_job(client, token, jid, lambda j: (j["progress"] or 0) > 5, 30) for jid in created)
    )
    on_doomed = next(j for j in printing if j["printer_id"] == doomed["id"])
    on_healthy = next(j for j in printing if j["printer_id"] == healthy["id"])

    await doomed_server.kill()
    failed = await wait_job(client, token, on_doomed["id"], lambda j: j["state"] == "failed", 20)
    assert "Doomed" in failed["error"] and "offline" in failed["error"]
    assert (await job(client, token, on_healthy["id"]))["state"] in ("printing", "done")
    done = await wait_job(client, token, on_healthy["id"], lambda j: j["state"] == "done", 60)
    assert done["printer_id"] == healthy["id"]
    resp = await client.get(f"/api/v1/printers/{doomed['id']}", headers=bearer(staff))
    assert (await resp.json())["health"] == "offline"

    # Re-queued, it waits for a cleared bed on the healthy printer and prints there.
    resp = await client.post(f"/api/v1/print-jobs/{on_doomed['id']}/requeue", headers=bearer(token))
    assert resp.status == 200 and (await resp.json())["state"] == "ready"
    await client.post(f"/api/v1/printers/{healthy['id']}/bed-cleared", headers=bearer(staff))
    again = await wait_job(client, token, on_doomed["id"], lambda j: j["state"] == "done", 60)
    assert (again["printer_id"], again["error"]) == (healthy["id"], None)
    assert JobState(again["state"]) is JobState.DONE
