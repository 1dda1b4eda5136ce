import asyncio

import socketio

from tests.conftest import async_wait_until


class Tablet:
    """A python-socketio client that keeps what the server pushes to it."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.stops: list[dict] = []
        self.presence: list[dict] = []
        self.sio.on("tour:stop", self.stops.append, namespace="/visit")
        self.sio.on("presence", self.presence.append, namespace="/visit")

    async def connect(self, client, **auth) -> "Tablet":
        await self.sio.connect(
            str(client.make_url("/")), namespaces=["/visit"], auth=auth, transports=["websocket"]
        )
        return self

    async def call(self, event, data=None):
        return await self.sio.call(event, data, namespace="/visit", timeout=10)

    async def close(self) -> None:
        await self.sio.disconnect()


async def _tour(client, make_user, make_exhibit) -> tuple[dict, str]:
    drum = await make_exhibit("drum", 7, title={"vi": "Trống", "en": "Drum"})
    stele = await make_exhibit("stele", 12, title={"vi": "Bia", "en": "Stele"})
    _, librarian = await make_user("librarian")
    resp = await client.post(
        "/api/v1/tours",
        headers={"Authorization": f"Bearer {librarian}"},
        json={
            "title": {"vi": "Di sản"},
            "stops": [
                {"exhibit_id": drum.id, "note": {"en": "Look at the star"}},
                {"exhibit_id": stele.id},
            ],
        },
    )
    _, docent = await make_user("docent")
    return await resp.json(), docent


async def test_docent_moves_every_tablet_each_in_its_language(client, make_user, make_exhibit):
    tour, docent_token = await _tour(client, make_user, make_exhibit)
    vi = await Tablet().connect(client, lang="vi", visitor_id="visitor-vi-0001")
    en = await Tablet().connect(
        client, lang="en", visitor_id="visitor-en-0001", device={"max_triangles": 30_000}
    )
    docent = await Tablet().connect(client, token=docent_token)
    try:
        joined = await vi.call("tour:join", {"code": tour["code"].lower()})
        assert joined["ok"] and joined["index"] == 0
        assert joined["manifest"]["exhibit"]["title"] == "Trống"
        assert (await en.call("tour:join", {"tour_id": tour["id"]}))["ok"]
        moved = await docent.call("tour:goto", {"tour_id": tour["id"], "index": 1})
        assert moved == {"ok": True, "index": 1, "followers": 2}
        await async_wait_until(lambda: vi.stops and en.stops, what="tour:stop on both")
        assert vi.stops[-1]["index"] == 1 and vi.stops[-1]["manifest"]["exhibit"]["title"] == "Bia"
        assert en.stops[-1]["manifest"]["exhibit"]["title"] == "Stele"
        assert not docent.stops  # the docent did not join as a follower
    finally:
        await asyncio.gather(vi.close(), en.close(), docent.close())


async def test_a_visitor_cannot_move_the_tour(client, make_user, make_exhibit):
    tour, _ = await _tour(client, make_user, make_exhibit)
    visitor = await Tablet().connect(client, visitor_id="visitor-curious-01")
    _, member_token = await make_user("member")
    member = await Tablet().connect(client, token=member_token)
    try:
        await visitor.call("tour:join", {"tour_id": tour["id"]})
        for who in (visitor, member):
            refused = await who.call("tour:goto", {"tour_id": tour["id"], "index": 1})
            assert refused["ok"] is False and refused["error"]["code"] == "forbidden"
        listed = await (
            await client.get(
                f"/api/v1/tours/{tour['id']}", headers={"Authorization": f"Bearer {member_token}"}
            )
        ).json()
        assert "error" in listed
    finally:
        await asyncio.gather(visitor.close(), member.close())


async def test_reconnecting_tablet_is_put_back_on_the_tour(client, make_user, make_exhibit):
    tour, docent_token = await _tour(client, make_user, make_exhibit)
    first = await Tablet().connect(client, lang="en", visitor_id="visitor-returning")
    await first.call("tour:join", {"tour_id": tour["id"]})
    await first.close()
    docent = await Tablet().connect(client, token=docent_token)
    await docent.call("tour:goto", {"tour_id": tour["id"], "index": 1})
    again = await Tablet().connect(client, visitor_id="visitor-returning")  # no lang this time
    try:
        await async_wait_until(lambda: again.stops, what="the restored tour stop")
        stop = again.stops[0]
        assert stop["index"] == 1 and stop["manifest"]["exhibit"]["title"] == "Stele"
        await docent.call("tour:goto", {"tour_id": tour["id"], "index": 0})
        await async_wait_until(lambda: len(again.stops) == 2, what="the next stop")
        assert again.stops[1]["manifest"]["tour_note"] == "Look at the star"
    finally:
        await asyncio.gather(again.close(), docent.close())


BAD = [
    ("tour:join", {}),
    ("tour:join", {"tour_id": 1, "code": "ABCDE"}),
    ("tour:join", {"tour_id": "one"}),
    ("tour:join", {"code": "!!"}),
    ("tour:goto", {"tour_id": 1}),
    ("tour:goto", {"tour_id": 1, "index": -1}),
    ("tour:leave", {"x": 1}),
    ("presence:list", [1]),
    ("no-such-event", {}),
    ("connect", {"token": "x"}),
    ("disconnect", {}),
]


async def test_invalid_payloads_on_every_event_get_error_acks_and_store_nothing(
    client, make_user, make_exhibit, sessions
):
    from sqlalchemy import func, select

    from experience.models import TourMember

    tour, docent_token = await _tour(client, make_user, make_exhibit)
    docent = await Tablet().connect(client, token=docent_token)
    tablet = await Tablet().connect(client, visitor_id="visitor-fuzzing-1")
    try:
        for event, payload in BAD:
            ack = await (docent if event == "tour:goto" else tablet).call(event, payload)
            assert ack["ok"] is False, (event, payload, ack)
            assert ack["error"]["code"] in {"invalid", "forbidden"}, ack
        out_of_range = await docent.call("tour:goto", {"tour_id": tour["id"], "index": 5})
        assert out_of_range["error"]["field"] == "index"
        unknown = await tablet.call("tour:join", {"code": "ZZZZZ"})
        assert unknown["error"]["code"] == "not_found"
        # Still connected and served after all that.
        assert (await tablet.call("scan", {"dictionary": "aruco_4x4_50", "marker_id": 7}))["ok"]
    finally:
        await asyncio.gather(docent.close(), tablet.close())
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TourMember)) == 0
        tour_row = await session.get(__import__("experience.models").models.Tour, tour["id"])
        assert tour_row.current_index == 0


async def test_presence_counts_follow_scans_and_disconnects(client, make_user, make_exhibit):
    await make_exhibit("drum", 7)
    await make_exhibit("stele", 12)
    _, librarian = await make_user("librarian")
    curator = await Tablet().connect(client, token=librarian)
    tablets = [await Tablet().connect(client, visitor_id=f"visitor-p-{i:04d}") for i in range(3)]
    scan = {"dictionary": "aruco_4x4_50", "marker_id": 7}
    try:
        for tablet in tablets:
            assert (await tablet.call("scan", scan))["ok"]
        await async_wait_until(
            lambda: any(p == {"exhibit_id": 1, "visitors": 3} for p in curator.presence),
            what="presence 3 at the drum",
        )
        await tablets[0].call("scan", {"dictionary": "aruco_4x4_50", "marker_id": 12})
        await tablets[1].close()
        await async_wait_until(
            lambda: curator.presence[-1] == {"exhibit_id": 1, "visitors": 1},
            what="presence 1 after a move and a disconnect",
        )
        listed = await curator.call("presence:list", {})
        assert sorted((p["exhibit_id"], p["visitors"]) for p in listed["presence"]) == [
            (1, 1),
            (2, 1),
        ]
        refused = await tablets[2].call("presence:list", {})
        assert refused["error"]["code"] == "forbidden"
        assert tablets[2].presence[-1]["exhibit_id"] == 1  # the exhibit's own room hears it
    finally:
        await asyncio.gather(curator.close(), tablets[0].close(), tablets[2].close())


async def test_analytics_for_a_scripted_visit(client, make_user, make_exhibit):
    await make_exhibit("drum", 7)
    await make_exhibit("stele", 12)
    _, librarian = await make_user("librarian")
    vi = await Tablet().connect(client, lang="vi", visitor_id="visitor-analytic-1")
    en = await Tablet().connect(client, lang="en", visitor_id="visitor-analytic-2")
    drum = {"dictionary": "aruco_4x4_50", "marker_id": 7}
    await vi.call("scan", drum)
    await vi.call("scan", drum)  # same exhibit again: still one visit
    await en.call("scan", drum)
    await vi.call("scan", {"dictionary": "aruco_4x4_50", "marker_id": 12})
    await asyncio.gather(vi.close(), en.close())
    resp = await client.get(
        "/api/v1/analytics/exhibits", headers={"Authorization": f"Bearer {librarian}"}
    )
    body = await resp.json()
    by_slug = {item["slug"]: item for item in body["items"]}
    assert by_slug["drum"]["scans"] == 2 and by_slug["drum"]["unique_visitors"] == 2
    assert by_slug["drum"]["languages"] == {"vi": 1, "en": 1}
    assert by_slug["drum"]["median_dwell_s"] is not None
    assert by_slug["stele"]["scans"] == 1
    bad = await client.get(
        "/api/v1/analytics/exhibits?from=yesterday",
        headers={"Authorization": f"Bearer {librarian}"},
    )
    assert bad.status == 422
