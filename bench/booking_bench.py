"""Booking under load: reservation attempts per second, p99 latency, and double bookings.

For each database (SQLite file, PostgreSQL schema) the real application serves in a process of
its own, and 50 concurrent clients in this process keep asking for random slots on a handful of
mixed resources (printers, a laser, a sewing machine, a room) over the next week, so that both
successes (201) and conflicts (409) are common. Afterwards every pair of active reservations is
checked for overlap straight in the database: the double-booking count must be 0.

Run: python bench/booking_bench.py [--seconds 20] [--clients 50] [--pg URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.accounts import hash_password, issue_token  # noqa: E402
from core.database import (  # noqa: E402
    create_engine,
    session_factory,
    unit_of_work,
    upgrade_database_async,
)
from core.models import Role, TokenKind, User  # noqa: E402

ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
RESOURCES = [
    {"type": "printer", "name": "Prusa MK4 #1", "buffer_minutes": 15},
    {"type": "printer", "name": "Prusa MK4 #2", "buffer_minutes": 15},
    {"type": "printer", "name": "Bambu X1", "buffer_minutes": 0},
    {"type": "laser", "name": "Laser cutter", "buffer_minutes": 30},
    {"type": "sewing", "name": "Bernina 335", "buffer_minutes": 0},
    {"type": "room", "name": "Study room", "buffer_minutes": 0, "timezone": "Europe/Berlin"},
]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(database_url: str, data_dir: str, port: int, ready: multiprocessing.Event) -> None:
    """The server process: the application with the booking routes, until terminated."""
    from aiohttp import web

    from core.settings import load_settings
    from web.app import create_app
    from web.routes import booking

    async def main() -> None:
        # Bookings only: the in-process worker (print farm, uploads) would share the CPU.
        settings = load_settings(
            env={},
            data_dir=Path(data_dir),
            database_url=database_url,
            migrate_on_start=False,
            worker="external",
        )
        app = create_app(settings)
        if not any(r.canonical == "/api/v1/reservations" for r in app.router.resources()):
            app.router.add_routes(booking.routes)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def _people(url: str, members: int) -> tuple[str, list[str]]:
    """A librarian and members with bearer tokens, written directly (argon2 once, not 51 times)."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    password = hash_password("bench-password")
    tokens: list[str] = []
    async with unit_of_work(sessions) as session:
        for index in range(members + 1):
            role = Role.librarian if index == 0 else Role.member
            user = User(
                email=f"bench{index}@x.org", role_name=role.name, password_hash=password, name=""
            )
            session.add(user)
            await session.flush()
            tokens.append(await issue_token(session, user, TokenKind.bearer, timedelta(hours=2)))
    await engine.dispose()
    return tokens[0], tokens[1:]


async def _double_bookings(url: str) -> int:
    """Pairs of active reservations of one resource whose occupied times overlap."""
    engine = create_engine(url)
    async with engine.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM reservations a JOIN reservations b "
                "ON a.resource_id = b.resource_id AND a.id < b.id "
                "AND a.starts_at < b.blocked_until AND b.starts_at < a.blocked_until "
                "WHERE a.state IN ('requested', 'confirmed') "
                "AND b.state IN ('requested', 'confirmed')"
            )
        )
    await engine.dispose()
    return int(count or 0)


async def _load(base: str, librarian: str, members: list[str], seconds: float, clients: int):
    async with aiohttp.ClientSession(base_url=base) as http:
        ids = []
        for spec in RESOURCES:
            body = {"opening_hours": ALL_DAY, "max_minutes": 240, "max_days_ahead": 30, **spec}
            async with http.post(
                "/api/v1/resources", json=body, headers={"Authorization": f"Bearer {librarian}"}
            ) as resp:
                assert resp.status == 201, await resp.text()
                ids.append((await resp.json())["id"])

        origin = (datetime.now(UTC) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        deadline = time.perf_counter() + seconds

        async def client(index: int) -> None:
            rng = random.Random(index)
            headers = {"Authorization": f"Bearer {members[index % len(members)]}"}
            while time.perf_counter() < deadline:
                start = origin + timedelta(minutes=30 * rng.randrange(7 * 48))
                body = {
                    "resource_id": rng.choice(ids),
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=30 * rng.randint(1, 8))).isoformat(),
                }
                began = time.perf_counter()
                async with http.post("/api/v1/reservations", json=body, headers=headers) as resp:
                    await resp.read()
                    latencies.append(time.perf_counter() - began)
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


async def _prepare(url: str, members: int) -> tuple[str, list[str]]:
    await upgrade_database_async(url)
    return await _people(url, members)


def run(name: str, url: str, seconds: float, clients: int) -> dict[str, float]:
    librarian, members = asyncio.run(_prepare(url, clients))
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    with tempfile.TemporaryDirectory() as data_dir:
        server = ctx.Process(target=_serve, args=(url, data_dir, port, ready), daemon=True)
        server.start()
        try:
            if not ready.wait(60):
                raise SystemExit(f"{name}: the server did not start")
            latencies, statuses, elapsed = asyncio.run(
                _load(f"http://127.0.0.1:{port}", librarian, members, seconds, clients)
            )
        finally:
            server.terminate()
            server.join(10)
    overlaps = asyncio.run(_double_bookings(url))
    attempts = len(latencies)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    figures = {
        "attempts_per_s": attempts / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": p99 * 1000,
        "double_bookings": overlaps,
    }
    print(
        f"{name}: {attempts} attempts in {elapsed:.1f} s with {clients} clients = "
        f"{figures['attempts_per_s']:.0f} attempts/s; p50 {figures['p50_ms']:.1f} ms, "
        f"p99 {figures['p99_ms']:.1f} ms; statuses {dict(sorted(statuses.items()))}; "
        f"double bookings {overlaps}"
    )
    return figures


async def _pg_schema(admin_url: str, sql: str) -> None:
    import asyncpg

    dsn = admin_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (a schema is made in it)")
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        results["sqlite"] = run("sqlite", sqlite_url, args.seconds, args.clients)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_schema(args.pg, f'CREATE SCHEMA "{schema}"'))
    try:
        pg_url = make_url(args.pg).update_query_dict({"search_path": schema})
        results["postgresql"] = run(
            "postgresql", pg_url.render_as_string(hide_password=False), args.seconds, args.clients
        )
    finally:
        asyncio.run(_pg_schema(args.pg, f'DROP SCHEMA "{schema}" CASCADE'))
    ratio = results["postgresql"]["attempts_per_s"] / results["sqlite"]["attempts_per_s"]
    print(f"ratio={ratio:.2f} (PostgreSQL attempts/s over SQLite attempts/s)")
    total = sum(int(r["double_bookings"]) for r in results.values())
    print(f"double_bookings={total}")
    if total:
        raise SystemExit("double bookings found")


if __name__ == "__main__":
    main()
