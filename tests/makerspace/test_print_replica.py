"""A replica of a heritage object, from a scan uploaded as an asset to a print on a printer."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from assets import heritage
from makerspace.octoprint_env import VirtualOctoPrint
from tests.makerspace.test_print_farm import bearer, register_printer, wait_job


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_replica_of_an_uploaded_scan_is_sliced_estimated_confirmed_and_printed(
    client: Any, make_user: Any, octoprint_server: Any
) -> None:
    # A warm room lets the sliced file's heat-up waits pass at once.
    server: VirtualOctoPrint = await octoprint_server(ambientTemperature=220.0)
    _, staff = await make_user("librarian")
    _, member = await make_user("member")
    printer = await register_printer(client, staff, server, name="Replicator")

    glb = heritage.export_glb(heritage.dong_son_drum(segments=48, rings=16))
    form = aiohttp.FormData()
    form.add_field("file", glb, filename="drum.glb", content_type="model/gltf-binary")
    form.add_field("title", "Dong Son drum")
    resp = await client.post("/api/v1/assets", data=form, headers=bearer(staff))
    assert resp.status == 202, await resp.text()
    asset_id = (await resp.json())["id"]
    deadline = time.monotonic() + 120
    while True:
        resp = await client.get(f"/api/v1/assets/{asset_id}", headers=bearer(staff))
        asset = await resp.json()
        if asset["status"] != "processing":
            break
        assert time.monotonic() < deadline, asset
        await asyncio.sleep(0.2)
    assert asset["status"] == "ready", asset

    resp = await client.post(
        "/api/v1/print-jobs", json={"asset_id": asset_id, "height_mm": 12}, headers=bearer(member)
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["state"] == "queued" and created["name"] == "Replica of Dong Son drum"

    # The member sees the estimate before anything prints.
    ready = await wait_job(client, member, created["id"], lambda j: j["state"] != "queued"
                           and j["state"] != "slicing", 120)  # fmt: skip
    assert ready["state"] == "ready", ready
    assert ready["estimate_s"] > 0 and ready["filament_mm"] > 0 and ready["height_mm"] == 12
    assert 11.5 <= ready["extent_mm"][2] <= 12.6  # the G-code stands 12 mm high
    assert ready["confirmed"] is False and ready["printer_id"] is None

    resp = await client.post(f"/api/v1/print-jobs/{created['id']}/confirm", headers=bearer(member))
    assert resp.status == 200
    printing = await wait_job(client, member, created["id"], lambda j: (j["progress"] or 0) > 0, 60)
    assert (printing["state"], printing["printer_id"]) == ("printing", printer["id"])
    resp = await client.delete(f"/api/v1/print-jobs/{created['id']}", headers=bearer(member))
    assert resp.status == 202
    await wait_job(client, member, created["id"], lambda j: j["state"] == "cancelled", 30)

    # A height the printer cannot take is refused with both sizes.
    resp = await client.post(
        "/api/v1/print-jobs", json={"asset_id": asset_id, "height_mm": 900}, headers=bearer(member)
    )
    too_tall = await resp.json()
    failed = await wait_job(client, member, too_tall["id"], lambda j: j["state"] == "failed", 120)
    assert "smaller height" in failed["error"]
