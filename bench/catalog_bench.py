"""Reading a library export: records per second and memory while streaming 50,000 records.

A library's MARC export is read record by record (experience/marc.py), so memory must not grow
with the file. This measures the reading and extraction only (no database):

- records/s for ISO 2709 (UTF-8) and MARCXML, each against a peer doing less work:
  pymarc's own reader (parses, extracts nothing) and yaz-marcdump (C, converts ISO 2709 to
  MARCXML) — `ratio=` is ours divided by the peer's rate;
- peak resident memory of a process reading the first tenth of the file and one reading the
  whole file: streamed reading keeps the two close.

Run: python bench/catalog_bench.py [--records 50000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--peak-rss", nargs=2, metavar=("FILE", "RECORDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_rss:
        read_and_report_peak_rss(Path(args.peak_rss[0]), int(args.peak_rss[1]))
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
        xml_rate = timed("read_catalog MARCXML", count, lambda: ours(xml))
        peer_rate = timed("pymarc.MARCReader (no extraction)", count, lambda: pymarc_reader(iso))
        print(f"ratio={iso_rate / peer_rate:.2f} read_catalog ISO 2709 vs pymarc.MARCReader")
        if shutil.which("yaz-marcdump"):
            yaz_rate = timed("yaz-marcdump ISO 2709 -> MARCXML", count, lambda: yaz_marcdump(iso))
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


if __name__ == "__main__":
    main()
