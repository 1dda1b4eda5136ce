"""Several server processes behind one Redis: a docent on one process moves tablets on another,
presence adds up across processes, and losing Redis degrades to single-process delivery that
heals when Redis returns."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import socketio

from tests.conftest import (
    PG_ADMIN_URL,
    ServerProcess,
    _pg_admin,
    _pg_reachable,
    async_wait_until,
    free_port,
    start_server,
    stop_server,
    wait_until,
)


class RedisServer:
    """A private redis-server, so a test may stop and start it without disturbing others."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is required")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._pong, timeout=10, what="redis-server to answer PING")

    def _pong(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE SCHEMA "{schema}"')
    yield f"{PG_ADMIN_URL}?search_path={schema}"
    await _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_servers(
    tmp_path: Path, pg_url: str, redis_server: RedisServer
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "SMARTLIB_DATABASE_URL": pg_url,
        "SMARTLIB_REDIS_URL": redis_server.url,
        "SMARTLIB_REDIS_CHANNEL": f"smartlib-test-{uuid.uuid4().hex[:8]}",
        "SMARTLIB_SECRET_KEY": "shared-by-both-processes-" + "x" * 30,
    }
    a = start_server(["demo"], tmp_path / "a" / "data", env, timeout=240)
    b = start_server(["serve"], tmp_path / "b" / "data", env)
    yield a, b
    stop_server(a)
    stop_server(b)


def _post(url: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _login(server: ServerProcess, role: str) -> str:
    return _post(
        server.url + "/api/v1/auth/login",
        {"email": f"{role}@demo.smartlib", "password": "smartlib-demo"},
    )["token"]


def _make_tour(server: ServerProcess) -> dict:
    librarian = _login(server, "librarian")
    return _post(
        server.url + "/api/v1/tours",
        {
            "title": {"vi": "Di sản", "en": "Heritage"},
            "stops": [{"exhibit_id": 1}, {"exhibit_id": 2}],
        },
        librarian,
    )


class Tablet:
    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.stops: list[dict] = []
        self.presence: list[dict] = []
        self.sio.on("tour:stop", self.stops.append, namespace="/visit")
        self.sio.on("presence", self.presence.append, namespace="/visit")

    async def connect(self, server: ServerProcess, **auth) -> Tablet:
        await self.sio.connect(
            server.url, namespaces=["/visit"], auth=auth, transports=["websocket"], wait_timeout=10
        )
        return self

    async def call(self, event: str, data: dict) -> dict:
        return await self.sio.call(event, data, namespace="/visit", timeout=10)


async def test_docent_on_one_process_moves_tablets_on_another(two_servers):
    a, b = two_servers
    tour = _make_tour(a)
    docent = await Tablet().connect(a, token=_login(a, "docent"))
    tablets = [
        await Tablet().connect(b, lang=lang, visitor_id=f"visitor-scale-{i:03d}")
        for i, lang in enumerate(["vi", "en", "vi"])
    ]
    try:
        for tablet in tablets:
            assert (await tablet.call("tour:join", {"code": tour["code"]}))["ok"]
        assert (await docent.call("tour:goto", {"tour_id": tour["id"], "index": 1}))["ok"]
        await async_wait_until(
            lambda: all(t.stops for t in tablets),
            within=5,
            what="tour:stop on every tablet of the other process",
        )
        titles = [t.stops[-1]["manifest"]["exhibit"]["title"] for t in tablets]
        assert titles == [
            "Bia Tiến sĩ Văn Miếu",
            "Doctors' stele of the Temple of Literature",
            "Bia Tiến sĩ Văn Miếu",
        ]
    finally:
        await asyncio.gather(docent.sio.disconnect(), *(t.sio.disconnect() for t in tablets))


async def test_presence_adds_up_across_processes(two_servers):
    a, b = two_servers
    curator = await Tablet().connect(a, token=_login(a, "librarian"))
    on_a = await Tablet().connect(a, visitor_id="visitor-presence-a")
    on_b = [await Tablet().connect(b, visitor_id=f"visitor-presence-b{i}") for i in range(2)]
    drum = {"dictionary": "aruco_4x4_50", "marker_id": 7}
    try:
        for tablet in (on_a, *on_b):
            assert (await tablet.call("scan", drum))["ok"]
        await async_wait_until(
            lambda: curator.presence and curator.presence[-1] == {"exhibit_id": 1, "visitors": 3},
            within=5,
            what="presence 3 summed over both processes",
        )
        await on_b[0].sio.disconnect()
        await async_wait_until(
            lambda: curator.presence[-1]["visitors"] == 2,
            within=5,
            what="presence after a disconnect on the other process",
        )
    finally:
        await asyncio.gather(
            curator.sio.disconnect(), on_a.sio.disconnect(), on_b[1].sio.disconnect()
        )


async def test_losing_redis_keeps_local_delivery_and_heals_when_it_returns(
    two_servers, redis_server
):
    a, b = two_servers
    tour = _make_tour(a)
    docent = await Tablet().connect(a, token=_login(a, "docent"))
    local = await Tablet().connect(a, visitor_id="visitor-local-0001")
    remote = await Tablet().connect(b, visitor_id="visitor-remote-001")
    try:
        for tablet in (local, remote):
            await tablet.call("tour:join", {"tour_id": tour["id"]})
        redis_server.stop()
        assert (await docent.call("tour:goto", {"tour_id": tour["id"], "index": 1}))["ok"]
        await async_wait_until(
            lambda: local.stops, within=5, what="local delivery while Redis is down"
        )
        assert not remote.stops  # nothing can carry it across without Redis
        redis_server.start()
        back = time.monotonic()
        index = 0

        async def remote_heard() -> bool:
            nonlocal index
            if remote.stops:
                return True
            index = 1 - index
            await docent.call("tour:goto", {"tour_id": tour["id"], "index": index})
            return False

        await async_wait_until(
            remote_heard, within=8, interval=0.3, what="cross-process delivery after Redis returned"
        )
        assert time.monotonic() - back < 5.0
    finally:
        await asyncio.gather(
            docent.sio.disconnect(), local.sio.disconnect(), remote.sio.disconnect()
        )
