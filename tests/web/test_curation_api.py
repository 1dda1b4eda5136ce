import pytest

DRUM = {
    "slug": "trong-dong",
    "title": {"vi": "Trống đồng", "en": "Bronze drum"},
    "narration": {"vi": "Thuyết minh"},
    "marker": {"dictionary": "aruco_4x4_50", "id": 3, "size_m": 0.2},
    "hotspots": [
        {
            "position": [0, 0.6, 0],
            "normal": [0, 2, 0],
            "title": {"vi": "Sao", "en": "Star"},
            "body": {"en": "The sun"},
        }
    ],
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _ready_asset_id(make_exhibit) -> int:
    exhibit = await make_exhibit("carrier", 40)
    return exhibit.asset_id


async def test_librarian_creates_reads_patches_and_deletes_an_exhibit(
    client, make_user, make_exhibit
):
    _, token = await make_user("librarian")
    asset_id = await _ready_asset_id(make_exhibit)
    created = await client.post(
        "/api/v1/exhibits", json={**DRUM, "asset_id": asset_id}, headers=_auth(token)
    )
    assert created.status == 201
    body = await created.json()
    assert body["marker"] == {"dictionary": "aruco_4x4_50", "id": 3, "size_m": 0.2}
    assert body["hotspots"][0]["normal"] == [0.0, 1.0, 0.0]  # normalised
    assert body["published"] is False
    # Unpublished: invisible to visitors, visible to its curator.
    assert (await client.get(f"/api/v1/exhibits/{body['id']}")).status == 404
    assert (await client.get(f"/api/v1/exhibits/{body['id']}", headers=_auth(token))).status == 200
    patched = await client.patch(
        f"/api/v1/exhibits/{body['id']}",
        json={"published": True, "title": {"vi": "Trống Ngọc Lũ"}},
        headers=_auth(token),
    )
    assert patched.status == 200
    assert (await patched.json())["title"] == {"vi": "Trống Ngọc Lũ"}
    public = await client.get(f"/api/v1/exhibits/{body['id']}")
    assert public.status == 200 and (await public.json())["narration"] == {"vi": "Thuyết minh"}
    assert (
        await client.delete(f"/api/v1/exhibits/{body['id']}", headers=_auth(token))
    ).status == 204
    assert (await client.get(f"/api/v1/exhibits/{body['id']}", headers=_auth(token))).status == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({"title": {}}, "title"),
        ({"marker": {"dictionary": "aruco_4x4_50", "id": 50}}, "marker"),
        ({"marker": {"dictionary": "qr", "id": 1}}, "marker.dictionary"),
        ({"hotspots": [{"position": [0, 1]}]}, "hotspots.0.position"),
        ({"hotspots": [{"position": [0, 1, 0], "normal": [0, 0, 0]}]}, "hotspots.0.normal"),
        ({"title": {"english": "x"}}, "title.english.[key]"),
        ({"published": True}, "asset_id"),
        ({"asset_id": 999_999}, "asset_id"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_exhibits_are_422_naming_the_field_and_store_nothing(
    client, make_user, change, field
):
    _, token = await make_user("librarian")
    resp = await client.post("/api/v1/exhibits", json={**DRUM, **change}, headers=_auth(token))
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "invalid" and error["field"] == field, error
    listing = await client.get("/api/v1/exhibits?all=true", headers=_auth(token))
    assert (await listing.json())["total"] == 0


async def test_marker_and_slug_clashes_are_409_and_keep_the_first(client, make_user, make_exhibit):
    _, token = await make_user("librarian")
    first = await make_exhibit("first", 3)
    clash = await client.post("/api/v1/exhibits", json=DRUM, headers=_auth(token))
    assert clash.status == 409
    assert "'first'" in (await clash.json())["error"]["message"]
    slug = await client.post(
        "/api/v1/exhibits",
        json={**DRUM, "slug": "first", "marker": {"id": 4}},
        headers=_auth(token),
    )
    assert slug.status == 409
    kept = await (await client.get(f"/api/v1/exhibits/{first.id}")).json()
    assert kept["marker"]["id"] == 3


async def test_members_and_visitors_cannot_curate(client, make_user):
    _, member = await make_user("member")
    assert (await client.post("/api/v1/exhibits", json=DRUM)).status == 401
    assert (await client.post("/api/v1/exhibits", json=DRUM, headers=_auth(member))).status == 403
    assert (await client.get("/api/v1/exhibits?all=true", headers=_auth(member))).status == 403


async def test_an_edit_reaches_the_next_scan(client, make_user, make_exhibit):
    """The manifest cache forgets an exhibit as soon as a curator changes it."""
    import socketio

    exhibit = await make_exhibit("drum", 7, title={"vi": "Cũ", "en": "Old"})
    _, token = await make_user("librarian")
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/visit"],
        auth={"lang": "en"},
        transports=["websocket"],
    )
    try:
        scan = {"dictionary": "aruco_4x4_50", "marker_id": 7}
        before = await sio.call("scan", scan, namespace="/visit")
        await client.patch(
            f"/api/v1/exhibits/{exhibit.id}", json={"title": {"en": "New"}}, headers=_auth(token)
        )
        after = await sio.call("scan", scan, namespace="/visit")
        await client.patch(
            f"/api/v1/exhibits/{exhibit.id}", json={"published": False}, headers=_auth(token)
        )
        hidden = await sio.call("scan", scan, namespace="/visit")
    finally:
        await sio.disconnect()
    assert before["manifest"]["exhibit"]["title"] == "Old"
    assert after["manifest"]["exhibit"]["title"] == "New"
    assert hidden["ok"] is False and hidden["error"]["code"] == "not_found"


async def test_narration_audio_is_stored_and_announced_in_the_manifest(
    client, make_user, make_exhibit
):
    exhibit = await make_exhibit("drum", 7)
    _, token = await make_user("librarian")
    audio = b"ID3" + bytes(range(256)) * 100
    bad = await client.put(
        f"/api/v1/exhibits/{exhibit.id}/narration/vi/audio",
        data=b"x",
        headers={**_auth(token), "Content-Type": "text/plain"},
    )
    assert bad.status == 422
    resp = await client.put(
        f"/api/v1/exhibits/{exhibit.id}/narration/vi/audio",
        data=audio,
        headers={**_auth(token), "Content-Type": "audio/mpeg"},
    )
    assert resp.status == 200
    url = (await resp.json())["narration_audio"]["vi"]
    fetched = await client.get(url)
    assert await fetched.read() == audio
    assert fetched.headers["Content-Type"] == "audio/mpeg"


async def test_tours_are_written_by_librarians_and_read_by_docents(client, make_user, make_exhibit):
    a, b = await make_exhibit("a", 1), await make_exhibit("b", 2)
    _, librarian = await make_user("librarian")
    _, docent = await make_user("docent")
    _, member = await make_user("member")
    body = {
        "title": {"vi": "Tham quan"},
        "stops": [{"exhibit_id": a.id, "note": {"vi": "Bắt đầu"}}, {"exhibit_id": b.id}],
    }
    assert (await client.post("/api/v1/tours", json=body, headers=_auth(docent))).status == 403
    created = await client.post("/api/v1/tours", json=body, headers=_auth(librarian))
    assert created.status == 201
    tour = await created.json()
    assert len(tour["code"]) == 5 and tour["current_index"] == 0
    assert (await client.get(f"/api/v1/tours/{tour['id']}", headers=_auth(docent))).status == 200
    assert (await client.get("/api/v1/tours", headers=_auth(member))).status == 403
    bad = await client.post(
        "/api/v1/tours", json={**body, "stops": [{"exhibit_id": 9999}]}, headers=_auth(librarian)
    )
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "stops"
    in_use = await client.delete(f"/api/v1/exhibits/{a.id}", headers=_auth(librarian))
    assert in_use.status == 409
