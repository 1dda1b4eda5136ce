"""Live SRU look-ups against a real zebrasrv (experience/sru.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from core.errors import Invalid, NotFound, Unavailable
from experience.marc import MARC_NS, with_exhibit_links
from experience.sru import SruClient, SruPage, SruSource, search
from tests.experience.conftest import ZebraServer, free_port

SERIES = {f"hue-{n:04d}" for n in range(1, 24)}


@pytest.fixture
def source(zebra_server: ZebraServer) -> SruSource:
    return SruSource("Thư viện thử nghiệm", zebra_server.base_url, zebra_server.database)


@pytest.fixture
async def client() -> AsyncIterator[SruClient]:
    async with SruClient(timeout=5) as sru:
        yield sru


def numbers(page: SruPage) -> set[str | None]:
    return {entry.control_number for entry in page.records}


@pytest.mark.parametrize("query", ['title="Lịch sử Việt Nam"', 'title="lich su viet nam"'])
async def test_title_search_matches_with_or_without_tone_marks(
    client: SruClient, source: SruSource, query: str
) -> None:
    page = await client.search(source, query, maximum=10)

    assert page.total == 1
    (entry,) = page.records
    assert entry.control_number == "vn-0001"
    assert entry.title == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert entry.isbns == ("9780306406157",)
    assert entry.call_number == "959.7 PH-L"


async def test_bare_word_finds_a_marc8_record_and_returns_it_as_unicode(
    client: SruClient, source: SruSource
) -> None:
    page = await client.search(source, "dat nuoc", maximum=10)

    assert numbers(page) == {"vn-0002"}
    entry = page.records[0]
    assert entry.title == "Đất nước đổi mới"
    assert entry.authors == ("Trần, Văn Giàu",)
    assert entry.publisher == "Nhà xuất bản Chính trị quốc gia"


async def test_title_word_search_folds_case_and_diacritics(
    client: SruClient, source: SruSource
) -> None:
    page = await client.search(source, "dc.title=LICH", maximum=10)

    assert numbers(page) == {"vn-0001"}


async def test_author_search_finds_added_and_main_authors(
    client: SruClient, source: SruSource
) -> None:
    added = await client.search(source, 'dc.creator="tran quoc vuong"', maximum=10)
    series = await client.search(source, 'dc.creator="Nguyễn Đắc Xuân"', maximum=0)
    corporate = await client.search(source, 'dc.creator="vien khoa hoc"', maximum=5)

    assert numbers(added) == {"vn-0001"}
    assert series.total == 23
    assert numbers(corporate) == {"vn-0003"}


@pytest.mark.parametrize(
    ("isbn", "found"),
    [
        ("9780306406157", "vn-0001"),  # catalogued as ISBN-10, searched as ISBN-13
        ("0306406152", "vn-0001"),
        ("9783161484100", "vn-0002"),
    ],
)
async def test_isbn_search_finds_the_book_in_either_isbn_form(
    client: SruClient, source: SruSource, isbn: str, found: str
) -> None:
    page = await client.search(source, f"bath.isbn={isbn}", maximum=5)

    assert numbers(page) == {found}


async def test_date_subject_and_anywhere_indexes_answer(
    client: SruClient, source: SruSource
) -> None:
    by_year = await client.search(source, "dc.date=2006", maximum=10)
    by_subject = await client.search(source, 'dc.subject="chinh tri"', maximum=10)
    anywhere = await client.search(source, "cql.anywhere=mekong", maximum=10)

    assert numbers(by_year) == {"vn-0002", "hue-0006"}
    assert numbers(by_subject) == {"vn-0002"}
    assert numbers(anywhere) == {"vn-0003"}


async def test_pages_follow_number_of_records_to_the_end(
    client: SruClient, source: SruSource
) -> None:
    first = await client.search(source, 'dc.subject="di san van hoa"', maximum=10)
    second = await client.search(source, 'dc.subject="di san van hoa"', start=11, maximum=10)
    third = await client.search(source, 'dc.subject="di san van hoa"', start=21, maximum=10)

    assert (first.total, len(first.records), first.next_start) == (23, 10, 11)
    assert (len(second.records), second.next_start) == (10, 21)
    assert (len(third.records), third.next_start) == (3, None)
    assert numbers(first) | numbers(second) | numbers(third) == SERIES


async def test_records_iterates_every_page(client: SruClient, source: SruSource) -> None:
    found = [e.control_number async for e in client.records(source, "huế", page_size=7)]

    assert sorted(found) == sorted(SERIES)


async def test_zero_maximum_counts_without_sending_records(
    client: SruClient, source: SruSource
) -> None:
    page = await client.search(source, "cql.allRecords=1", maximum=0)

    assert page.total == 26
    assert page.records == []
    assert page.next_start is None


async def test_bad_cql_is_refused_naming_the_query(client: SruClient, source: SruSource) -> None:
    with pytest.raises(Invalid) as refused:
        await client.search(source, 'title=("lịch sử"')

    assert refused.value.field == "query"
    assert "not valid CQL" in refused.value.message
    assert '"title=("lịch sử""' in refused.value.message


async def test_unknown_index_is_refused(client: SruClient, source: SruSource) -> None:
    with pytest.raises(Invalid) as refused:
        await client.search(source, "dc.shoesize=42")

    assert refused.value.field == "query"
    assert "cannot search by an index" in refused.value.message


async def test_wrong_database_path_is_reported_as_not_found(
    client: SruClient, zebra_server: ZebraServer
) -> None:
    wrong = SruSource("Thư viện tỉnh", zebra_server.base_url, "biblios")

    with pytest.raises(NotFound) as missing:
        await client.search(wrong, "lich su")

    assert missing.value.field == "database"
    assert "no database 'biblios'" in missing.value.message
    assert "HTTP 404" in missing.value.message


async def test_silent_server_times_out_after_bounded_retries() -> None:
    # A fake on purpose: a real zebrasrv always answers; only a stub can accept and stay silent.
    connections = 0

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()  # hold the connection until the client gives up
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    silent = SruSource("Thư viện im lặng", f"http://127.0.0.1:{port}", "Default")
    try:
        async with SruClient(timeout=0.3, attempts=3, backoff=0.05) as sru:
            started = time.monotonic()
            with pytest.raises(Unavailable) as gave_up:
                await sru.search(silent, "lich su")
            elapsed = time.monotonic() - started
    finally:
        server.close()
        await server.wait_closed()

    assert connections == 3
    assert 0.9 <= elapsed < 3
    assert "did not answer within 0.3 s" in gave_up.value.message
    assert "tried 3 times" in gave_up.value.message


@asynccontextmanager
async def serving(handler) -> AsyncIterator[str]:
    """An HTTP server on a free loopback port answering every GET with `handler`."""
    app = web.Application()
    app.router.add_get("/{path:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def flaky_proxy(zebra_server: ZebraServer) -> AsyncIterator[tuple[str, list[int]]]:
    """A fake on purpose: a proxy in front of the real zebrasrv that fails its first request
    with 503 (as a busy reverse proxy does) and passes the others on; zebrasrv alone never
    answers 503."""
    statuses: list[int] = []

    async def forward(request: web.Request) -> web.Response:
        if not statuses:
            statuses.append(503)
            return web.Response(status=503, text="Service busy")
        async with (
            aiohttp.ClientSession() as session,
            session.get(zebra_server.base_url + request.path_qs) as answer,
        ):
            statuses.append(answer.status)
            return web.Response(status=answer.status, body=await answer.read())

    async with serving(forward) as base_url:
        yield base_url, statuses


async def test_server_error_is_retried_and_the_search_then_succeeds(
    flaky_proxy: tuple[str, list[int]], zebra_server: ZebraServer
) -> None:
    base_url, statuses = flaky_proxy
    behind_proxy = SruSource("Thư viện qua proxy", base_url, zebra_server.database)

    async with SruClient(timeout=5, attempts=3, backoff=0.01) as sru:
        page = await sru.search(behind_proxy, "rec.id=vn-0001", maximum=1)

    assert statuses == [503, 200]
    assert numbers(page) == {"vn-0001"}


async def test_web_page_instead_of_sru_answer_is_unavailable() -> None:
    # A fake on purpose: an ordinary web server where the catalog should be.
    async def home_page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Welcome</body></html>", content_type="text/html")

    async with serving(home_page) as base_url, SruClient(timeout=2) as sru:
        with pytest.raises(Unavailable) as wrong:
            await sru.search(SruSource("Trang chủ", base_url, "x"), "a")

    assert "did not answer as an SRU server" in wrong.value.message


async def test_closed_port_is_unavailable() -> None:
    closed = SruSource("Thư viện đóng cửa", f"http://127.0.0.1:{free_port()}", "Default")

    async with SruClient(timeout=1, attempts=2, backoff=0.01) as sru:
        with pytest.raises(Unavailable) as refused:
            await sru.search(closed, "lich su")

    assert "refused the connection" in refused.value.message


async def test_search_accepts_a_shared_aiohttp_session_and_leaves_it_open(
    source: SruSource,
) -> None:
    async with aiohttp.ClientSession() as session:
        page = await search(session, source, "rec.id=vn-0002", maximum=1)
        assert not session.closed

    assert numbers(page) == {"vn-0002"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"start": 0}, "start"), ({"maximum": -1}, "maximum"), ({"maximum": 10_000}, "maximum")],
)
async def test_out_of_range_paging_is_refused_before_asking(
    client: SruClient, kwargs: dict[str, int], field: str
) -> None:
    nowhere = SruSource("unused", f"http://127.0.0.1:{free_port()}", "Default")

    with pytest.raises(Invalid) as refused:
        await client.search(nowhere, "lich su", **kwargs)

    assert refused.value.field == field


async def test_exhibit_link_exported_and_reindexed_is_found_by_its_url(
    client: SruClient, source: SruSource, zebra_server: ZebraServer, tmp_path: Path
) -> None:
    url = "https://museum.example/exhibits/tra-mekong?lang=vi"
    (entry,) = (await client.search(source, "rec.id=vn-0003", maximum=1)).records
    before = (await client.search(source, "cql.allRecords=1", maximum=0)).total

    linked = with_exhibit_links(entry.marcxml, [(url, "Xem hiện vật 3D")])
    collection = tmp_path / "linked.xml"
    collection.write_text(f'<collection xmlns="{MARC_NS}">{linked}</collection>', encoding="utf-8")
    await asyncio.to_thread(zebra_server.index, collection)

    deadline = time.monotonic() + 5
    while (page := await client.search(source, f'dc.identifier="{url}"', maximum=5)).total == 0:
        assert time.monotonic() < deadline, "the re-indexed record never became searchable"
        await asyncio.sleep(0.05)

    assert numbers(page) == {"vn-0003"}
    assert page.records[0].links == ((url, "Xem hiện vật 3D"),)
    # the record was replaced (its 001 is its identity), not added a second time
    assert (await client.search(source, "cql.allRecords=1", maximum=0)).total == before


@pytest.mark.parametrize(
    ("base_url", "database", "field"),
    [("127.0.0.1:9999", "Default", "base_url"), ("http://127.0.0.1:9999", " / ", "database")],
)
def test_source_without_usable_address_or_database_is_refused(
    base_url: str, database: str, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        SruSource("Thư viện", base_url, database)

    assert refused.value.field == field
