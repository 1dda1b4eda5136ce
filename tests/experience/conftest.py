"""A real Zebra SRU server holding a catalog the tests generate.

The database is built the way a library would build one: MARC records (UTF-8 and MARC-8 ISO
2709) normalised to MARCXML collections with yaz-marcdump, indexed by zebraidx with the
configuration shipped in experience/zebra/, served by zebrasrv on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from lxml import etree

from experience.zebra import CONFIG_DIR, CONFIG_FILES
from tests.experience.marc_factory import Book, catalog_books, write_iso2709

TOOLS = ("zebraidx", "zebrasrv", "yaz-marcdump")


def require_tools(*names: str) -> None:
    """Skip when a Debian tool is missing on a developer's machine; in CI it must be there."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        message = f"needs {', '.join(missing)} (Debian packages idzebra-2.0 and yaz)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def yaz_marcdump() -> str:
    require_tools("yaz-marcdump")
    return "yaz-marcdump"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, *, timeout: float, what: str, interval: float = 0.02):
    """Poll `condition` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class ZebraServer:
    """A running zebrasrv; `base_url` + `database` is what an `SruSource` needs."""

    base_url: str
    database: str
    workdir: Path
    books: list[Book]
    process: subprocess.Popen[bytes]

    def count(self, cql: str) -> int:
        """numberOfRecords for `cql`, asked over plain HTTP (independent of the client tested)."""
        query = urlencode(
            {
                "version": "1.2",
                "operation": "searchRetrieve",
                "query": cql,
                "maximumRecords": "0",
            }
        )
        with urllib.request.urlopen(f"{self.base_url}/{self.database}?{query}", timeout=5) as r:
            root = etree.fromstring(r.read())
        total = root.findtext("{http://www.loc.gov/zing/srw/}numberOfRecords")
        assert total is not None, etree.tostring(root)
        return int(total)

    def index(self, path: Path) -> None:
        """Add or replace the records of a MARCXML collection; the server sees them at once.

        The register is shadowed (zebra.cfg), so updating it while zebrasrv runs is safe and
        the change becomes visible on commit.
        """
        zebraidx(self.workdir, "update", str(path))
        zebraidx(self.workdir, "commit")


def zebraidx(workdir: Path, *command: str) -> None:
    done = subprocess.run(
        ["zebraidx", "-c", "zebra.cfg", *command], cwd=workdir, capture_output=True
    )
    if done.returncode != 0:
        log = done.stderr.decode(errors="replace")[-2000:]
        raise AssertionError(f"zebraidx {' '.join(command)} failed:\n{log}")


def to_marcxml_collection(iso: Path, out: Path, *, marc8: bool) -> Path:
    """Normalise an ISO 2709 file to a UTF-8 MARCXML <collection>, as Zebra's DOM filter wants."""
    convert = ["-f", "marc8", "-t", "utf-8", "-l", "9=97"] if marc8 else []
    with out.open("wb") as target:
        subprocess.run(
            ["yaz-marcdump", "-i", "marc", "-o", "marcxml", *convert, str(iso)],
            stdout=target,
            check=True,
        )
    return out


@pytest.fixture(scope="session")
def zebra_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZebraServer]:
    require_tools(*TOOLS)
    workdir = tmp_path_factory.mktemp("zebra")
    for name in CONFIG_FILES:
        shutil.copy(CONFIG_DIR / name, workdir)
    for directory in ("register", "shadow", "lock", "tmp", "records"):
        (workdir / directory).mkdir()

    books = catalog_books()
    utf8 = [b for b in books if not b.marc8]
    marc8 = [b for b in books if b.marc8]
    sources = workdir / "sources"
    sources.mkdir()
    to_marcxml_collection(
        write_iso2709(sources / "utf8.mrc", utf8), workdir / "records" / "utf8.xml", marc8=False
    )
    to_marcxml_collection(
        write_iso2709(sources / "marc8.mrc", marc8, marc8=True),
        workdir / "records" / "marc8.xml",
        marc8=True,
    )
    zebraidx(workdir, "init")
    zebraidx(workdir, "update", "records")
    zebraidx(workdir, "commit")

    port = free_port()
    log = (workdir / "zebrasrv.log").open("wb")
    process = subprocess.Popen(
        ["zebrasrv", "-T", "-f", "yazgfs.xml", f"tcp:127.0.0.1:{port}"],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = ZebraServer(f"http://127.0.0.1:{port}", "Default", workdir, books, process)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"zebrasrv exited with {process.returncode}: "
                + (workdir / "zebrasrv.log").read_text(errors="replace")[-2000:]
            )
        try:
            server.count("cql.allRecords=1")
        except (urllib.error.URLError, ConnectionError):
            return False
        return True

    try:
        wait_for(answers, timeout=10, what="zebrasrv's first SRU answer")
        # a stylesheet missing from profilePath makes zebraidx skip every record silently
        indexed = server.count("cql.allRecords=1")
        assert indexed == len(books), f"Zebra indexed {indexed} of {len(books)} records"
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
