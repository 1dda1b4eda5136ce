import asyncio
import os

import socketio

from ar_markers.synthetic import PlacedMarker, Scene, facing_pose, render_jpeg


def _photo(
    marker_id: int = 7,
    distance_m: float = 0.6,
    tilt: float = 20.0,
    seed: int = 0,
    size_m: float = 0.15,
) -> bytes:
    rvec, tvec = facing_pose(distance_m, tilt)
    scene = Scene(markers=(PlacedMarker("aruco_4x4_50", marker_id, size_m, rvec, tvec),), seed=seed)
    return render_jpeg(scene)


async def _tablet(client, **auth) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(
        str(client.make_url("/")), namespaces=["/visit"], auth=auth, transports=["websocket"]
    )
    return sio


async def test_a_camera_frame_finds_the_marker_its_pose_and_the_scene(client, make_exhibit):
    await make_exhibit("drum", 7, title={"vi": "Trống", "en": "Drum"})
    sio = await _tablet(client, lang="en")
    try:
        first = await sio.call("frame", {"image": _photo()}, namespace="/visit", timeout=20)
        again = await sio.call("frame", {"image": _photo(seed=1)}, namespace="/visit", timeout=20)
    finally:
        await sio.disconnect()
    assert first["ok"] is True, first
    marker = first["markers"][0]
    assert (marker["dictionary"], marker["id"]) == ("aruco_4x4_50", 7)
    # The exhibit's marker is 15 cm; the photo was taken 60 cm away.
    assert abs(marker["pose"]["tvec"][2] - 0.6) < 0.6 * 0.03
    assert len(marker["corners"]) == 4
    assert first["manifest"]["exhibit"]["title"] == "Drum"
    assert again["ok"] is True and "manifest" not in again  # the scene travels once


async def test_unknown_markers_are_reported_without_a_manifest(client, make_exhibit):
    await make_exhibit("drum", 7)
    sio = await _tablet(client)
    try:
        ack = await sio.call(
            "frame", {"image": _photo(marker_id=30)}, namespace="/visit", timeout=20
        )
    finally:
        await sio.disconnect()
    assert ack["ok"] is True and [m["id"] for m in ack["markers"]] == [30]
    assert "manifest" not in ack


async def test_bad_frames_get_error_acks_and_others_are_still_served(client, make_exhibit):
    await make_exhibit("drum", 7)
    attacker, visitor = await _tablet(client), await _tablet(client)
    good = _photo()
    bad = [
        ({"image": b""}, "invalid"),
        ({"image": os.urandom(5000)}, "invalid"),
        ({"image": good[: len(good) // 2]}, "invalid"),
        ({"image": b"\xff\xd8" + os.urandom(5 << 20)}, "too_large"),
        ({"image": good, "intrinsics": {"fx": -1, "fy": 1, "cx": 1, "cy": 1}}, "invalid"),
        ({"image": "not bytes at all" * 10}, None),
        ({"img": good}, "invalid"),
    ]
    try:
        for payload, code in bad:
            ack = await attacker.call("frame", payload, namespace="/visit", timeout=20)
            assert ack["ok"] is False, payload.keys()
            if code:
                assert ack["error"]["code"] == code, ack
            # A new tablet each time: one tablet's frames are rate-limited on their own.
            other = await _tablet(client)
            try:
                ok = await other.call("frame", {"image": good}, namespace="/visit", timeout=20)
            finally:
                await other.disconnect()
            assert ok["ok"] is True and ok["markers"][0]["id"] == 7
    finally:
        await asyncio.gather(attacker.disconnect(), visitor.disconnect())


async def test_a_flood_of_frames_is_dropped_or_limited_not_queued(client, make_exhibit):
    await make_exhibit("drum", 7)
    sio = await _tablet(client)
    frame = {"image": _photo()}
    try:
        acks = await asyncio.gather(
            *(sio.call("frame", frame, namespace="/visit", timeout=30) for _ in range(20))
        )
    finally:
        await sio.disconnect()
    answered = [a for a in acks if a["ok"]]
    codes = {a["error"]["code"] for a in acks if not a["ok"]}
    # One in work and one waiting at a time: most of a burst is dropped or refused.
    assert 1 <= len(answered) <= 7
    assert codes <= {"dropped", "rate_limited"} and codes
