"""The print-jobs and printers API without printers attached: validation, quotas, slicing.

The printers registered here point at a closed port, so nothing is ever dispatched; what is
tested is what members and librarians are told before anything reaches a printer.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
import trimesh

from core.settings import Settings, load_settings

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
KEY = "SECRETKEY-" + "9" * 22


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # Small quotas so that they can be reached: 2 prints a week, at most one hour each.
    return load_settings(
        env={},
        data_dir=tmp_path / "data",
        database_url=db_url,
        migrate_on_start=False,
        print_quota_per_week=2,
        print_max_hours=1,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_printer(client: Any, token: str, **extra: Any) -> tuple[int, dict]:
    body = {
        "name": extra.pop("name", "MK3-1"),
        "url": "http://127.0.0.1:9",
        "api_key": KEY,
        "build_volume_mm": extra.pop("build_volume_mm", [250, 210, 210]),
        **extra,
    }
    resp = await client.post("/api/v1/printers", json=body, headers=bearer(token))
    return resp.status, await resp.json()


async def upload(client: Any, token: str, data: bytes, filename: str, **fields: Any):
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    for name, value in fields.items():
        form.add_field(name, str(value).lower() if isinstance(value, bool) else str(value))
    resp = await client.post("/api/v1/print-jobs", data=form, headers=bearer(token))
    return resp.status, await resp.json()


def gcode(estimate: str, tag: str = "") -> bytes:
    return (
        f"; {tag}\nG28\nG1 X10 Y10 Z0.2 F6000\nG1 X50 Y10\n"
        f"; estimated printing time (normal mode) = {estimate}\n; filament used [mm] = 100.0\n"
    ).encode()


def box_stl(size: tuple[float, float, float]) -> bytes:
    out = io.BytesIO()
    trimesh.creation.box(extents=size).export(out, file_type="stl")
    return out.getvalue()


@SQLITE_ONLY
async def test_printers_are_registered_by_librarians_and_their_key_never_comes_back(
    client: Any, make_user: Any
) -> None:
    _, staff = await make_user("librarian")
    _, member = await make_user("member")
    status, body = await add_printer(client, member)
    assert status == 403
    status, printer = await add_printer(client, staff, material="PETG", tags=["Enclosure"])
    assert status == 201, printer
    assert printer["tags"] == ["enclosure"] and printer["resource_id"] is not None
    status, body = await add_printer(client, staff)
    assert status == 409 and "MK3-1" in body["error"]["message"]
    status, body = await add_printer(client, staff, name="Tiny", build_volume_mm=[0, 10, 10])
    assert status == 422

    texts = []
    for path in ("/api/v1/printers", f"/api/v1/printers/{printer['id']}"):
        for token in (staff, member):
            resp = await client.get(path, headers=bearer(token))
            assert resp.status == 200
            texts.append(await resp.text())
    resp = await client.patch(
        f"/api/v1/printers/{printer['id']}", json={"api_key": KEY + "X"}, headers=bearer(staff)
    )
    texts.append(await resp.text())
    assert all(KEY not in text and "api_key" not in text for text in texts)
    member_view = await (await client.get("/api/v1/printers", headers=bearer(member))).json()
    assert "url" not in member_view["items"][0]  # where the machines live is for staff


@SQLITE_ONLY
async def test_quotas_refuse_the_third_print_of_the_week_and_a_print_too_long(
    client: Any, make_user: Any
) -> None:
    _, staff = await make_user("librarian")
    _, member = await make_user("member")
    await add_printer(client, staff)

    status, body = await upload(client, member, gcode("2h 5m"), "long.gcode", confirm=True)
    assert status == 422
    assert "maximum print length" in body["error"]["message"]
    assert "1 h" in body["error"]["message"]

    for i in range(2):
        status, body = await upload(client, member, gcode("10m", str(i)), f"p{i}.gcode")
        assert status == 201 and body["state"] == "ready" and body["estimate_s"] == 600
        resp = await client.post(f"/api/v1/print-jobs/{body['id']}/confirm", headers=bearer(member))
        assert resp.status == 200 and (await resp.json())["confirmed"] is True
    status, third = await upload(client, member, gcode("10m", "3"), "p3.gcode")
    assert status == 201  # an unconfirmed job uses nothing yet
    resp = await client.post(f"/api/v1/print-jobs/{third['id']}/confirm", headers=bearer(member))
    refused = await resp.json()
    assert resp.status == 422
    assert "2 prints per 7 days" in refused["error"]["message"]
    assert refused["error"]["field"] == "quota.prints_per_week"

    # Staff print for the library and have no quota.
    status, body = await upload(client, staff, gcode("3h"), "staff.gcode", confirm=True)
    assert status == 201

    # Members see only their own jobs; staff see everyone's.
    resp = await client.get("/api/v1/print-jobs", headers=bearer(member))
    listing = await resp.json()
    assert listing["total"] == 3 and {j["name"] for j in listing["items"]} >= {"p0.gcode"}
    resp = await client.get("/api/v1/print-jobs", headers=bearer(staff))
    assert (await resp.json())["total"] == 4

    # Cancelling before it reached a printer is immediate.
    resp = await client.delete(f"/api/v1/print-jobs/{third['id']}", headers=bearer(member))
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"


@SQLITE_ONLY
async def test_unprintable_uploads_are_refused_with_a_reason(client: Any, make_user: Any) -> None:
    _, staff = await make_user("librarian")
    _, member = await make_user("member")
    status, body = await upload(client, member, gcode("1m"), "a.gcode")
    assert status == 422 and "No printer" in body["error"]["message"]
    await add_printer(client, staff)
    status, body = await upload(client, member, b"hello", "notes.txt")
    assert status == 422 and body["error"]["field"] == "file"
    status, body = await upload(client, member, gcode("1m"), "a.gcode", material="ABS")
    assert status == 422 and "material ABS" in body["error"]["message"]
    status, body = await upload(client, member, gcode("1m"), "a.gcode", printer_id=999)
    assert status == 404


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_an_stl_is_sliced_for_the_smallest_printer_it_fits_with_estimates(
    client: Any, make_user: Any
) -> None:
    _, staff = await make_user("librarian")
    _, member = await make_user("member")
    await add_printer(client, staff, name="Mini", build_volume_mm=[120, 120, 120])
    await add_printer(client, staff, name="Big", build_volume_mm=[300, 300, 300])

    status, small = await upload(client, member, box_stl((20, 20, 5)), "coin.stl")
    assert status == 201 and small["state"] == "queued" and small["estimate_s"] is None
    status, wide = await upload(client, member, box_stl((180, 20, 2)), "ruler.stl")
    assert status == 201
    status, huge = await upload(client, member, box_stl((400, 20, 2)), "pole.stl")
    assert status == 201

    results = {}
    deadline = time.monotonic() + 90
    for created in (small, wide, huge):
        while True:
            resp = await client.get(f"/api/v1/print-jobs/{created['id']}", headers=bearer(member))
            seen = await resp.json()
            if seen["state"] in ("ready", "failed"):
                results[created["name"]] = seen
                break
            assert time.monotonic() < deadline, seen
            await asyncio.sleep(0.1)
    coin = results["coin.stl"]
    assert coin["state"] == "ready" and coin["estimate_s"] > 0 and coin["filament_mm"] > 0
    assert coin["filament_g"] > 0
    # Sliced for the smallest bed that holds each: the coin on Mini's, the ruler on Big's.
    assert max(coin["extent_mm"][:2]) <= 120
    ruler = results["ruler.stl"]
    assert ruler["state"] == "ready" and 120 < ruler["extent_mm"][0] <= 300
    pole = results["pole.stl"]
    assert pole["state"] == "failed" and "bigger than every printer" in pole["error"]


@SQLITE_ONLY
async def test_the_makerspace_namespace_needs_a_valid_token(client: Any, make_user: Any) -> None:
    _, member = await make_user("member")
    for auth in ({}, {"token": "not-a-token"}):
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                str(client.make_url("/")),
                namespaces=["/makerspace"],
                auth=auth,
                transports=["websocket"],
            )
        await sio.disconnect()
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/makerspace"],
        auth={"token": member},
        transports=["websocket"],
    )
    assert sio.connected
    await sio.disconnect()
