import io

import socketio
import trimesh
from aiohttp import FormData

from assets import heritage
from tests.conftest import async_wait_until


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _form(data: bytes, filename: str, title: str | None = None) -> FormData:
    form = FormData()
    if title:
        form.add_field("title", title)
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return form


async def test_upload_is_processed_into_lods_poster_and_printable(client, make_user, blobs):
    _, token = await make_user("librarian")
    curator = socketio.AsyncClient(reconnection=False)
    progress: list[dict] = []
    curator.on("asset", progress.append, namespace="/visit")
    await curator.connect(
        str(client.make_url("/")),
        namespaces=["/visit"],
        auth={"token": token},
        transports=["websocket"],
    )
    glb = heritage.export_glb(heritage.dong_son_drum())
    try:
        resp = await client.post(
            "/api/v1/assets", data=_form(glb, "drum.glb", "Trống đồng"), headers=_auth(token)
        )
        assert resp.status == 202
        accepted = await resp.json()
        assert accepted["status"] == "processing"

        async def ready() -> dict | None:
            body = await (
                await client.get(f"/api/v1/assets/{accepted['id']}", headers=_auth(token))
            ).json()
            assert body["status"] != "failed", body
            return body if body["status"] == "ready" else None

        asset = await async_wait_until(ready, within=120, interval=0.5, what="asset ready")
    finally:
        await curator.disconnect()
    assert asset["title"] == "Trống đồng"
    triangles = [lod["triangles"] for lod in asset["lods"]]
    # Level 0 is the whole scan (less degenerate triangles at the tympanum's centre).
    assert 54_000 < triangles[0] <= 55_200 and triangles == sorted(triangles, reverse=True)
    assert len(triangles) >= 2 and triangles[-1] < 20_000
    stages = [p["stage"] for p in progress if p["id"] == accepted["id"]]
    assert stages[0] == "ingest" and stages[-1] == "done"
    assert [p["progress"] for p in progress][-1] == 100
    for lod in asset["lods"]:
        data = await (await client.get(lod["url"])).read()
        assert len(data) == lod["bytes"] and data[:4] == b"glTF"
    poster = await client.get(asset["thumbnail"])
    assert poster.headers["Content-Type"] == "image/png"
    assert (await poster.read())[:8] == b"\x89PNG\r\n\x1a\n"
    stl = await (await client.get(asset["printable"]["url"])).read()
    mesh = trimesh.load(io.BytesIO(stl), file_type="stl")
    assert mesh.is_watertight and asset["printable"]["watertight"] is True
    assert abs(max(mesh.extents) - 150.0) < 1.0  # the default replica: largest side 150 mm
    assert mesh.extents[2] < 150.0  # the drum is wider than tall, and stands on its foot
    assert 0.3 < max(asset["stats"]["bounds_m"]["size"]) < 1.0  # metres, as the drum was made


async def test_broken_upload_is_refused_in_words_and_stores_nothing(
    client, make_user, blobs, sessions
):
    from sqlalchemy import func, select

    from experience.models import Asset

    _, token = await make_user("librarian")
    glb = heritage.export_glb(heritage.dong_son_drum(segments=24, rings=8))
    for data, name in (
        (glb[: len(glb) // 2], "half.glb"),
        (b"solid nothing\n", "x.stl"),
        (b"\x00" * 100, "zeros.glb"),
    ):
        resp = await client.post("/api/v1/assets", data=_form(data, name), headers=_auth(token))
        assert resp.status == 422, (name, await resp.text())
        message = (await resp.json())["error"]["message"]
        assert message and "Traceback" not in message
    unsupported = await client.post(
        "/api/v1/assets", data=_form(b"abc", "notes.txt"), headers=_auth(token)
    )
    assert unsupported.status == 422
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Asset)) == 0
    assert not [p for p in blobs.root.rglob("*") if p.is_file()]


async def test_upload_needs_a_librarian_and_respects_the_size_limit(client, make_user):
    _, member = await make_user("member")
    _, librarian = await make_user("librarian")
    form = _form(b"glTF" + b"\x00" * 100, "a.glb")
    assert (await client.post("/api/v1/assets", data=form, headers=_auth(member))).status == 403
    big = await client.post(
        "/api/v1/assets",
        data=b"x" * 1000,
        headers={**_auth(librarian), "Content-Type": "application/json"},
    )
    assert big.status == 422
    missing = await client.get("/api/v1/assets/999", headers=_auth(librarian))
    assert missing.status == 404


async def test_a_scan_that_cannot_be_printed_is_still_ready_with_the_reason(client, make_user):
    """A flat sheet has no volume: visitors can still see it, the replica says why not."""
    _, token = await make_user("librarian")
    sheet = trimesh.creation.box(extents=[0.3, 0.2, 0.0]).export(file_type="stl")
    resp = await client.post("/api/v1/assets", data=_form(sheet, "sheet.stl"), headers=_auth(token))
    assert resp.status == 202
    asset_id = (await resp.json())["id"]

    async def settled() -> dict | None:
        body = await (await client.get(f"/api/v1/assets/{asset_id}", headers=_auth(token))).json()
        return body if body["status"] != "processing" else None

    asset = await async_wait_until(settled, within=120, interval=0.5, what="asset settled")
    assert asset["status"] == "ready" and asset["lods"]
    assert asset["printable"]["url"] is None
    assert "no closed volume" in asset["printable"]["error"]
