"""Print farm under load: ten real OctoPrint virtual printers and a hundred short jobs.

The farm (coordinators, dispatcher, settling, events) runs in this process exactly as the
worker runs it, on the embedded SQLite database; ten OctoPrint servers with their virtual
printer run as processes of their own. All jobs are queued up front; printers need no bed
clearing, so a printer takes its next job as soon as it reports the last one done.

Measured:
- dispatch latency: from the push message saying a printer finished (idle again) to the push
  message saying it started the next job — the whole loop through the database and an upload,
  as a member would see it (target: p95 ≤ 1 s);
- event lag: from OctoPrint's own timestamp on a progress message to the farm publishing the
  `job` event for it (what the Socket.IO edge then relays);
- the farm's CPU time (this process, minus the set-up before the clock starts) and memory.

Run: python bench/printfarm_bench.py [--printers 10] [--jobs 100] [--seconds-per-job 1.0]
     [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from assets.store import BlobStore  # noqa: E402
from core.accounts import create_user  # noqa: E402
from core.database import (  # noqa: E402
    create_engine,
    session_factory,
    unit_of_work,
    upgrade_database_async,
    utcnow,
)
from core.events import EventBus  # noqa: E402
from core.models import Role  # noqa: E402
from core.settings import load_settings  # noqa: E402
from makerspace import jobs, octoprint_env  # noqa: E402
from makerspace.drivers.base import PrinterSnapshot  # noqa: E402
from makerspace.models import PrintJob  # noqa: E402
from makerspace.octoprint_env import VirtualOctoPrint  # noqa: E402
from makerspace.printers import create_printer  # noqa: E402
from makerspace.quotas import Quota  # noqa: E402
from makerspace.schemas import JobOptions, PrinterIn  # noqa: E402
from makerspace.slicing import SliceResult  # noqa: E402
from web.print_farm import JOB_UPDATE, PrintFarm  # noqa: E402


def short_gcode(seconds: float, tag: str) -> bytes:
    # 10 mm moves at 100 mm/s: 10 ms each on the virtual printer, no heating waits.
    lines = [f"; bench job {tag}", "G28", "G90", "G1 Z0.2 F6000"]
    lines += [f"G1 X{10 if i % 2 else 20} Y10 F6000" for i in range(max(2, int(seconds * 100)))]
    return ("\n".join(lines) + "\nM84\n").encode()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main(args: argparse.Namespace) -> int:
    executable = octoprint_env.ensure()
    work = Path(tempfile.mkdtemp(prefix="printfarm-bench-"))
    servers = [
        VirtualOctoPrint(work / f"octoprint-{i}", executable=executable)
        for i in range(args.printers)
    ]
    started = time.monotonic()
    # Started a few at a time: ten at once on two cores take longer than in small batches.
    for batch in range(0, len(servers), 3):
        await asyncio.gather(*(s.start(timeout_s=120) for s in servers[batch : batch + 3]))
    print(f"started {len(servers)} OctoPrint servers in {time.monotonic() - started:.1f} s")

    schema = None
    database_url = ""
    if args.pg:
        import asyncpg

        schema = f"printfarm_bench_{os.getpid()}"
        admin = await asyncpg.connect(args.pg.replace("postgresql+asyncpg://", "postgresql://"))
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        await admin.close()
        database_url = f"{args.pg}?search_path={schema}"
    settings = load_settings(
        env={}, data_dir=work / "data", database_url=database_url, migrate_on_start=False
    )
    await upgrade_database_async(settings.database_url)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    blobs = BlobStore(settings.blob_dir)
    async with unit_of_work(sessions) as session:
        staff = await create_user(session, "bench@library.org", "benchpassword", Role.librarian)
        for server in servers:
            await create_printer(
                session,
                PrinterIn(
                    name=f"P{server.port}",
                    url=server.url,
                    api_key=server.api_key,
                    build_volume_mm=(250, 210, 210),
                    needs_bed_clear=False,
                ),
                settings.secret_key,
            )
        for i in range(args.jobs):
            ref = blobs.put_bytes(short_gcode(args.seconds_per_job, str(i)), "gcode")
            await jobs.submit(
                session,
                staff,
                JobOptions(confirm=True),
                name=f"bench-{i}.gcode",
                quota=Quota(),
                now=utcnow(),
                gcode=SliceResult(blobs.path(ref.sha256, "gcode"), None, None, None),
                gcode_sha256=ref.sha256,
            )

    bus = EventBus()
    events = 0

    async def count(_topic: str, _payload: dict) -> None:
        nonlocal events
        events += 1

    bus.subscribe(JOB_UPDATE, count)

    async def run_inline(fn: Callable[..., Any], *a: Any) -> Any:
        return await asyncio.to_thread(fn, *a)  # no slicing happens in this bench

    farm = PrintFarm(sessions, bus, blobs, settings, run_cpu=run_inline)
    freed: dict[int, float] = {}
    latencies: list[float] = []
    last_job: dict[int, str | None] = {}

    def watch(pid: int) -> Callable[[PrinterSnapshot], Awaitable[None]]:
        async def listener(snapshot: PrinterSnapshot) -> None:
            name = snapshot.job_name if snapshot.state.busy else None
            if snapshot.ready and snapshot.last_finished is not None and pid not in freed:
                freed[pid] = snapshot.received_at
            if name and name != last_job.get(pid):
                last_job[pid] = name
                if pid in freed:
                    latencies.append(snapshot.received_at - freed.pop(pid))

        return listener

    octo_pids = [s._process.pid for s in servers if s._process is not None]
    octo0 = sum(cpu_seconds(pid) for pid in octo_pids)
    cpu0, wall0 = time.process_time(), time.monotonic()
    task = asyncio.create_task(farm.run())
    attached: set[int] = set()
    deadline = time.monotonic() + args.timeout
    done = 0
    while time.monotonic() < deadline:
        for pid, coordinator in farm.coordinators.items():
            if pid not in attached:
                coordinator.add_listener(watch(pid))
                attached.add(pid)
        async with sessions() as session:
            done = await session.scalar(
                select(func.count()).where(PrintJob.state.in_(("done", "failed", "cancelled")))
            )
        if done >= args.jobs:
            break
        await asyncio.sleep(0.25)
    wall = time.monotonic() - wall0
    cpu = time.process_time() - cpu0
    octo_cpu = sum(cpu_seconds(pid) for pid in octo_pids) - octo0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    async with sessions() as session:
        rows = list(await session.scalars(select(PrintJob)))
    states: dict[str, int] = {}
    for row in rows:
        states[row.state] = states.get(row.state, 0) + 1
    attempts = sum(row.attempts for row in rows)
    await engine.dispose()
    await asyncio.gather(*(s.stop() for s in servers))
    if schema is not None:
        admin = await asyncpg.connect(args.pg.replace("postgresql+asyncpg://", "postgresql://"))
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()

    lags = list(farm.lags)
    database = "postgresql" if args.pg else "sqlite"
    print(
        f"database={database} jobs={args.jobs} printers={args.printers} wall_s={wall:.1f} "
        f"states={states}"
    )
    print(f"dispatch_attempts={attempts} (one per job means no job was sent twice)")
    if latencies:
        print(
            f"dispatch_latency_s n={len(latencies)} p50={statistics.median(latencies):.3f} "
            f"p95={pct(latencies, 0.95):.3f} max={max(latencies):.3f}"
        )
        print(f"ratio={pct(latencies, 0.95) / 1.0:.2f} (dispatch p95 over the 1 s target)")
    if lags:
        print(
            f"event_lag_s n={len(lags)} p50={statistics.median(lags):.3f} "
            f"p95={pct(lags, 0.95):.3f} max={max(lags):.3f}"
        )
    for label, values in (
        ("farm_claim_latency_s", list(farm.dispatch_latencies)),
        ("farm_upload_and_start_s", list(farm.upload_times)),
    ):
        if values:
            print(
                f"{label} n={len(values)} p50={statistics.median(values):.3f} "
                f"p95={pct(values, 0.95):.3f} max={max(values):.3f}"
            )
    print(f"job_events={events}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"farm_cpu={100 * cpu / wall:.1f}% of one core over {wall:.1f} s; "
        f"rss_now={rss_mb():.0f} MB peak_rss={peak:.0f} MB"
    )
    print(
        f"octoprint_cpu={100 * octo_cpu / wall:.0f}% of one core for {len(servers)} servers "
        f"on {os.cpu_count()} cores (the printers' own load on this machine)"
    )
    return 0 if states.get("done", 0) == args.jobs else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--printers", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--seconds-per-job", type=float, default=1.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--pg", default="", help="PostgreSQL URL (postgresql+asyncpg://...) instead of SQLite"
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main(parser.parse_args())))
