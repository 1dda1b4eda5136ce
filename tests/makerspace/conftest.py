"""Real OctoPrint servers with their virtual printer, started per test session or per test.

`octoprint_server()` is a factory: each call starts one more server in a fresh base directory
on a free port (several run side by side), and every server a test started is stopped when the
test ends. `shared_octoprint` is one server kept for the whole session for tests that leave its
printer idle again; `idle_octoprint` hands it out and makes sure of that afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from makerspace import octoprint_env
from makerspace.octoprint_env import VirtualOctoPrint

ServerFactory = Callable[..., Awaitable[VirtualOctoPrint]]

# Start-up times of every server the tests started, for the report at the end of the run.
START_TIMES: list[float] = []
FIGURES = pytest.StashKey[dict[str, str]]()


@pytest.fixture(scope="session")
def octoprint_executable() -> Path:
    """Installs OctoPrint into its own venv on first use (a fresh clone has none)."""
    return octoprint_env.ensure()


async def _start(
    executable: Path, basedir: Path, port: int | None = None, **virtual_printer: object
) -> VirtualOctoPrint:
    server = VirtualOctoPrint(
        basedir, port=port, executable=executable, virtual_printer=virtual_printer
    )
    started = time.monotonic()
    await server.start()
    START_TIMES.append(time.monotonic() - started)
    return server


@pytest.fixture(scope="session")
async def shared_octoprint(
    octoprint_executable: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[VirtualOctoPrint]:
    server = await _start(octoprint_executable, tmp_path_factory.mktemp("octoprint-shared"))
    yield server
    await server.stop()


@pytest.fixture
async def idle_octoprint(shared_octoprint: VirtualOctoPrint) -> AsyncIterator[VirtualOctoPrint]:
    """The shared server, connected to its printer, and left idle for the next test."""
    async with octoprint_api(shared_octoprint) as api:
        await connect_printer(api, shared_octoprint)
    yield shared_octoprint
    async with octoprint_api(shared_octoprint) as api:
        async with api.post(f"{shared_octoprint.url}/api/job", json={"command": "cancel"}):
            pass  # 409 when already idle
        await wait_until(lambda: job_state(api, shared_octoprint), {"Operational"}, 20)


@pytest.fixture
async def octoprint_server(
    octoprint_executable: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServerFactory]:
    """Factory for extra servers: `await octoprint_server(**virtual_printer_settings)`."""
    servers: list[VirtualOctoPrint] = []

    async def start(**virtual_printer: object) -> VirtualOctoPrint:
        server = await _start(
            octoprint_executable, tmp_path_factory.mktemp("octoprint"), **virtual_printer
        )
        servers.append(server)
        return server

    yield start
    await asyncio.gather(*(server.stop() for server in servers))


@pytest.fixture(scope="session")
def fast_gcode() -> Callable[..., bytes]:
    """G-code the virtual printer runs in about `seconds` (it sleeps 0.1 × each move's time).

    10 mm moves at 100 mm/s take 10 ms each on the virtual printer; no heat-up waits.
    """

    def make(seconds: float, *, tag: str = "") -> bytes:
        lines = [f"; test print {tag}", "G28", "G90", "G1 Z0.2 F6000"]
        for i in range(max(2, int(seconds * 100))):
            x = 10 if i % 2 else 20
            lines.append(f"G1 X{x} Y10 F6000")
        lines.append("M84")
        return ("\n".join(lines) + "\n").encode()

    return make


def octoprint_api(server: VirtualOctoPrint) -> aiohttp.ClientSession:
    """A raw HTTP session with the server's key, to set up and check things behind the driver."""
    return aiohttp.ClientSession(headers={"X-Api-Key": server.api_key})


async def connect_printer(api: aiohttp.ClientSession, server: VirtualOctoPrint) -> None:
    async with api.post(
        f"{server.url}/api/connection", json={"command": "connect", "port": "VIRTUAL"}
    ) as resp:
        assert resp.status == 204, await resp.text()
    await wait_until(lambda: job_state(api, server), {"Operational"}, 20)


async def job_state(api: aiohttp.ClientSession, server: VirtualOctoPrint) -> str:
    async with api.get(f"{server.url}/api/job") as resp:
        return (await resp.json())["state"]


async def wait_until(
    read: Callable[[], Awaitable[object]], wanted: set[object], timeout_s: float
) -> object:
    """Poll `read()` until it returns one of `wanted`; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    value = None
    while time.monotonic() < deadline:
        value = await read()
        if value in wanted:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"still {value!r} after {timeout_s} s, wanted one of {wanted}")


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> dict[str, str]:
    """Measurements tests want shown in the run's summary (name → text)."""
    return request.config.stash.setdefault(FIGURES, {})


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    measured = dict(terminalreporter.config.stash.get(FIGURES, {}))
    if START_TIMES:
        measured["octoprint fixture start"] = (
            f"n={len(START_TIMES)} min={min(START_TIMES):.2f}s max={max(START_TIMES):.2f}s"
        )
    for name, text in measured.items():
        terminalreporter.write_line(f"makerspace figure: {name}: {text}")
