"""Resources over REST (librarians edit, members read) and availability from the database."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.booking.booking_api import iso, next_boundary

HOUR = timedelta(hours=1)


async def test_resource_gets_defaults_and_only_librarians_create_it(api, people):
    body = {"type": "sewing", "name": "Bernina 335"}
    refused = await api.post("/api/v1/resources", json=body, headers=people["ana"].headers)
    assert refused.status == 403
    resp = await api.post("/api/v1/resources", json=body, headers=people["librarian"].headers)
    created = await resp.json()
    assert resp.status == 201
    assert created["timezone"] == "Asia/Ho_Chi_Minh" and created["slot_minutes"] == 30
    assert created["opening_hours"]["mon"] == [["08:00", "20:00"]]
    assert created["opening_hours"]["sun"] == []
    read = await api.get(f"/api/v1/resources/{created['id']}", headers=people["ana"].headers)
    assert (await read.json()) == created
    assert (await api.get(f"/api/v1/resources/{created['id']}")).status == 401


async def test_bad_resource_rules_are_422_naming_the_field(api, people):
    body = {"type": "printer", "name": "MK4", "opening_hours": {"mon": [["20:00", "08:00"]]}}
    resp = await api.post("/api/v1/resources", json=body, headers=people["librarian"].headers)
    payload = await resp.json()
    assert resp.status == 422 and payload["error"]["field"] == "opening_hours.mon.0"
    assert "end before they start" in payload["error"]["message"]


async def test_patch_merges_and_revalidates_the_rules(api, people, make_resource):
    printer = await make_resource(max_minutes=120)
    url = f"/api/v1/resources/{printer['id']}"
    librarian = people["librarian"]
    resp = await api.patch(
        url, json={"buffer_minutes": 20, "name": "MK4 #3"}, headers=librarian.headers
    )
    patched = await resp.json()
    assert resp.status == 200
    assert patched["buffer_minutes"] == 20 and patched["name"] == "MK4 #3"
    assert patched["max_minutes"] == 120 and patched["opening_hours"] == printer["opening_hours"]
    bad = await api.patch(url, json={"min_minutes": 180}, headers=librarian.headers)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "min_minutes"
    assert (await api.patch(url, json={"name": "x"}, headers=people["ana"].headers)).status == 403


async def test_resources_list_pages_and_filters_by_type(api, people, make_resource):
    for index in range(3):
        await make_resource(name=f"MK4 #{index}")
    await make_resource(type="room", name="Study room")
    headers = people["ana"].headers
    first = await (await api.get("/api/v1/resources?type=printer&limit=2", headers=headers)).json()
    assert first["total"] == 3 and len(first["items"]) == 2 and first["next"]
    rest = await api.get(f"/api/v1/resources?type=printer&after={first['next']}", headers=headers)
    names = [r["name"] for r in first["items"] + (await rest.json())["items"]]
    assert names == ["MK4 #0", "MK4 #1", "MK4 #2"]


async def test_resource_with_upcoming_bookings_cannot_be_deleted(api, people, make_resource, book):
    printer = await make_resource()
    start = next_boundary(30, 2 * HOUR)
    _, booking = await book(people["ana"], printer, start, start + HOUR)
    url = f"/api/v1/resources/{printer['id']}"
    refused = await api.delete(url, headers=people["librarian"].headers)
    assert refused.status == 409 and "1 upcoming" in (await refused.json())["error"]["message"]
    await api.delete(f"/api/v1/reservations/{booking['id']}", headers=people["ana"].headers)
    assert (await api.delete(url, headers=people["librarian"].headers)).status == 204
    assert (await api.get(url, headers=people["ana"].headers)).status == 404


async def test_availability_leaves_out_bookings_with_their_buffer(api, people, make_resource, book):
    printer = await make_resource(buffer_minutes=30)
    start = next_boundary(60, 5 * HOUR)
    await book(people["binh"], printer, start + HOUR, start + 2 * HOUR)
    window = f"from={iso(start)}&to={iso(start + 4 * HOUR)}"
    resp = await api.get(f"/api/v1/resources/{printer['id']}/availability?{window}")
    body = await resp.json()
    assert resp.status == 200 and body["timezone"] == "Asia/Ho_Chi_Minh"
    free = [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]))
        for i in body["items"]
    ]
    # The buffer blocks half an hour after the booking and half an hour before it.
    assert free == [
        (start, start + timedelta(minutes=30)),
        (start + 2 * HOUR + timedelta(minutes=30), start + 4 * HOUR),
    ]
    assert body["items"][0]["start"].endswith("+07:00")


async def test_availability_for_a_member_honours_their_own_limits(api, people, make_resource, book):
    printer = await make_resource(max_active_reservations=1, certification="fdm-basic")
    start = next_boundary(60, 5 * HOUR)
    window = f"from={iso(start)}&to={iso(start + 3 * HOUR)}"
    url = f"/api/v1/resources/{printer['id']}/availability?{window}"
    untrained = await (await api.get(url, headers=people["ana"].headers)).json()
    assert untrained["items"] == []
    anonymous = await (await api.get(url)).json()
    assert len(anonymous["items"]) == 1
    bad = await api.get(f"/api/v1/resources/{printer['id']}/availability?from=tomorrow&to=later")
    assert bad.status == 422
