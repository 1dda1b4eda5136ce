"""The catalog over REST, Socket.IO and the CLI (web/routes/catalog.py, web/commands/catalog.py).

Live look-ups go to the real zebrasrv that tests/experience/conftest.py builds; every test runs
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import socketio
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

# The Zebra fixture and the record factory live with the experience tests; both folders share
# one way to build Zebra.
import tests.experience.conftest as zebra_fixtures
from core.settings import Settings, load_settings

zebra_server = zebra_fixtures.zebra_server  # the fixture, made visible to this module
from tests.experience.marc_factory import (  # noqa: E402
    SOURCE,
    catalog_books,
    write_iso2709,
    write_marcxml,
)

PUBLIC_URL = "https://bao-tang.example"
PROVINCE = "Thư viện tỉnh"
SILENT = "Thư viện im lặng"


@pytest.fixture
async def silent_catalog() -> AsyncIterator[str]:
    """A fake on purpose: a server that accepts connections and never answers (a real
    zebrasrv always answers, so only a stub can show how the API handles silence)."""

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def catalog_settings(
    settings: Settings, zebra_server, silent_catalog: str, tmp_path: Path
) -> Settings:
    return load_settings(
        env={},
        data_dir=settings.data_dir,
        database_url=settings.database_url,
        migrate_on_start=False,
        base_url=PUBLIC_URL,
        opac_url="https://opac.example/record/{record_id}",
        sru_sources=[
            {
                "name": PROVINCE,
                "base_url": zebra_server.base_url,
                "database": zebra_server.database,
            },
            {"name": SILENT, "base_url": silent_catalog, "database": "Default"},
        ],
        sru_timeout_s=0.3,
        sru_attempts=2,
    )


@pytest.fixture
async def api(catalog_settings: Settings) -> AsyncIterator[TestClient]:
    """The real application; the catalog routes are added if the app does not have them yet."""
    from web.app import create_app
    from web.routes import catalog as catalog_routes

    app = create_app(catalog_settings)
    if not any(r.canonical == "/api/v1/catalog/records" for r in app.router.resources()):
        app.router.add_routes(catalog_routes.routes)
    if catalog_routes.sru_client not in app.cleanup_ctx:
        app.cleanup_ctx.append(catalog_routes.sru_client)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


@pytest.fixture
async def librarian(make_user) -> dict[str, str]:
    _, token = await make_user("librarian")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def imported(api: TestClient, librarian, tmp_path: Path) -> TestClient:
    path = write_iso2709(tmp_path / "export.mrc", catalog_books())
    response = await api.post("/api/v1/catalog/import", data=path.read_bytes(), headers=librarian)
    assert response.status == 200, await response.text()
    return api


async def error_of(response, status: int) -> dict[str, str]:
    assert response.status == status, await response.text()
    return (await response.json())["error"]


# --- import ------------------------------------------------------------------------------------


async def test_import_takes_a_raw_body_then_a_multipart_file_without_duplicating(
    api: TestClient, librarian, tmp_path: Path
) -> None:
    books = catalog_books()
    raw = write_iso2709(tmp_path / "export.mrc", books).read_bytes()
    form = FormData()
    xml = write_marcxml(tmp_path / "export.xml", books)
    form.add_field("file", xml.read_bytes(), filename="export.xml", content_type="text/xml")

    first = await api.post("/api/v1/catalog/import", data=raw, headers=librarian)
    second = await api.post("/api/v1/catalog/import", data=form, headers=librarian)

    assert first.status == 200
    body = await first.json()
    assert {k: body[k] for k in ("read", "inserted", "updated", "unchanged", "skipped")} == {
        "read": 26,
        "inserted": 26,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
    }
    again = await second.json()
    assert (again["inserted"], again["updated"] + again["unchanged"]) == (0, 26)
    listing = await (await api.get("/api/v1/catalog/records?limit=1")).json()
    assert listing["total"] == 26


async def test_import_reports_broken_records_by_position(
    api: TestClient, librarian, tmp_path: Path
) -> None:
    raw = write_iso2709(tmp_path / "export.mrc", catalog_books()[:4]).read_bytes()
    cut = raw[: len(raw) - 40]  # the last record is cut off

    response = await api.post("/api/v1/catalog/import", data=cut, headers=librarian)

    body = await response.json()
    assert (body["inserted"], body["skipped"]) == (3, 1)
    assert body["problems"][0].startswith("Record 4 (byte ")
    assert "ends in the middle of this record" in body["problems"][0]


async def test_import_of_something_that_is_not_marc_is_422(api: TestClient, librarian) -> None:
    empty = await api.post("/api/v1/catalog/import", data=b"", headers=librarian)
    form = FormData()
    form.add_field("other", "x", content_type="text/plain")  # makes it multipart
    no_file = await api.post("/api/v1/catalog/import", data=form, headers=librarian)

    assert (await error_of(empty, 422))["field"] == "file"
    assert (await error_of(no_file, 422))["message"] == "The upload has no 'file' field."


async def test_import_is_for_librarians_only(api: TestClient, make_user, tmp_path: Path) -> None:
    raw = write_iso2709(tmp_path / "export.mrc", catalog_books()[:1]).read_bytes()
    _, member = await make_user("member")

    anonymous = await api.post("/api/v1/catalog/import", data=raw)
    as_member = await api.post(
        "/api/v1/catalog/import", data=raw, headers={"Authorization": f"Bearer {member}"}
    )

    assert (await error_of(anonymous, 401))["code"] == "unauthorized"
    assert (await error_of(as_member, 403))["code"] == "forbidden"
    assert (await (await api.get("/api/v1/catalog/records")).json())["total"] == 0


# --- local records -----------------------------------------------------------------------------


async def test_search_answers_the_list_shape_ranked_and_paged(imported: TestClient) -> None:
    first = await imported.get("/api/v1/catalog/records", params={"q": "lich su", "limit": 1})
    body = await first.json()
    rest = await imported.get(
        "/api/v1/catalog/records", params={"q": "lich su", "limit": 1, "after": body["next"]}
    )

    assert set(body) == {"items", "total", "next"}
    assert body["total"] == 2
    (history,) = body["items"]
    assert history["id"] == f"{SOURCE}:vn-0001"
    assert history["link"] == {"source": SOURCE, "record_id": "vn-0001"}
    assert history["title"] == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert history["call_number"] == "959.7 PH-L"
    assert history["url"] == "https://opac.example/record/vn-0001"
    assert history["marcxml"] == f"/api/v1/catalog/records/{SOURCE}:vn-0001.marcxml"
    later = await rest.json()
    assert [r["record_id"] for r in later["items"]] == ["vn-0002"]
    assert later["next"] is None


async def test_bad_search_parameters_are_422_naming_the_parameter(imported: TestClient) -> None:
    for query, field in (("limit=0", "limit"), ("limit=x", "limit"), ("q=x&after=1", "after")):
        response = await imported.get(f"/api/v1/catalog/records?{query}")

        assert (await error_of(response, 422))["field"] == field, query


async def test_record_detail_and_its_errors(imported: TestClient) -> None:
    found = await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-0002")
    missing = await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-9999")
    unnamed = await imported.get("/api/v1/catalog/records/vn-0002")

    record = await found.json()
    assert record["authors"] == ["Trần, Văn Giàu"]
    assert (record["publisher"], record["year"]) == ("Nhà xuất bản Chính trị quốc gia", 2006)
    assert record["subjects"] == ["Chính trị -- Việt Nam -- Lịch sử"]
    assert record["origin"] == "file"
    assert "vn-9999" in (await error_of(missing, 404))["message"]
    assert "source:control number" in (await error_of(unnamed, 422))["message"]


async def _link_by_patch(api: TestClient, librarian, exhibit_id: int, record_id: str) -> dict:
    response = await api.patch(
        f"/api/v1/exhibits/{exhibit_id}",
        json={"catalog": {"source": SOURCE, "record_id": record_id}},
        headers=librarian,
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_record_lists_its_published_exhibits_and_exports_an_856_each(
    imported: TestClient, librarian, make_exhibit
) -> None:
    drum = await make_exhibit("trong-dong", 7)
    draft = await make_exhibit("ban-nhap", 8, published=False)
    patched = await _link_by_patch(imported, librarian, drum.id, "vn-0001")
    await _link_by_patch(imported, librarian, draft.id, "vn-0001")

    exhibits = await (
        await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-0001/exhibits")
    ).json()
    export = await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-0001.marcxml")
    none_yet = await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-0002/exhibits")
    missing = await imported.get(f"/api/v1/catalog/records/{SOURCE}:vn-9999.marcxml")

    assert patched["catalog"]["title"] == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert exhibits["total"] == 1
    assert exhibits["items"][0]["slug"] == "trong-dong"
    assert exhibits["items"][0]["visit_url"] == f"{PUBLIC_URL}/visit/trong-dong"
    assert exhibits["items"][0]["catalog"]["url"] == "https://opac.example/record/vn-0001"
    assert export.status == 200
    assert export.content_type == "application/marcxml+xml"
    document = await export.text()
    assert document.count('tag="856" ind1="4" ind2="2"') == 1
    assert f'<subfield code="u">{PUBLIC_URL}/visit/trong-dong</subfield>' in document
    assert (await none_yet.json())["items"] == []
    await error_of(missing, 404)


# --- live SRU ----------------------------------------------------------------------------------


async def test_live_search_by_title_author_and_isbn(api: TestClient, librarian) -> None:
    for cql, record_id in (
        ('dc.title="lich su viet nam"', "vn-0001"),
        ('dc.creator="Trần Văn Giàu"', "vn-0002"),
        ("bath.isbn=9780306406157", "vn-0001"),
        ("bath.isbn=0306406152", "vn-0001"),
    ):
        response = await api.get(
            "/api/v1/catalog/sru", params={"source": PROVINCE, "q": cql}, headers=librarian
        )

        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["total"] == 1 and body["next"] is None, cql
        (hit,) = body["items"]
        assert hit["record_id"] == record_id
        assert hit["link"] == {"source": PROVINCE, "record_id": record_id}


async def test_live_search_pages_with_next(api: TestClient, librarian) -> None:
    params = {"source": PROVINCE, "q": 'dc.subject="di san van hoa"', "limit": "10"}
    first = await (await api.get("/api/v1/catalog/sru", params=params, headers=librarian)).json()
    params["start"] = first["next"]
    second = await (await api.get("/api/v1/catalog/sru", params=params, headers=librarian)).json()

    assert (first["total"], len(first["items"]), first["next"]) == (23, 10, "11")
    assert second["next"] == "21"
    assert not {h["record_id"] for h in first["items"]} & {h["record_id"] for h in second["items"]}


async def test_bad_cql_is_422_with_the_diagnostic_in_words(api: TestClient, librarian) -> None:
    response = await api.get(
        "/api/v1/catalog/sru",
        params={"source": PROVINCE, "q": 'title=("lịch sử"'},
        headers=librarian,
    )

    error = await error_of(response, 422)
    assert error["field"] == "query"
    assert "not valid CQL" in error["message"] and PROVINCE in error["message"]


async def test_a_catalog_that_never_answers_is_503(api: TestClient, librarian) -> None:
    response = await api.get(
        "/api/v1/catalog/sru", params={"source": SILENT, "q": "lich su"}, headers=librarian
    )

    error = await error_of(response, 503)
    assert error["code"] == "unavailable"
    assert "did not answer within 0.3 s" in error["message"]
    assert "tried 2 times" in error["message"]


async def test_live_search_needs_a_known_source_and_a_librarian(
    api: TestClient, librarian, make_user
) -> None:
    _, member = await make_user("member")
    unknown = await api.get(
        "/api/v1/catalog/sru", params={"source": "Koha", "q": "x"}, headers=librarian
    )
    as_member = await api.get(
        "/api/v1/catalog/sru",
        params={"source": PROVINCE, "q": "x"},
        headers={"Authorization": f"Bearer {member}"},
    )
    sources = await (await api.get("/api/v1/catalog/sru/sources", headers=librarian)).json()

    error = await error_of(unknown, 422)
    assert error["field"] == "source" and PROVINCE in error["message"]
    await error_of(as_member, 403)
    assert [s["name"] for s in sources["items"]] == [PROVINCE, SILENT]


async def _scan(api: TestClient, marker_id: int) -> dict:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(api.make_url("/")), namespaces=["/visit"], auth={"lang": "vi"},
        transports=["websocket"], wait_timeout=10,
    )  # fmt: skip
    try:
        ack = await sio.call(
            "scan",
            {"dictionary": "aruco_4x4_50", "marker_id": marker_id},
            namespace="/visit",
            timeout=10,
        )
    finally:
        await sio.disconnect()
    assert ack["ok"] is True, ack
    return ack["manifest"]


async def test_linking_a_live_record_caches_it_and_the_next_scan_shows_it(
    api: TestClient, librarian, make_exhibit
) -> None:
    exhibit = await make_exhibit("tra-mekong", 11)
    before = await _scan(api, 11)

    response = await api.post(
        "/api/v1/catalog/sru/link",
        json={"source": PROVINCE, "record_id": "vn-0003", "exhibit_id": exhibit.id},
        headers=librarian,
    )
    after = await _scan(api, 11)

    assert before["catalog"] is None
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["exhibit"]["catalog"]["record_id"] == "vn-0003"
    assert body["record"]["origin"] == "sru" and body["record"]["sru_source"] == PROVINCE
    cached = await api.get(f"/api/v1/catalog/records/{SOURCE}:vn-0003")
    assert (await cached.json())["title"] == "Tea and the Mekong delta. Part 2, Trade routes"
    catalog_block = after["catalog"]
    assert (catalog_block["source"], catalog_block["record_id"]) == (SOURCE, "vn-0003")
    assert catalog_block["title"] == "Tea and the Mekong delta. Part 2, Trade routes"
    assert catalog_block["author"] == "Viện Khoa học Xã hội Việt Nam"


async def test_linking_refuses_unknown_records_exhibits_and_sources(
    api: TestClient, librarian, make_exhibit
) -> None:
    exhibit = await make_exhibit("tra-mekong", 11)
    for change, status, words in (
        ({"record_id": "vn-9999"}, 404, "no record with control number vn-9999"),
        ({"exhibit_id": 999_999}, 404, "There is no exhibit 999999"),
        ({"source": "Koha"}, 422, "no catalog named 'Koha'"),
        ({"record_id": ""}, 422, "record_id"),
    ):
        body = {"source": PROVINCE, "record_id": "vn-0003", "exhibit_id": exhibit.id, **change}

        response = await api.post("/api/v1/catalog/sru/link", json=body, headers=librarian)

        assert words in (await error_of(response, status))["message"]
    listing = await (await api.get("/api/v1/catalog/records")).json()
    assert listing["total"] == 0  # nothing was cached by the refused links


# --- command line ------------------------------------------------------------------------------


def _run_cli(settings: Settings, *argv: str) -> int:
    from web.commands import catalog as catalog_commands

    parser = argparse.ArgumentParser(prog="smartlib")
    catalog_commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(settings, args)


async def test_cli_import_prints_problems_and_the_summary_line(
    catalog_settings: Settings, tmp_path: Path, capsys
) -> None:
    raw = write_iso2709(tmp_path / "export.mrc", catalog_books()[:5]).read_bytes()
    path = tmp_path / "cut.mrc"
    path.write_bytes(raw[:-30])

    code = await asyncio.to_thread(_run_cli, catalog_settings, "catalog", "import", str(path))
    again = await asyncio.to_thread(_run_cli, catalog_settings, "catalog", "import", str(path))

    out = capsys.readouterr().out
    assert code == again == 0
    assert "skipped: Record 5 (byte " in out
    assert "5 records read: 4 inserted, 0 updated, 0 unchanged, 1 skipped" in out
    assert "5 records read: 0 inserted, 0 updated, 4 unchanged, 1 skipped" in out


async def test_cli_live_search_prints_title_author_isbn_and_call_number(
    catalog_settings: Settings, zebra_server, capsys
) -> None:
    url = f"{zebra_server.base_url}/{zebra_server.database}"

    code = await asyncio.to_thread(
        _run_cli, catalog_settings, "catalog", "search", "--sru", url, 'dc.title="lịch sử"'
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "1 records match" in out
    assert "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X" in out
    assert "author: Phan, Huy Lê  ISBN: 9780306406157  call number: 959.7 PH-L" in out


async def test_cli_local_search_and_refresh_of_records_cached_from_a_live_catalog(
    api: TestClient, librarian, make_exhibit, catalog_settings: Settings, tmp_path: Path, capsys
) -> None:
    exhibit = await make_exhibit("tra-mekong", 11)
    linked = await api.post(
        "/api/v1/catalog/sru/link",
        json={"source": PROVINCE, "record_id": "vn-0003", "exhibit_id": exhibit.id},
        headers=librarian,
    )
    assert linked.status == 200, await linked.text()

    searched = await asyncio.to_thread(
        _run_cli, catalog_settings, "catalog", "search", "mekong delta"
    )
    refreshed = await asyncio.to_thread(_run_cli, catalog_settings, "catalog", "refresh")

    out = capsys.readouterr().out
    assert searched == 0 and refreshed == 0
    assert "1 records match in the local catalog" in out
    assert f"record: {SOURCE}:vn-0003" in out
    assert "1 cached records checked: 0 updated, 1 unchanged, 0 missing, 0 failed" in out
