import asyncio

import pytest
import socketio


async def _connect(client, **auth) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")),
        namespaces=["/visit"],
        auth=auth,
        transports=["websocket"],
        wait_timeout=10,
    )
    return sio


async def test_scan_returns_the_manifest_in_the_visitors_language(client, make_exhibit):
    await make_exhibit(
        "drum",
        7,
        title={"vi": "Trống đồng", "en": "Bronze drum"},
        narration={"vi": "Chỉ có tiếng Việt"},
    )
    sio = await _connect(client, lang="en", device={"max_triangles": 50_000})
    try:
        ack = await sio.call(
            "scan", {"dictionary": "aruco_4x4_50", "marker_id": 7}, namespace="/visit", timeout=10
        )
    finally:
        await sio.disconnect()
    assert ack["ok"] is True
    manifest = ack["manifest"]
    assert manifest["exhibit"]["title"] == "Bronze drum"
    assert manifest["exhibit"]["narration"] == "Chỉ có tiếng Việt"
    lod = manifest["scene"]["lods"][manifest["scene"]["recommended_lod"]]
    glb = await client.get(lod["url"])
    assert glb.status == 200 and len(await glb.read()) == lod["bytes"]


async def test_unknown_and_unpublished_markers_are_not_found(client, make_exhibit):
    await make_exhibit("hidden", 9, published=False)
    sio = await _connect(client)
    try:
        for marker in (9, 42):
            ack = await sio.call(
                "scan",
                {"dictionary": "aruco_4x4_50", "marker_id": marker},
                namespace="/visit",
                timeout=10,
            )
            assert ack["ok"] is False
            assert ack["error"]["code"] == "not_found"
            assert str(marker) in ack["error"]["message"]
    finally:
        await sio.disconnect()


BAD_SCANS = [
    {},
    {"dictionary": "aruco_4x4_50"},
    {"marker_id": 7},
    {"dictionary": "aruco_4x4_50", "marker_id": "seven"},
    {"dictionary": "aruco_4x4_50", "marker_id": -1},
    {"dictionary": "aruco_4x4_50", "marker_id": 10**12},
    {"dictionary": "x" * 100_000, "marker_id": 7},
    {"dictionary": None, "marker_id": 7},
    {"dictionary": "aruco_4x4_50", "marker_id": 7, "extra": 1},
    ["aruco_4x4_50", 7],
    "scan me",
    42,
    None,
]


@pytest.mark.parametrize("payload", BAD_SCANS, ids=range(len(BAD_SCANS)))
async def test_malformed_scans_get_an_error_ack_and_others_keep_being_served(
    client, make_exhibit, payload
):
    await make_exhibit("drum", 7)
    attacker, visitor = await _connect(client), await _connect(client, lang="vi")
    try:
        ack = await attacker.call("scan", payload, namespace="/visit", timeout=10)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
        assert "Traceback" not in ack["error"]["message"]
        good = await visitor.call(
            "scan", {"dictionary": "aruco_4x4_50", "marker_id": 7}, namespace="/visit", timeout=10
        )
        assert good["ok"] is True and good["manifest"]["exhibit"]["title"] == "Trống đồng"
    finally:
        await asyncio.gather(attacker.disconnect(), visitor.disconnect())


async def test_scan_without_payload_or_with_two_is_refused(client):
    sio = await _connect(client)
    try:
        none = await sio.call("scan", namespace="/visit", timeout=10)
        two = await sio.call(
            "scan",
            ({"dictionary": "aruco_4x4_50", "marker_id": 7}, 1),
            namespace="/visit",
            timeout=10,
        )
    finally:
        await sio.disconnect()
    assert none["ok"] is False and two["ok"] is False


async def test_bad_connection_data_and_bad_token_are_refused(client):
    for auth in ({"lang": "<script>"}, {"token": "garbage"}, {"device": {"max_triangles": -5}}):
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                str(client.make_url("/")),
                namespaces=["/visit"],
                auth=auth,
                transports=["websocket"],
                wait_timeout=5,
            )


async def test_connected_sockets_show_in_metrics(client):
    sio = await _connect(client)
    try:
        text = await (await client.get("/metrics")).text()
        assert 'smartlib_socketio_connected{namespace="/visit"} 1' in text
    finally:
        await sio.disconnect()
