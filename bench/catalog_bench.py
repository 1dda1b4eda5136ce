"""Reading and importing a library export: 50,000 records, speed, memory and search latency.

A library's MARC export is read record by record (experience/marc.py), so memory must not grow
with the file. The first part measures the reading and extraction only (no database):

- records/s for ISO 2709 (UTF-8) and MARCXML, each against a peer doing less work:
  pymarc's own reader (parses, extracts nothing) and yaz-marcdump (C, converts ISO 2709 to
  MARCXML) — `ratio=` is ours divided by the peer's rate;
- peak resident memory of a process reading the first tenth of the file and one reading the
  whole file: streamed reading keeps the two close.

The second part imports the ISO 2709 file into SQLite and PostgreSQL (experience/
catalog_import.py, batches of 500) in a fresh process per database and reports:

- records/s of the import, and `ratio=` against reading alone (what the database costs);
- resident memory after the first tenth of the import and at its end (flat when streamed);
- latency of local searches (experience/catalog_search.py) over the imported set: p50 and
  p99 of 300 queries of one to three words, and of ISBN look-ups.

Run: python bench/catalog_bench.py [--records 50000] [--databases sqlite,postgresql]
PostgreSQL is the one in SMARTLIB_BENCH_PG (default: the test database on 127.0.0.1), used in
a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "experience")]

import pymarc  # noqa: E402
from marc_factory import bulk_records  # noqa: E402

from experience.marc import BadRecord, read_catalog, record_to_marcxml  # noqa: E402


def write_files(directory: Path, count: int) -> tuple[Path, Path]:
    """The same records as ISO 2709 and MARCXML, written one at a time."""
    iso = directory / "bulk.mrc"
    xml = directory / "bulk.xml"
    with iso.open("wb") as iso_out, xml.open("w", encoding="utf-8") as xml_out:
        xml_out.write('<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for rec in bulk_records(count):
            iso_out.write(rec.as_marc())
            xml_out.write(record_to_marcxml(rec) + "\n")
        xml_out.write("</collection>\n")
    return iso, xml


def timed(label: str, count: int, run) -> float:
    started = time.perf_counter()
    read = run()
    seconds = time.perf_counter() - started
    assert read == count, f"{label}: read {read} of {count} records"
    rate = count / seconds
    print(f"{label}: {count} records in {seconds:.2f} s = {rate:,.0f} records/s")
    return rate


def ours(path: Path) -> int:
    bad = 0
    total = 0
    for item in read_catalog(path):
        total += 1
        bad += isinstance(item, BadRecord)
    assert bad == 0, f"{bad} records could not be read"
    return total


def pymarc_reader(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for rec in pymarc.MARCReader(stream, to_unicode=True) if rec is not None)


def yaz_marcdump(path: Path) -> int:
    done = subprocess.run(
        ["yaz-marcdump", "-i", "marc", "-o", "marcxml", str(path)],
        stdout=subprocess.PIPE,
        check=True,
    )
    return done.stdout.count(b"<record")


def peak_rss(path: Path, records: int) -> float:
    """Peak resident memory (MB) of a fresh process that reads the first `records` records.

    A separate process, so that neither the generated files nor earlier runs count; resident
    memory rather than tracemalloc, so that lxml's C allocations count too.
    """
    done = subprocess.run(
        [sys.executable, __file__, "--peak-rss", str(path), str(records)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def read_and_report_peak_rss(path: Path, records: int) -> None:
    for _ in islice(read_catalog(path), records):
        pass
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent process
    status = Path("/proc/self/status").read_text()
    high_water_kb = next(
        line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")
    )
    print(int(high_water_kb) / 1024)


def _rss_mb(field: str = "VmRSS") -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field))) / 1024


PG_URL = os.environ.get("SMARTLIB_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _search_queries(rng: random.Random, count: int) -> list[str]:
    from marc_factory import _WORDS

    return [" ".join(rng.sample(_WORDS, rng.randint(1, 3))) for _ in range(count)]


async def _import_and_search(
    url: str, path: Path, size: int, records: int, revision: str
) -> dict[str, float]:
    """Runs in a fresh process: import `path` into `url`, then time searches over it."""
    from marc_factory import isbn13

    from core.database import create_engine, session_factory, upgrade_database_async
    from core.events import EventBus
    from experience.catalog_import import import_catalog
    from experience.catalog_search import search_records

    await upgrade_database_async(url, revision)
    engine = create_engine(url)
    sessions = session_factory(engine)
    rss: list[tuple[float, float]] = []
    started = time.perf_counter()
    summary = await import_catalog(
        sessions, EventBus(), path, progress=lambda done, _size: rss.append((done, _rss_mb()))
    )
    seconds = time.perf_counter() - started
    assert summary.inserted == records, summary.line()
    # the first sample at or past a tenth of the file (a batch covers ~1 % of 50,000 records)
    tenth = next(mb for done, mb in rss if done >= size / 10)

    rng = random.Random(11)
    timings: dict[str, list[float]] = {"words": [], "isbn": []}
    for kind, queries in (
        ("words", _search_queries(rng, 300)),
        ("isbn", [isbn13(rng.randrange(1, records, 2)) for _ in range(100)]),
    ):
        for q in queries:
            t0 = time.perf_counter()
            async with sessions() as session:
                await search_records(session, q, limit=20)
            timings[kind].append((time.perf_counter() - t0) * 1000)
    await engine.dispose()

    def pct(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    return {
        "seconds": seconds,
        "rate": records / seconds,
        "rss_tenth_mb": tenth,
        "rss_end_mb": rss[-1][1] if rss else 0.0,
        "peak_mb": _rss_mb("VmHWM"),
        "words_p50_ms": pct(timings["words"], 50),
        "words_p99_ms": pct(timings["words"], 99),
        "isbn_p50_ms": pct(timings["isbn"], 50),
        "isbn_p99_ms": pct(timings["isbn"], 99),
    }


def import_bench(database: str, path: Path, records: int, read_rate: float, revision: str) -> None:
    scratch = Path(tempfile.mkdtemp())
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    if database == "sqlite":
        url = f"sqlite+aiosqlite:///{scratch}/bench.db"
    else:
        asyncio.run(_pg(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?search_path={schema}"
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--import-child", url, str(path), str(records), revision],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"import into {database} failed:\n{done.stderr[-3000:]}")
        got = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if database != "sqlite":
            asyncio.run(_pg(f'DROP SCHEMA "{schema}" CASCADE'))
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"import into {database}: {records} records in {got['seconds']:.1f} s = "
        f"{got['rate']:,.0f} records/s"
    )
    print(f"ratio={got['rate'] / read_rate:.2f} import into {database} vs reading alone")
    print(
        f"resident memory importing into {database}: {got['rss_tenth_mb']:.1f} MB after the "
        f"first tenth, {got['rss_end_mb']:.1f} MB at the end (peak {got['peak_mb']:.1f} MB)"
    )
    print(f"ratio={got['rss_end_mb'] / got['rss_tenth_mb']:.2f} memory {database} end vs tenth")
    print(
        f"local search on {database} over {records} records: words p50 "
        f"{got['words_p50_ms']:.1f} ms, p99 {got['words_p99_ms']:.1f} ms; ISBN p50 "
        f"{got['isbn_p50_ms']:.1f} ms, p99 {got['isbn_p99_ms']:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--peak-rss", nargs=2, metavar=("FILE", "RECORDS"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--revision", default="heads", help="migrate the bench databases to this revision"
    )
    parser.add_argument(
        "--import-only", action="store_true", help="skip the reading peers and memory runs"
    )
    parser.add_argument("--import-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_rss:
        read_and_report_peak_rss(Path(args.peak_rss[0]), int(args.peak_rss[1]))
        return
    if args.import_child:
        url, path, records, revision = args.import_child
        size = Path(path).stat().st_size
        print(
            json.dumps(
                asyncio.run(_import_and_search(url, Path(path), size, int(records), revision))
            )
        )
        return
    count = args.records

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        iso, xml = write_files(Path(tmp), count)
        print(
            f"generated {count} records in {time.perf_counter() - started:.1f} s: "
            f"ISO 2709 {iso.stat().st_size / 1e6:.1f} MB, MARCXML {xml.stat().st_size / 1e6:.1f} MB"
        )

        iso_rate = timed("read_catalog ISO 2709", count, lambda: ours(iso))
        if not args.import_only:
            xml_rate = timed("read_catalog MARCXML", count, lambda: ours(xml))
            peer_rate = timed(
                "pymarc.MARCReader (no extraction)", count, lambda: pymarc_reader(iso)
            )
            print(f"ratio={iso_rate / peer_rate:.2f} read_catalog ISO 2709 vs pymarc.MARCReader")
            if shutil.which("yaz-marcdump"):
                yaz_rate = timed(
                    "yaz-marcdump ISO 2709 -> MARCXML", count, lambda: yaz_marcdump(iso)
                )
                print(f"ratio={iso_rate / yaz_rate:.2f} read_catalog ISO 2709 vs yaz-marcdump")
            print(f"ratio={xml_rate / iso_rate:.2f} read_catalog MARCXML vs ISO 2709")

            for path, label in ((iso, "ISO 2709"), (xml, "MARCXML")):
                baseline = peak_rss(path, 0)
                part = peak_rss(path, count // 10)
                whole = peak_rss(path, count)
                print(
                    f"peak RSS {label}: {baseline:.1f} MB before reading, {part:.1f} MB after "
                    f"{count // 10} records, {whole:.1f} MB after {count} records"
                )
                print(f"ratio={whole / part:.2f} peak memory {label} whole file vs first tenth")

        for database in filter(None, args.databases.split(",")):
            import_bench(database.strip(), iso, count, iso_rate, args.revision)


if __name__ == "__main__":
    main()
