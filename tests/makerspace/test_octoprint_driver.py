"""The OctoPrint driver against a real OctoPrint 1.11 with its virtual printer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from core.errors import Conflict, Forbidden
from makerspace.drivers.base import (
    JobOutcome,
    PrinterDriver,
    PrinterSnapshot,
    PrinterState,
    job_file_name,
    job_id_from_file_name,
)
from makerspace.drivers.octoprint import OctoPrintDriver
from makerspace.octoprint_env import VirtualOctoPrint

pytestmark = pytest.mark.e2e


@pytest.fixture
async def driver(idle_octoprint: VirtualOctoPrint) -> AsyncIterator[OctoPrintDriver]:
    driver = OctoPrintDriver(idle_octoprint.url, idle_octoprint.api_key, backoff_max_s=1.0)
    await driver.connect()
    yield driver
    await driver.close()


async def poll_state(
    driver: OctoPrintDriver, done: Callable[[PrinterSnapshot], bool], timeout_s: float = 20
) -> PrinterSnapshot:
    deadline = time.monotonic() + timeout_s
    snapshot = await driver.state()
    while not done(snapshot):
        assert time.monotonic() < deadline, f"printer still {snapshot}"
        await asyncio.sleep(0.05)
        snapshot = await driver.state()
    return snapshot


async def collect_updates(
    driver: OctoPrintDriver, until: Callable[[PrinterSnapshot], bool], timeout_s: float
) -> tuple[list[PrinterSnapshot], Callable[[], Awaitable[None]]]:
    """Follow the push stream in the background until `until` holds; returns what arrived."""
    seen: list[PrinterSnapshot] = []
    first = asyncio.Event()
    finished = asyncio.Event()

    async def follow() -> None:
        async for snapshot in driver.updates():
            seen.append(snapshot)
            first.set()
            if until(snapshot):
                finished.set()
                return

    task = asyncio.create_task(follow())
    await asyncio.wait_for(first.wait(), 10)

    async def wait() -> None:
        try:
            await asyncio.wait_for(finished.wait(), timeout_s)
        finally:
            task.cancel()

    return seen, wait


def test_job_file_names_carry_the_job_id_and_reject_unsafe_ids() -> None:
    assert job_file_name(42) == "smartlib-job-42.gcode"
    assert job_id_from_file_name("smartlib-job-42.gcode") == "42"
    assert job_id_from_file_name("benchy.gcode") is None
    with pytest.raises(ValueError):
        job_file_name("../etc")


async def test_driver_connects_the_virtual_printer_and_reports_it_ready(
    octoprint_server: Callable[..., Awaitable[VirtualOctoPrint]],
) -> None:
    server = await octoprint_server()
    driver = OctoPrintDriver(server.url, server.api_key)
    try:
        assert isinstance(driver, PrinterDriver)
        before = await driver.state()
        assert before.state is PrinterState.OFFLINE
        assert "not connected" in (before.error or "")
        await driver.connect()
        # The first temperature report follows the connection by a moment.
        after = await poll_state(driver, lambda s: s.ready and "tool0" in s.temps, 10)
        assert after.temps["tool0"].actual is not None
        assert after.temps["bed"].target == 0.0
        assert after.job_name is None
    finally:
        await driver.close()


async def test_upload_and_start_prints_to_done_with_progress_pushed(
    driver: OctoPrintDriver, fast_gcode: Callable[..., bytes]
) -> None:
    name = job_file_name("progress-1")
    seen, wait = await collect_updates(
        driver,
        lambda s: s.last_finished is not None and s.last_finished.name == name,
        timeout_s=30,
    )
    result = await driver.upload_and_start(name, fast_gcode(3))
    assert result.started
    await wait()

    assert seen[-1].last_finished.outcome is JobOutcome.DONE
    printing = [s for s in seen if s.job_name == name and s.state is PrinterState.PRINTING]
    progress = [s.progress for s in printing if s.progress is not None]
    assert len(set(progress)) >= 3, progress
    assert progress == sorted(progress)
    assert 0 < progress[-2] < 100
    # REST alone (the re-sync after a reconnect) tells the same once the printer is idle.
    settled = await poll_state(driver, lambda s: s.ready)
    assert settled.last_finished.name == name
    assert settled.last_finished.outcome is JobOutcome.DONE


async def test_cancel_stops_the_print_and_reports_it_cancelled(
    driver: OctoPrintDriver, fast_gcode: Callable[..., bytes]
) -> None:
    name = job_file_name("cancel-1")
    seen, wait = await collect_updates(
        driver, lambda s: s.last_finished is not None and s.last_finished.name == name, 30
    )
    await driver.upload_and_start(name, fast_gcode(60))
    await poll_state(driver, lambda s: s.state is PrinterState.PRINTING and s.job_name == name)
    await driver.cancel()
    await wait()
    assert seen[-1].last_finished.outcome is JobOutcome.CANCELLED
    assert (await poll_state(driver, lambda s: s.ready)).progress is None


async def test_pause_and_resume_hold_and_continue_the_same_print(
    driver: OctoPrintDriver, fast_gcode: Callable[..., bytes]
) -> None:
    name = job_file_name("pause-1")
    await driver.upload_and_start(name, fast_gcode(60))
    await poll_state(driver, lambda s: s.state is PrinterState.PRINTING)
    await driver.pause()
    paused = await poll_state(driver, lambda s: s.state is PrinterState.PAUSED)
    assert paused.job_name == name
    still = await driver.state()
    assert still.progress == paused.progress  # nothing moves while paused
    await driver.resume()
    resumed = await poll_state(
        driver, lambda s: s.state is PrinterState.PRINTING and s.progress > paused.progress
    )
    assert resumed.job_name == name
    await driver.cancel()


async def test_cancel_while_idle_is_a_conflict(driver: OctoPrintDriver) -> None:
    with pytest.raises(Conflict, match="cannot cancel"):
        await driver.cancel()


async def test_repeating_upload_and_start_of_the_running_job_does_not_restart_it(
    driver: OctoPrintDriver, fast_gcode: Callable[..., bytes]
) -> None:
    name = job_file_name("idem-1")
    first = await driver.upload_and_start(name, fast_gcode(60, tag="first"))
    assert first.started
    running = await poll_state(driver, lambda s: (s.progress or 0) > 1)

    again = await driver.upload_and_start(name, fast_gcode(60, tag="second"))
    assert again.already_running and not again.started
    after = await driver.state()
    assert after.job_name == name
    assert after.progress >= running.progress  # not started over

    with pytest.raises(Conflict, match="busy"):
        await driver.upload_and_start(job_file_name("idem-2"), fast_gcode(1))
    assert (await driver.state()).job_name == name
    await driver.cancel()


def physical_starts(server: VirtualOctoPrint) -> int:
    """How often OctoPrint really began a print, from its own log."""
    log = (server.basedir / "logs" / "octoprint.log").read_text()
    return log.count('from "Operational" to "Starting"')


async def test_concurrent_dispatches_to_one_printer_start_exactly_one(
    driver: OctoPrintDriver, idle_octoprint: VirtualOctoPrint, fast_gcode: Callable[..., bytes]
) -> None:
    # OctoPrint answers effectivePrint: true to uploads racing a "Starting" print, so the
    # driver must serialise its own dispatches and check what the printer actually took.
    names = [job_file_name(f"race-{i}") for i in range(3)]
    starts_before = physical_starts(idle_octoprint)
    outcomes = await asyncio.gather(
        *(driver.upload_and_start(name, fast_gcode(30)) for name in names),
        return_exceptions=True,
    )
    started = [o for o in outcomes if not isinstance(o, BaseException) and o.started]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(started) == 1, outcomes
    assert len(refused) == 2, outcomes
    printing = await driver.state()
    assert printing.job_name == started[0].name and printing.state.busy
    assert physical_starts(idle_octoprint) == starts_before + 1
    await driver.cancel()


async def test_finished_job_is_not_printed_again_when_dispatched_twice(
    driver: OctoPrintDriver, fast_gcode: Callable[..., bytes]
) -> None:
    name = job_file_name("twice-1")
    await driver.upload_and_start(name, fast_gcode(0.5))
    await poll_state(driver, lambda s: s.ready and s.last_finished is not None)
    again = await driver.upload_and_start(name, fast_gcode(0.5))
    assert again.already_done
    assert (await driver.state()).ready


async def test_wrong_api_key_is_a_clear_error_and_never_leaks_the_key(
    idle_octoprint: VirtualOctoPrint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_key = "WRONG" + idle_octoprint.api_key[5:]
    driver = OctoPrintDriver(idle_octoprint.url, wrong_key, backoff_min_s=0.05)
    try:
        with pytest.raises(Forbidden, match="rejected the API key") as on_get:
            await driver.connect()  # GET → 403
        with pytest.raises(Forbidden, match="rejected the API key") as on_post:
            await driver.cancel()  # POST → 400 "CSRF validation failed"
        snapshot = await driver.state()
        assert snapshot.state is PrinterState.ERROR
        assert "API key" in snapshot.error

        updates = driver.updates()
        pushed = await asyncio.wait_for(anext(updates), 10)
        await updates.aclose()
        assert pushed.state is PrinterState.ERROR and "API key" in pushed.error

        texts = [str(on_get.value), str(on_post.value), snapshot.error, repr(driver), caplog.text]
        assert not any(wrong_key in text for text in texts)
    finally:
        await driver.close()
