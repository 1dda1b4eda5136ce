"""The print farm end to end: REST and /makerspace against real OctoPrint virtual printers.

The app runs with its in-process worker (the embedded deployment), so every job here goes
through the real dispatcher, coordinators and drivers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import socketio

from makerspace.octoprint_env import VirtualOctoPrint

ServerFactory = Callable[..., Awaitable[VirtualOctoPrint]]
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def watch_logs(caplog: Any) -> None:
    """Capture everything the farm and the edge log (where a key must never appear)."""
    caplog.set_level(logging.INFO)
    for name in ("makerspace", "web", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_printer(client: Any, token: str, server: VirtualOctoPrint | None, **extra: Any):
    body = {
        "name": extra.pop("name", f"MK3-{server.port if server else 'x'}"),
        "url": server.url if server else "http://127.0.0.1:9",
        "api_key": extra.pop("api_key", server.api_key if server else "0123456789ABCDEF"),
        "build_volume_mm": extra.pop("build_volume_mm", [250, 210, 210]),
        **extra,
    }
    resp = await client.post("/api/v1/printers", json=body, headers=bearer(token))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def upload(
    client: Any, token: str, data: bytes, filename: str = "part.gcode", **fields: Any
) -> tuple[int, dict]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    for name, value in fields.items():
        form.add_field(name, str(value).lower() if isinstance(value, bool) else str(value))
    resp = await client.post("/api/v1/print-jobs", data=form, headers=bearer(token))
    return resp.status, await resp.json()


async def job(client: Any, token: str, job_id: int) -> dict:
    resp = await client.get(f"/api/v1/print-jobs/{job_id}", headers=bearer(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def wait_job(
    client: Any, token: str, job_id: int, until: Callable[[dict], bool], timeout_s: float
) -> dict:
    deadline = time.monotonic() + timeout_s
    seen = None
    while time.monotonic() < deadline:
        seen = await job(client, token, job_id)
        if until(seen):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} still {seen} after {timeout_s} s")


async def printed_counts(server: VirtualOctoPrint, file_name: str) -> tuple[int, int]:
    """How often OctoPrint recorded the job's file as printed (success, failure)."""
    async with (
        aiohttp.ClientSession(headers={"X-Api-Key": server.api_key}) as api,
        api.get(f"{server.url}/api/files/local/{file_name}") as resp,
    ):
        if resp.status == 404:
            return (0, 0)
        prints = (await resp.json()).get("prints") or {}
    return prints.get("success", 0), prints.get("failure", 0)


async def wait_printed(server: VirtualOctoPrint, file_name: str, timeout_s: float = 10.0) -> None:
    # OctoPrint records the outcome in its file metadata a moment after the event.
    deadline = time.monotonic() + timeout_s
    while sum(await printed_counts(server, file_name)) == 0:
        assert time.monotonic() < deadline, f"OctoPrint never recorded {file_name} as printed"
        await asyncio.sleep(0.05)


class Watcher:
    """A /makerspace Socket.IO client that keeps every event it hears."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.jobs: list[dict] = []
        self.printers: list[dict] = []
        self.sio.on("job", lambda data: self.jobs.append({**data, "at": time.monotonic()}),
                    namespace="/makerspace")  # fmt: skip
        self.sio.on("printer", lambda data: self.printers.append(data), namespace="/makerspace")

    async def connect(self, client: Any, token: str) -> Watcher:
        await self.sio.connect(
            str(client.make_url("/")),
            namespaces=["/makerspace"],
            auth={"token": token},
            transports=["websocket"],
        )
        return self

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_uploaded_gcode_shows_its_estimate_then_prints_to_done_with_live_events(
    client: Any, make_user: Any, idle_octoprint: VirtualOctoPrint, fast_gcode: Any, caplog: Any
) -> None:
    watch_logs(caplog)
    _, staff = await make_user("librarian")
    member, token = await make_user("member")
    _, other = await make_user("member")
    printer = await register_printer(client, staff, idle_octoprint)
    assert "api_key" not in printer and idle_octoprint.api_key not in str(printer)

    watcher = await Watcher().connect(client, token)
    nosy = await Watcher().connect(client, other)
    staff_watch = await Watcher().connect(client, staff)
    try:
        header = b"; estimated printing time (normal mode) = 3s\n; filament used [mm] = 12.5\n"
        status, created = await upload(client, token, header + fast_gcode(3.0, tag="a"))
        assert status == 201, created
        # Nothing prints before the member confirms: the job waits in `ready` with its estimate.
        assert (created["state"], created["estimate_s"], created["filament_mm"]) == (
            "ready",
            3,
            12.5,
        )
        assert created["confirmed"] is False

        resp = await client.post(
            f"/api/v1/print-jobs/{created['id']}/confirm", headers=bearer(token)
        )
        assert resp.status == 200
        done = await wait_job(client, token, created["id"], lambda j: j["state"] == "done", 40)
        assert (done["progress"], done["printer_id"], done["error"]) == (100.0, printer["id"], None)
        await wait_printed(idle_octoprint, done["file_name"])
        assert await printed_counts(idle_octoprint, done["file_name"]) == (1, 0)

        # The owner heard the job move through its states with rising progress; others did not.
        await until(lambda: any(e["state"] == "done" for e in watcher.jobs))
        states = [e["state"] for e in watcher.jobs]
        assert states.index("dispatching") < states.index("printing") < states.index("done")
        progress = [
            e["progress"] for e in watcher.jobs if e["state"] == "printing" and e["progress"]
        ]
        assert progress == sorted(progress) and len(progress) >= 2
        assert nosy.jobs == []
        assert any(e["id"] == created["id"] for e in staff_watch.jobs)
        # Temperatures arrive with OctoPrint's next temperature poll (every few seconds).
        await until(
            lambda: any(p["id"] == printer["id"] and p["temps"] for p in staff_watch.printers),
            15,
        )
        assert watcher.printers == []  # printers are for staff

        # Another member cannot see it; the printer now waits for its bed to be cleared.
        resp = await client.get(f"/api/v1/print-jobs/{created['id']}", headers=bearer(other))
        assert resp.status == 404
        resp = await client.get(f"/api/v1/printers/{printer['id']}", headers=bearer(staff))
        assert (await resp.json())["bed_clear"] is False
    finally:
        for w in (watcher, nosy, staff_watch):
            await w.close()
    assert idle_octoprint.api_key not in caplog.text
    assert member.id == done["user_id"]


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true after {timeout_s} s")


@SQLITE_ONLY
async def test_pause_resume_and_cancel_over_rest_reach_the_printer(
    client: Any, make_user: Any, idle_octoprint: VirtualOctoPrint, fast_gcode: Any
) -> None:
    _, staff = await make_user("librarian")
    _, token = await make_user("member")
    await register_printer(client, staff, idle_octoprint)
    status, created = await upload(client, token, fast_gcode(20.0, tag="p"), confirm=True)
    assert status == 201
    job_id = created["id"]
    await wait_job(client, token, job_id, lambda j: j["state"] == "printing", 20)

    resp = await client.post(f"/api/v1/print-jobs/{job_id}/pause", headers=bearer(token))
    assert resp.status == 202
    await wait_job(client, token, job_id, lambda j: j["paused"], 15)
    paused_at = (await job(client, token, job_id))["progress"]
    resp = await client.post(f"/api/v1/print-jobs/{job_id}/resume", headers=bearer(token))
    assert resp.status == 202
    resumed = await wait_job(
        client, token, job_id, lambda j: not j["paused"] and j["progress"] > paused_at, 15
    )
    assert resumed["state"] == "printing"

    resp = await client.delete(f"/api/v1/print-jobs/{job_id}", headers=bearer(token))
    assert resp.status == 202
    cancelled = await wait_job(client, token, job_id, lambda j: j["state"] == "cancelled", 20)
    assert cancelled["progress"] < 100
    resp = await client.post(f"/api/v1/print-jobs/{job_id}/pause", headers=bearer(token))
    assert resp.status == 409


@SQLITE_ONLY
async def test_two_printers_share_five_jobs_without_overlap_and_wait_for_bed_clearing(
    client: Any, make_user: Any, octoprint_server: ServerFactory, fast_gcode: Any
) -> None:
    servers = await asyncio.gather(octoprint_server(), octoprint_server())
    _, staff = await make_user("librarian")
    printers = [
        await register_printer(client, staff, s, name=f"P{i}") for i, s in enumerate(servers)
    ]
    by_id = {p["id"]: s for p, s in zip(printers, servers, strict=True)}
    job_ids = []
    for i in range(5):
        status, created = await upload(client, staff, fast_gcode(1.5, tag=str(i)), confirm=True)
        assert status == 201, created
        job_ids.append(created["id"])

    deadline = time.monotonic() + 90
    while True:
        jobs = [await job(client, staff, jid) for jid in job_ids]
        if all(j["state"] == "done" for j in jobs):
            break
        assert time.monotonic() < deadline, jobs
        on_printer = [j["printer_id"] for j in jobs if j["state"] in ("dispatching", "printing")]
        assert len(on_printer) == len(set(on_printer)), f"two jobs on one printer: {jobs}"
        for p in printers:
            resp = await client.get(f"/api/v1/printers/{p['id']}", headers=bearer(staff))
            if not (await resp.json())["bed_clear"]:
                await client.post(f"/api/v1/printers/{p['id']}/bed-cleared", headers=bearer(staff))
        await asyncio.sleep(0.1)
    assert {j["printer_id"] for j in jobs} == set(by_id)
    for j in jobs:
        await wait_printed(by_id[j["printer_id"]], j["file_name"])
        assert await printed_counts(by_id[j["printer_id"]], j["file_name"]) == (1, 0)


@SQLITE_ONLY
async def test_jobs_go_to_the_printer_with_their_material_tags_and_room(
    client: Any, make_user: Any, octoprint_server: ServerFactory, fast_gcode: Any
) -> None:
    small_server, big_server = await asyncio.gather(octoprint_server(), octoprint_server())
    _, staff = await make_user("librarian")
    _, token = await make_user("member")
    small = await register_printer(
        client, staff, small_server, name="Mini", build_volume_mm=[120, 120, 120],
        needs_bed_clear=False,
    )  # fmt: skip
    big = await register_printer(
        client, staff, big_server, name="Big", build_volume_mm=[300, 300, 300],
        material="PETG", tags=["Enclosure"], needs_bed_clear=False,
    )  # fmt: skip

    # Too wide for the small printer: its moves reach X 200.
    wide = fast_gcode(0.5, tag="wide").replace(b"G1 X20 Y10", b"G1 X200 Y10")
    status, wide_job = await upload(client, token, wide, confirm=True, material="PETG")
    assert status == 201, wide_job
    status, tagged = await upload(
        client, token, fast_gcode(0.5, tag="t"), confirm=True, tags="enclosure"
    )
    assert status == 201
    status, plain = await upload(client, token, fast_gcode(0.5, tag="m"), confirm=True,
                                 material="PLA")  # fmt: skip
    assert status == 201
    for created, printer in ((wide_job, big), (tagged, big), (plain, small)):
        done = await wait_job(client, token, created["id"], lambda j: j["state"] == "done", 40)
        assert done["printer_id"] == printer["id"], (created, done)

    # A job no printer can take is refused at once, naming what it needs.
    status, refused = await upload(client, token, fast_gcode(0.5), tags="laser")
    assert status == 422
    assert "laser" in refused["error"]["message"]


@SQLITE_ONLY
async def test_wrong_api_key_puts_the_printer_in_a_clear_error_state_and_never_leaks_it(
    client: Any, make_user: Any, idle_octoprint: VirtualOctoPrint, caplog: Any
) -> None:
    watch_logs(caplog)
    _, staff = await make_user("librarian")
    wrong = "WRONGKEY" + "7" * 24
    printer = await register_printer(client, staff, idle_octoprint, api_key=wrong)
    deadline = time.monotonic() + 20
    while True:
        resp = await client.get(f"/api/v1/printers/{printer['id']}", headers=bearer(staff))
        seen = await resp.json()
        if seen["health"] == "error":
            break
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.1)
    assert "rejected the API key" in seen["error"]
    resp = await client.get("/api/v1/printers", headers=bearer(staff))
    listing = await resp.text()
    assert wrong not in listing and wrong not in str(seen) and wrong not in caplog.text

    # A librarian fixes the key: the worker reconnects and the printer comes online.
    resp = await client.patch(
        f"/api/v1/printers/{printer['id']}",
        json={"api_key": idle_octoprint.api_key},
        headers=bearer(staff),
    )
    assert resp.status == 200
    deadline = time.monotonic() + 20
    while seen["health"] != "online":
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.1)
        resp = await client.get(f"/api/v1/printers/{printer['id']}", headers=bearer(staff))
        seen = await resp.json()
    assert seen["error"] is None and idle_octoprint.api_key not in caplog.text
