"""The fast packet path (web/sockets/fastpath.py) says exactly what the stock path says.

Scans over a websocket are answered inline from the frame; the same scans over long-polling,
or with the namespace's inline events switched off, take python-socketio's own path. Both must
give the same bytes, for good scans and for every kind of bad one, to the official npm client
and to python-socketio's, and what the fast path does not handle (binary attachments, polling
recipients, server-side disconnects) must keep working.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import socketio
from aiohttp import ClientWebSocketResponse, WSMsgType

from tests.conftest import async_wait_until
from web.keys import SIO, VISIT

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "tests" / "clients" / "scan_transports.mjs"
GOOD = {"dictionary": "aruco_4x4_50", "marker_id": 7}
SCANS = [
    GOOD,
    {"dictionary": "aruco_4x4_50", "marker_id": 42},  # no such exhibit
    {},
    {"dictionary": "aruco_4x4_50", "marker_id": "seven"},
    {"dictionary": "aruco_4x4_50", "marker_id": -1},
    {"dictionary": "aruco_4x4_50", "marker_id": 10**12},
    {"dictionary": None, "marker_id": 7},
    {"dictionary": "aruco_4x4_50", "marker_id": 7, "extra": 1},
    ["aruco_4x4_50", 7],
    "scan me",
    42,
    None,
]
# Raw argument lists after the event name, including what no client library would send.
RAW_ARGUMENTS = [json.dumps(s, ensure_ascii=False) for s in SCANS] + [
    "",  # no payload at all
    json.dumps(GOOD) + ",1",  # two payloads
    '{"dictionary":"aruco_4x4_50","marker_id":7.0}',
    '{"dictionary":"aruco_4x4_50","marker_id":true}',
    '{"marker_id":7,"dictionary":"aruco_4x4_50"}',
]


class RawTablet:
    """Socket.IO spoken by hand over a websocket, to see the exact bytes of each ack."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 1

    @classmethod
    async def connect(cls, client, **auth) -> RawTablet:
        ws = await client.session.ws_connect(
            client.make_url("/socket.io/?EIO=4&transport=websocket")
        )
        assert (await ws.receive_str(timeout=10)).startswith("0{")
        await ws.send_str("40/visit," + json.dumps(auth))
        assert (await ws.receive_str(timeout=10)).startswith('40/visit,{"sid":')
        return cls(ws)

    async def call(self, event: str, arguments: str) -> str:
        """Send `42/visit,ID["event",arguments]`; the ack's argument list, byte for byte."""
        ack_id, self.next_id = self.next_id, self.next_id + 1
        sep = "," if arguments else ""
        await self.ws.send_str(f'42/visit,{ack_id}["{event}"{sep}{arguments}]')
        prefix = f"43/visit,{ack_id}["
        while True:
            message = await self.ws.receive_str(timeout=10)
            if message == "2":
                await self.ws.send_str("3")
            elif message.startswith(prefix):
                return message[len(prefix) - 1 :]

    async def close(self) -> None:
        await self.ws.close()


def _short_polls(client) -> None:
    """Long-polls end within seconds, so that clients that left do not hold up the test."""
    eio = client.server.app[SIO].eio
    eio.ping_interval, eio.ping_timeout = 1, 2


def _stock_path(client) -> None:
    """From now on the namespace's events all take python-socketio's own path."""
    client.server.app[VISIT].inline_events = frozenset()


async def test_fast_and_stock_paths_ack_every_scan_byte_for_byte(client, make_exhibit):
    await make_exhibit("drum", 7, title={"vi": "Trống đồng", "en": "Bronze drum"})
    tablet = await RawTablet.connect(client, lang="vi", device={"max_triangles": 60_000})
    try:
        fast = [await tablet.call("scan", arguments) for arguments in RAW_ARGUMENTS]
        _stock_path(client)
        stock = [await tablet.call("scan", arguments) for arguments in RAW_ARGUMENTS]
    finally:
        await tablet.close()
    assert fast == stock
    acks = [json.loads(ack)[0] for ack in fast]
    assert acks[0]["ok"] is True and acks[0]["manifest"]["exhibit"]["title"] == "Trống đồng"
    assert acks[1]["error"]["code"] == "not_found"
    assert {a["error"]["code"] for a in acks[2 : len(SCANS) + 2]} == {"invalid"}
    assert acks[-3] == acks[-1] == acks[0]  # 7.0 is 7, and key order does not matter
    assert acks[-2]["error"]["code"] == "not_found"  # `true` reads as marker 1, as ever


async def test_an_edited_exhibit_is_never_answered_from_the_old_encoding(
    client, make_exhibit, make_user
):
    drum = await make_exhibit("drum", 7, title={"vi": "Trống", "en": "Drum"})
    _, librarian = await make_user("librarian")
    tablet = await RawTablet.connect(client, lang="en")
    try:
        before = json.loads(await tablet.call("scan", json.dumps(GOOD)))[0]
        edited = await client.patch(
            f"/api/v1/exhibits/{drum.id}",
            json={"title": {"vi": "Trống", "en": "Renamed drum"}},
            headers={"Authorization": f"Bearer {librarian}"},
        )
        assert edited.status == 200, await edited.text()
        after = json.loads(await tablet.call("scan", json.dumps(GOOD)))[0]
    finally:
        await tablet.close()
    assert before["manifest"]["exhibit"]["title"] == "Drum"
    assert after["manifest"]["exhibit"]["title"] == "Renamed drum"


async def _python_scans(client, transport: str) -> list[dict]:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/visit"],
        auth={"lang": "en", "device": {"max_triangles": 200_000}},
        transports=[transport],
        wait_timeout=10,
    )
    try:
        return [await sio.call("scan", s, namespace="/visit", timeout=10) for s in SCANS]
    finally:
        await sio.disconnect()


async def test_python_client_gets_the_same_acks_over_websocket_and_polling(client, make_exhibit):
    await make_exhibit("drum", 7)
    _short_polls(client)
    over_websocket = await _python_scans(client, "websocket")
    over_polling = await _python_scans(client, "polling")
    assert over_websocket == over_polling
    assert over_websocket[0]["ok"] is True
    assert [a["ok"] for a in over_websocket[1:]] == [False] * (len(SCANS) - 1)


async def _node_scans(url: str, transport: str) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required: make test installs it")
    out = await asyncio.to_thread(
        subprocess.run,
        [node, str(NODE_CLIENT), url, transport, json.dumps(SCANS)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


async def test_official_npm_client_gets_the_same_acks_over_websocket_and_polling(
    client, make_exhibit
):
    await make_exhibit("drum", 7, title={"vi": "Trống", "en": "Bronze drum"})
    url = str(client.make_url("")).rstrip("/")
    _short_polls(client)
    over_websocket = await _node_scans(url, "websocket")
    over_polling = await _node_scans(url, "polling")
    assert over_websocket == over_polling
    assert over_websocket[0]["manifest"]["exhibit"]["title"] == "Bronze drum"
    assert over_websocket[1]["error"]["code"] == "not_found"
    assert {a["error"]["code"] for a in over_websocket[2:]} == {"invalid"}


async def test_binary_attachments_travel_both_ways_on_the_lean_websocket(client, make_exhibit):
    await make_exhibit("drum", 7)
    sio = socketio.AsyncClient(reconnection=False)
    got: list[object] = []
    sio.on("blob", got.append, namespace="/visit")
    await sio.connect(
        str(client.make_url("/")), namespaces=["/visit"], transports=["websocket"], wait_timeout=10
    )
    try:
        # A binary event from the tablet takes the stock path and is validated as ever.
        refused = await sio.call(
            "scan", {"dictionary": b"\x00\xff", "marker_id": 7}, namespace="/visit", timeout=10
        )
        assert refused["ok"] is False and refused["error"]["code"] == "invalid"
        good = await sio.call("scan", GOOD, namespace="/visit", timeout=10)
        assert good["ok"] is True
        sid = sio.get_sid("/visit")
        blob = bytes(range(256)) * 300  # past 65,535 bytes: the 64-bit frame length
        await client.server.app[SIO].emit("blob", {"data": blob}, to=sid, namespace="/visit")
        await async_wait_until(lambda: got, what="the binary emit")
        assert got == [{"data": blob}]
    finally:
        await sio.disconnect()


async def test_room_emits_reach_websocket_and_polling_tablets_alike(client):
    sio_server = client.server.app[SIO]
    _short_polls(client)
    tablets, inboxes = [], []
    for transport in ("websocket", "polling", "websocket"):
        tablet = socketio.AsyncClient(reconnection=False)
        inbox: list[dict] = []
        tablet.on("note", inbox.append, namespace="/visit")
        await tablet.connect(
            str(client.make_url("/")), namespaces=["/visit"], transports=[transport]
        )
        tablets.append(tablet)
        inboxes.append(inbox)
    try:
        for tablet in tablets:
            await sio_server.enter_room(tablet.get_sid("/visit"), "class-4b", namespace="/visit")
        big = {"text": "Trống đồng " * 8000}  # over 64 KB once encoded
        await sio_server.emit("note", {"n": 1}, room="class-4b", namespace="/visit")
        await sio_server.emit(
            "note", big, room="class-4b", namespace="/visit", skip_sid=tablets[2].get_sid("/visit")
        )
        await async_wait_until(
            lambda: len(inboxes[0]) == 2 and len(inboxes[1]) == 2 and inboxes[2],
            what="the emits on both transports",
        )
        assert inboxes[0] == inboxes[1] == [{"n": 1}, big]
        assert inboxes[2] == [{"n": 1}]  # skipped the second time
    finally:
        await asyncio.gather(*(t.disconnect() for t in tablets))


async def test_a_server_side_disconnect_closes_the_lean_websocket(client):
    tablet = await RawTablet.connect(client, lang="en")
    eio = client.server.app[SIO].eio
    try:
        (eio_sid,) = list(eio.sockets)
        await eio.disconnect(eio_sid)
        seen = []
        while True:
            msg = await tablet.ws.receive(timeout=10)
            if msg.type is not WSMsgType.TEXT:
                break
            seen.append(msg.data)
        assert "1" in seen  # the Engine.IO CLOSE packet went out before the socket closed
        assert tablet.ws.closed or msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    finally:
        await tablet.close()
