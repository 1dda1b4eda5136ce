"""The printer coordinator against real OctoPrint servers: changes in, failures as states."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from makerspace.coordinator import PrinterCoordinator
from makerspace.drivers.base import JobOutcome, PrinterSnapshot, PrinterState, job_file_name
from makerspace.drivers.octoprint import OctoPrintDriver
from makerspace.octoprint_env import VirtualOctoPrint

pytestmark = pytest.mark.e2e


def coordinator_for(server: VirtualOctoPrint, **driver_options: float) -> PrinterCoordinator:
    driver = OctoPrintDriver(
        server.url, server.api_key, backoff_min_s=0.1, backoff_max_s=0.5, **driver_options
    )
    return PrinterCoordinator("p1", driver, stale_after_s=3.0)


async def test_listeners_hear_each_change_once_with_push_lag_under_a_second(
    idle_octoprint: VirtualOctoPrint,
    fast_gcode: Callable[..., bytes],
    figures: dict[str, str],
) -> None:
    heard: list[PrinterSnapshot] = []
    lag_from_octoprint: list[float] = []  # OctoPrint's serverTime → our listener
    lag_in_process: list[float] = []  # frame received → our listener

    async def listener(snapshot: PrinterSnapshot) -> None:
        heard.append(snapshot)
        if snapshot.source_time is not None:
            lag_from_octoprint.append(time.time() - snapshot.source_time)
        lag_in_process.append(time.monotonic() - snapshot.received_at)

    async def broken_listener(snapshot: PrinterSnapshot) -> None:
        raise RuntimeError("a listener bug must not stop the others")

    name = job_file_name("coord-1")
    async with coordinator_for(idle_octoprint) as coordinator:
        coordinator.add_listener(broken_listener)
        coordinator.add_listener(listener)
        await coordinator.wait_for(lambda s: s.ready, 10)
        result = await coordinator.upload_and_start(name, fast_gcode(4))
        assert result.started
        done = await coordinator.wait_for(
            lambda s: s.last_finished is not None and s.last_finished.name == name, 30
        )
        assert done.last_finished.outcome is JobOutcome.DONE

    # Only changes are announced: no two consecutive snapshots are equal.
    assert all(a != b for a, b in itertools.pairwise(heard))
    progress = [s.progress for s in heard if s.job_name == name and s.state.busy and s.progress]
    assert len(set(progress)) >= 3, progress
    assert max(lag_from_octoprint) < 1.0, lag_from_octoprint
    figures["push → listener lag (OctoPrint serverTime to listener)"] = (
        f"p50={statistics.median(lag_from_octoprint) * 1000:.1f} ms "
        f"max={max(lag_from_octoprint) * 1000:.1f} ms n={len(lag_from_octoprint)}"
    )
    figures["frame received → listener"] = (
        f"p50={statistics.median(lag_in_process) * 1000:.2f} ms "
        f"max={max(lag_in_process) * 1000:.2f} ms"
    )


async def test_pause_resume_and_cancel_through_the_coordinator_reach_listeners(
    idle_octoprint: VirtualOctoPrint, fast_gcode: Callable[..., bytes]
) -> None:
    states: list[PrinterState] = []
    refreshed: list[PrinterSnapshot] = []

    async def listener(snapshot: PrinterSnapshot) -> None:
        states.append(snapshot.state)
        if snapshot.state is PrinterState.PAUSED and not refreshed:
            # Listeners may call back into the coordinator (the dispatcher will).
            refreshed.append(await coordinator.refresh())

    name = job_file_name("coord-2")
    async with coordinator_for(idle_octoprint) as coordinator:
        coordinator.add_listener(listener)
        await coordinator.wait_for(lambda s: s.ready, 10)
        await coordinator.upload_and_start(name, fast_gcode(60))
        await coordinator.wait_for(lambda s: s.state is PrinterState.PRINTING, 10)
        await coordinator.pause()
        await coordinator.wait_for(lambda s: s.state is PrinterState.PAUSED, 10)
        await coordinator.resume()
        await coordinator.wait_for(lambda s: s.state is PrinterState.PRINTING, 10)
        await coordinator.cancel()
        final = await coordinator.wait_for(lambda s: s.ready and s.last_finished is not None, 10)
    assert final.last_finished.outcome is JobOutcome.CANCELLED
    assert final.last_finished.name == name
    assert refreshed and refreshed[0].job_name == name
    order = [PrinterState.PRINTING, PrinterState.PAUSED, PrinterState.PRINTING]
    positions = [states.index(order[0])]
    for state in order[1:]:
        positions.append(states.index(state, positions[-1] + 1))
    assert positions == sorted(positions)


async def test_wrong_api_key_becomes_an_error_state_not_an_exception(
    idle_octoprint: VirtualOctoPrint,
) -> None:
    heard: list[PrinterSnapshot] = []

    async def listener(snapshot: PrinterSnapshot) -> None:
        heard.append(snapshot)

    driver = OctoPrintDriver(idle_octoprint.url, "0" * 32, backoff_min_s=0.05, backoff_max_s=0.2)
    async with PrinterCoordinator("p-bad", driver) as coordinator:
        coordinator.add_listener(listener)
        snapshot = await coordinator.wait_for(lambda s: s.state is PrinterState.ERROR, 10)
        # Retries with back-off produce the same state again: nobody hears it twice.
        first_readings = coordinator.readings
        deadline = time.monotonic() + 10
        while coordinator.readings < first_readings + 3:
            assert time.monotonic() < deadline, "the coordinator stopped retrying"
            await asyncio.sleep(0.05)
    assert "API key" in snapshot.error
    assert len(heard) == 1


async def test_octoprint_dying_mid_print_goes_offline_with_reason_then_resyncs_on_restart(
    octoprint_server: Callable[..., Awaitable[VirtualOctoPrint]],
    fast_gcode: Callable[..., bytes],
    figures: dict[str, str],
) -> None:
    server = await octoprint_server()
    name = job_file_name("crash-1")
    async with coordinator_for(server) as coordinator:
        await coordinator.wait_for(lambda s: s.ready, 15)
        await coordinator.upload_and_start(name, fast_gcode(60))
        await coordinator.wait_for(lambda s: s.state is PrinterState.PRINTING, 10)

        killed_at = time.monotonic()
        await server.kill()
        offline = await coordinator.wait_for(lambda s: s.state is PrinterState.OFFLINE, 15)
        noticed_s = time.monotonic() - killed_at
        assert "does not answer" in offline.error or "closed" in offline.error
        assert offline.job_name is None

        await server.start()
        restarted_at = time.monotonic()
        back = await coordinator.wait_for(lambda s: s.ready, 20)
        back_s = time.monotonic() - restarted_at
    # A restarted OctoPrint has forgotten the print: the re-sync shows an idle printer, and
    # the dispatcher will fail the job with the reason it heard.
    assert back.job_name is None and back.error is None
    figures["OctoPrint killed → coordinator offline"] = f"{noticed_s * 1000:.0f} ms"
    figures["OctoPrint answering again → coordinator ready"] = f"{back_s * 1000:.0f} ms"


async def test_printer_disconnected_inside_octoprint_is_reported_then_reconnected(
    idle_octoprint: VirtualOctoPrint,
) -> None:
    heard: list[PrinterSnapshot] = []

    async def listener(snapshot: PrinterSnapshot) -> None:
        heard.append(snapshot)

    async with coordinator_for(idle_octoprint) as coordinator:
        await coordinator.wait_for(lambda s: s.ready, 10)
        coordinator.add_listener(listener)
        async with (
            aiohttp.ClientSession(headers={"X-Api-Key": idle_octoprint.api_key}) as api,
            api.post(
                f"{idle_octoprint.url}/api/connection", json={"command": "disconnect"}
            ) as resp,
        ):
            assert resp.status == 204
        await coordinator.wait_for(lambda s: s.ready and len(heard) > 1, 15)
    dropped = [s for s in heard if s.state is PrinterState.OFFLINE]
    assert dropped and "not connected" in dropped[0].error


async def test_two_printers_print_side_by_side_each_reporting_its_own_job(
    octoprint_server: Callable[..., Awaitable[VirtualOctoPrint]],
    fast_gcode: Callable[..., bytes],
    figures: dict[str, str],
) -> None:
    started = time.monotonic()
    servers = await asyncio.gather(octoprint_server(), octoprint_server())
    figures["two OctoPrint servers started at once"] = f"{time.monotonic() - started:.2f} s"
    coordinators = [coordinator_for(server) for server in servers]
    names = [job_file_name(f"pair-{i}") for i in range(2)]
    for coordinator in coordinators:
        await coordinator.start()
    try:
        await asyncio.gather(*(c.wait_for(lambda s: s.ready, 15) for c in coordinators))
        await asyncio.gather(
            *(
                c.upload_and_start(n, fast_gcode(2))
                for c, n in zip(coordinators, names, strict=True)
            )
        )
        finished = await asyncio.gather(
            *(c.wait_for(lambda s: s.last_finished is not None, 20) for c in coordinators)
        )
    finally:
        for coordinator in coordinators:
            await coordinator.stop()
    assert [s.last_finished.name for s in finished] == names
    assert all(s.last_finished.outcome is JobOutcome.DONE for s in finished)
    assert finished[0].as_dict()["job_id"] == "pair-0"
    assert finished[1].as_dict()["last_finished"] == {
        "name": names[1],
        "outcome": "done",
        "reason": None,
    }


async def test_a_quiet_push_channel_is_backed_by_rest_polling(
    idle_octoprint: VirtualOctoPrint, fast_gcode: Callable[..., bytes]
) -> None:
    progress: list[float] = []

    async def listener(snapshot: PrinterSnapshot) -> None:
        if snapshot.state is PrinterState.PRINTING and snapshot.progress:
            progress.append(snapshot.progress)

    # Throttled to one `current` message per 15 s, the push channel alone would show at most
    # one progress value during this 4 s print.
    driver = OctoPrintDriver(
        idle_octoprint.url, idle_octoprint.api_key, throttle=30, stale_push_s=60
    )
    name = job_file_name("quiet-1")
    async with PrinterCoordinator("p-quiet", driver, stale_after_s=0.5) as coordinator:
        coordinator.add_listener(listener)
        await coordinator.wait_for(lambda s: s.ready, 10)
        await coordinator.upload_and_start(name, fast_gcode(4))
        await coordinator.wait_for(
            lambda s: s.last_finished is not None and s.last_finished.name == name, 30
        )
    assert len(set(progress)) >= 3, progress
