"""Fixtures shared by every test package: databases, settings, apps and server processes.

Every test that touches the database runs twice, on SQLite and on the PostgreSQL on
127.0.0.1:5432 (database `test`), each PostgreSQL run in a schema of its own so that parallel
runs never see each other's tables.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.database import create_engine, session_factory, upgrade_database_async
from core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "SMARTLIB_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


async def async_wait_until(
    predicate, within: float = 20.0, interval: float = 0.02, what: str = "condition"
):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {within}s waiting for {what}")


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = PG_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database: SQLite in a temporary file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/smartlib.db"
        await upgrade_database_async(url)
        yield url
        return
    if not _pg_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
        pytest.skip("PostgreSQL is not reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_ADMIN_URL}?search_path={schema}"
    try:
        await upgrade_database_async(url)
        yield url
    finally:
        await _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        env={}, data_dir=tmp_path / "data", database_url=db_url, migrate_on_start=False
    )


@pytest.fixture
async def sessions(settings: Settings):
    engine = create_engine(settings.database_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    """The real application in this process, on a real loopback socket."""
    from web.app import create_app

    server = TestServer(create_app(settings), host="127.0.0.1", port=free_port())
    async with TestClient(server) as test_client:
        yield test_client


class ServerProcess:
    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, data_dir: Path, log_path: Path
    ) -> None:
        self.proc, self.port, self.data_dir, self.log_path = proc, port, data_dir, log_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    command: list[str], data_dir: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> ServerProcess:
    """Start `smartlib ...` as a real process and wait until /healthz answers."""
    import urllib.request

    port = free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "SMARTLIB_DATA_DIR": str(data_dir), **(env or {})}
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "web.cli", *command, "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    wait_until(healthy, timeout=timeout, interval=0.1, what="the server's /healthz")
    return ServerProcess(proc, port, data_dir, log_path)


def stop_server(server: ServerProcess) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`smartlib demo` as a real process on the embedded SQLite database."""
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    server = start_server(["demo"], data_dir, timeout=240)  # seeding runs the 3D pipeline
    yield server
    stop_server(server)


@pytest.fixture
def blobs(settings: Settings):
    from assets.store import BlobStore

    return BlobStore(settings.blob_dir)


@pytest.fixture
async def make_exhibit(sessions, blobs):
    """Factory: a published exhibit whose scene is a real GLB in the blob store."""
    from assets import heritage
    from core.database import unit_of_work
    from core.events import EventBus
    from experience.curation import create_exhibit
    from experience.models import Asset
    from experience.schemas import ExhibitIn, Marker

    glb_cache: dict[str, object] = {}

    async def make(
        slug: str = "drum",
        marker_id: int = 7,
        *,
        title=None,
        narration=None,
        published: bool = True,
        dictionary: str = "aruco_4x4_50",
        lods=None,
    ):
        if "ref" not in glb_cache:
            mesh = heritage.dong_son_drum(segments=48, rings=16)
            glb_cache["ref"] = blobs.put_bytes(heritage.export_glb(mesh), "glb")
            glb_cache["triangles"] = len(mesh.faces)
        ref = glb_cache["ref"]
        lods = lods or [
            {
                "level": 0,
                "triangles": glb_cache["triangles"],
                "bytes": ref.size,
                "sha256": ref.sha256,
                "ext": "glb",
                "max_error": 0.0,
            }
        ]
        async with unit_of_work(sessions) as session:
            asset = Asset(
                title=slug,
                filename=f"{slug}.glb",
                source_sha256=ref.sha256,
                source_ext="glb",
                status="ready",
                stage="done",
                stats={"bounds_m": [[-0.4, 0, -0.4], [0.4, 0.63, 0.4]]},
                lods=lods,
            )
            session.add(asset)
            await session.flush()
            return await create_exhibit(
                session,
                EventBus(),
                ExhibitIn(
                    slug=slug,
                    title=title or {"vi": "Trống đồng", "en": "Bronze drum"},
                    narration=narration or {"vi": "Lời thuyết minh", "en": "Narration"},
                    marker=Marker(dictionary=dictionary, id=marker_id),
                    asset_id=asset.id,
                    published=published,
                ),
            )

    return make


@pytest.fixture
async def make_user(sessions):
    """Factory: an account of the given role and a bearer token for it."""
    from datetime import timedelta

    from core.accounts import create_user, issue_token
    from core.database import unit_of_work
    from core.models import Role, TokenKind

    async def make(
        role: str = "member", email: str | None = None, password: str = "password123"
    ) -> tuple[object, str]:
        async with unit_of_work(sessions) as session:
            user = await create_user(
                session, email or f"{role}-{uuid.uuid4().hex[:6]}@x.org", password, Role[role]
            )
            token = await issue_token(session, user, TokenKind.bearer, timedelta(hours=1))
        return user, token

    return make
