"""Calendar feeds over HTTP: parse back to the stored instants, stay private, can be revoked."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.booking.booking_api import next_boundary, next_eu_spring_forward

HOUR = timedelta(hours=1)
BERLIN = ZoneInfo("Europe/Berlin")


async def feed_path(api, person) -> str:
    resp = await api.post("/api/v1/users/me/feed-token", headers=person.headers)
    assert resp.status == 201
    url = urlsplit((await resp.json())["url"])
    return f"{url.path}?{url.query}"


def events(body: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(body)
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


async def test_member_feed_parses_back_to_the_booked_instants_across_dst(
    api, people, make_resource, book
):
    change = next_eu_spring_forward()
    laser = await make_resource(
        type="laser", name="Laser cutter", timezone="Europe/Berlin", max_days_ahead=400
    )
    printer = await make_resource(name="Prusa MK4 #2")
    ana = people["ana"]
    before = datetime.combine(change - timedelta(days=1), time(23), tzinfo=BERLIN)
    across = (before, before + 4 * HOUR)  # 23:00 CET to 04:00 CEST: four real hours
    status, body = await book(ana, laser, *across)
    assert status == 201, body
    soon = next_boundary(30, 2 * HOUR)
    assert (await book(ana, printer, soon, soon + HOUR))[0] == 201
    await book(people["binh"], printer, soon + 2 * HOUR, soon + 3 * HOUR)

    resp = await api.get(await feed_path(api, ana))
    assert resp.status == 200 and resp.content_type == "text/calendar"
    assert resp.headers["Cache-Control"] == "private, no-store"
    found = events(await resp.read())
    assert set(found) == {"Laser cutter", "Prusa MK4 #2"}  # none of Binh's
    laser_event = found["Laser cutter"]
    assert laser_event["DTSTART"].dt == across[0] and laser_event["DTEND"].dt == across[1]
    assert laser_event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert laser_event["DTEND"].dt.utcoffset() == timedelta(hours=2)
    printer_event = found["Prusa MK4 #2"]
    assert printer_event["DTSTART"].dt.astimezone(UTC) == soon
    assert printer_event["DTSTART"].dt.utcoffset() == timedelta(hours=7)
    calendar = Calendar.from_ical(await resp.read())
    assert {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")} == {
        "Asia/Ho_Chi_Minh",
        "Europe/Berlin",
    }


async def test_feed_token_is_revocable_and_renewing_retires_the_old_one(api, people):
    ana = people["ana"]
    first = await feed_path(api, ana)
    assert (await api.get(first)).status == 200
    second = await feed_path(api, ana)
    assert (await api.get(first)).status == 401
    assert (await api.get(second)).status == 200
    assert (await api.delete("/api/v1/users/me/feed-token", headers=ana.headers)).status == 204
    revoked = await api.get(second)
    assert revoked.status == 401 and "revoked" in (await revoked.json())["error"]["message"]
    assert (await api.get("/api/v1/users/me/reservations.ics")).status == 401


async def test_feed_token_opens_only_the_feed_and_only_its_owners(api, people, make_resource):
    ana, binh = people["ana"], people["binh"]
    path = await feed_path(api, binh)
    token = path.split("token=")[1]
    # Not a sign-in token.
    assert (
        await api.get("/api/v1/reservations", headers={"Authorization": f"Bearer {token}"})
    ).status == 401
    # The URL names no member: the token alone decides whose feed it is.
    body = await (await api.get(path)).read()
    assert "Prusa" not in body.decode()
    printer = await make_resource()
    resp = await api.get(f"/api/v1/resources/{printer['id']}/reservations.ics?token={token}")
    assert resp.status == 403
    assert (
        await api.get(f"/api/v1/resources/{printer['id']}/reservations.ics", headers=ana.headers)
    ).status == 403


async def test_staff_resource_feed_lists_every_booking_with_who_made_it(
    api, people, make_resource, book
):
    printer = await make_resource()
    start = next_boundary(30, 2 * HOUR)
    await book(people["ana"], printer, start, start + HOUR)
    await book(people["binh"], printer, start + HOUR, start + 2 * HOUR)
    librarian = people["librarian"]
    resp = await api.get(
        f"/api/v1/resources/{printer['id']}/reservations.ics", headers=librarian.headers
    )
    assert resp.status == 200
    calendar = Calendar.from_ical(await resp.read())
    found = sorted(calendar.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    assert [e["DTSTART"].dt.astimezone(UTC) for e in found] == [start, start + HOUR]
    assert all(str(e["DESCRIPTION"]).startswith("Booked by ") for e in found)
    # Staff may subscribe with their own feed token, since calendar apps send no headers.
    staff_feed = await feed_path(api, librarian)
    token = staff_feed.split("token=")[1]
    by_token = await api.get(f"/api/v1/resources/{printer['id']}/reservations.ics?token={token}")
    assert by_token.status == 200
