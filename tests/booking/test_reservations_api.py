"""Booking through the REST API: rules at their limits, conflicts, approval, cancel, move, check-in,
staff overrides, member isolation and print-sized slots, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from tests.booking.booking_api import (
    ALL_DAY,
    build_app,
    iso,
    next_boundary,
    next_eu_spring_forward,
    next_weekday,
)

HOUR = timedelta(hours=1)
SLOT = timedelta(minutes=30)
BERLIN = ZoneInfo("Europe/Berlin")


def error(body: dict) -> str:
    return body["error"]["message"]


async def test_longest_booking_is_accepted_and_one_slot_more_is_refused_naming_the_limit(
    people, make_resource, book
):
    printer = await make_resource(max_minutes=120)
    start = next_boundary(30, 2 * HOUR)
    status, body = await book(people["ana"], printer, start, start + 2 * HOUR)
    assert status == 201, body
    later = start + 6 * HOUR
    status, body = await book(people["ana"], printer, later, later + 2 * HOUR + SLOT)
    assert status == 422
    assert "at most 2 h long" in error(body) and "2 h 30 min" in error(body)


async def test_lead_time_is_enforced_at_its_boundary(people, make_resource, book):
    printer = await make_resource(min_lead_minutes=60)
    accepted = next_boundary(30, timedelta(minutes=61))
    refused = accepted - SLOT
    if refused - datetime.now(UTC) >= timedelta(minutes=59):
        refused -= SLOT
    status, body = await book(people["ana"], printer, refused, refused + HOUR)
    assert status == 422 and "at least 1 h before they start" in error(body)
    status, body = await book(people["ana"], printer, accepted, accepted + HOUR)
    assert status == 201, body


async def test_booking_outside_opening_hours_names_the_hours_in_local_time(
    people, make_resource, book
):
    day = next_eu_spring_forward() - timedelta(days=4)  # a Wednesday
    laser = await make_resource(
        type="laser",
        name="Laser cutter",
        timezone="Europe/Berlin",
        opening_hours={d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        max_days_ahead=400,
    )
    last_fit = datetime(day.year, day.month, day.day, 18, tzinfo=BERLIN)
    status, body = await book(people["ana"], laser, last_fit, last_fit + 2 * HOUR)
    assert status == 201, body
    assert body["start"].endswith("18:00:00+01:00") and body["timezone"] == "Europe/Berlin"
    late = last_fit + SLOT  # 18:30–20:30, half an hour past closing
    status, body = await book(people["binh"], laser, late, late + 2 * HOUR)
    assert status == 422, body
    assert "open 08:00–20:00" in error(body) and "18:30–20:30" in error(body)


async def test_times_are_stored_in_utc_and_shown_in_the_resource_zone_across_dst(
    people, make_resource, book, api
):
    change = next_eu_spring_forward()
    room = await make_resource(
        type="room", name="Sewing room", timezone="Europe/Berlin", max_days_ahead=400
    )
    two_days_before, day_after = change - timedelta(days=2), change + timedelta(days=1)
    before = datetime.combine(two_days_before, time(10), tzinfo=BERLIN)
    after = datetime.combine(day_after, time(10), tzinfo=BERLIN)
    _, first = await book(people["ana"], room, before, before + HOUR)
    _, second = await book(people["ana"], room, after.astimezone(UTC), after + HOUR)
    assert first["start"].endswith("T10:00:00+01:00")
    assert second["start"].endswith("T10:00:00+02:00")  # sent in UTC, shown on the wall clock
    assert datetime.fromisoformat(second["start"]) == after
    # An hour across the change at 02:00 is one hour of real time even though the clock skips.
    night = datetime(change.year, change.month, change.day, 1, 30, tzinfo=BERLIN)
    status, body = await book(people["ana"], room, night, night.astimezone(UTC) + HOUR)
    assert status == 201, body
    assert body["start"].endswith("T01:30:00+01:00") and body["end"].endswith("T03:30:00+02:00")


async def test_missing_or_expired_training_refuses_with_the_reason(
    api, people, make_resource, book
):
    printer = await make_resource(certification="fdm-basic")
    start = next_boundary(30, 3 * HOUR)
    status, body = await book(people["ana"], printer, start, start + HOUR)
    assert status == 422 and "need the 'fdm-basic' training" in error(body)

    librarian, ana = people["librarian"], people["ana"]
    grant = f"/api/v1/users/{ana.id}/certifications"
    lapsed = datetime.now(UTC) - timedelta(days=3)
    resp = await api.post(
        grant, json={"type": "fdm-basic", "expires_at": iso(lapsed)}, headers=librarian.headers
    )
    assert resp.status == 201
    status, body = await book(ana, printer, start, start + HOUR)
    assert status == 422 and "which expired on" in error(body)

    # Valid to the minute the booking ends: accepted.
    resp = await api.post(
        grant,
        json={"type": "fdm-basic", "expires_at": iso(start + HOUR)},
        headers=librarian.headers,
    )
    assert resp.status == 201
    status, body = await book(ana, printer, start, start + HOUR)
    assert status == 201, body

    listed = await (await api.get(grant, headers=ana.headers)).json()
    assert [c["type"] for c in listed["items"]] == ["fdm-basic"] and listed["total"] == 1
    other = await api.get(grant, headers=people["binh"].headers)
    assert other.status == 403
    member_grant = await api.post(
        f"/api/v1/users/{people['binh'].id}/certifications",
        json={"type": "fdm-basic"},
        headers=ana.headers,
    )
    assert member_grant.status == 403
    revoked = await api.delete(f"{grant}/fdm-basic", headers=librarian.headers)
    assert revoked.status == 204
    later = start + 2 * HOUR
    status, body = await book(ana, printer, later, later + HOUR)
    assert status == 422 and "need the 'fdm-basic' training" in error(body)


async def test_active_booking_limit_counts_per_resource_type(people, make_resource, book):
    first = await make_resource(name="MK4 #1", max_active_reservations=1)
    second = await make_resource(name="MK4 #2", max_active_reservations=1)
    start = next_boundary(30, 2 * HOUR)
    assert (await book(people["ana"], first, start, start + HOUR))[0] == 201
    status, body = await book(people["ana"], second, start, start + HOUR)
    assert status == 422
    assert "at most 1 active 'printer' bookings" in error(body) and "already have 1" in error(body)
    assert (await book(people["binh"], second, start, start + HOUR))[0] == 201


async def test_taken_slot_is_409_naming_the_slot_and_buffer_in_local_time(
    people, make_resource, book
):
    printer = await make_resource(buffer_minutes=30)
    start = next_boundary(60, 3 * HOUR)
    assert (await book(people["ana"], printer, start, start + HOUR))[0] == 201
    local = start.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    # Starting right at the end of the booking runs into its 30 min cool-down.
    status, body = await book(people["binh"], printer, start + HOUR, start + 2 * HOUR)
    assert status == 409
    message = error(body)
    assert f"from {local:%H:%M} to {local + HOUR:%H:%M}" in message
    assert "Asia/Ho_Chi_Minh time" in message and "30 min" in message
    # After the cool-down the resource is free again.
    status, _ = await book(people["binh"], printer, start + HOUR + SLOT, start + 2 * HOUR + SLOT)
    assert status == 201


async def test_requests_on_approval_resources_wait_for_staff(api, people, make_resource, book):
    laser = await make_resource(type="laser", name="Laser cutter", needs_approval=True)
    start = next_boundary(30, 2 * HOUR)
    status, request = await book(people["ana"], laser, start, start + HOUR)
    assert status == 201 and request["state"] == "requested"
    # A pending request already holds its slot.
    assert (await book(people["binh"], laser, start, start + HOUR))[0] == 409
    url = f"/api/v1/reservations/{request['id']}"
    assert (await api.post(f"{url}/approve", headers=people["ana"].headers)).status == 403
    resp = await api.post(
        f"{url}/approve",
        json={"note": "bring your own plywood"},
        headers=people["librarian"].headers,
    )
    approved = await resp.json()
    assert resp.status == 200 and approved["state"] == "confirmed"
    assert approved["decided_by"] == people["librarian"].id
    again = await api.post(f"{url}/approve", headers=people["librarian"].headers)
    assert again.status == 409

    later = start + 3 * HOUR
    _, second = await book(people["binh"], laser, later, later + HOUR)
    resp = await api.post(
        f"/api/v1/reservations/{second['id']}/deny",
        json={"note": "the laser is being serviced"},
        headers=people["librarian"].headers,
    )
    denied = await resp.json()
    assert denied["state"] == "denied" and denied["decision_note"] == "the laser is being serviced"
    # A denied request frees its slot.
    assert (await book(people["ana"], laser, later, later + HOUR))[0] == 201


async def test_members_cancel_until_the_start_and_staff_at_any_time(
    api, people, make_resource, book
):
    printer = await make_resource()
    ana, binh, librarian = people["ana"], people["binh"], people["librarian"]
    start = next_boundary(30, 2 * HOUR)
    _, future = await book(ana, printer, start, start + HOUR)
    assert (
        await api.delete(f"/api/v1/reservations/{future['id']}", headers=binh.headers)
    ).status == 404
    resp = await api.delete(f"/api/v1/reservations/{future['id']}", headers=ana.headers)
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"
    assert (
        await api.delete(f"/api/v1/reservations/{future['id']}", headers=ana.headers)
    ).status == 409
    assert (await book(binh, printer, start, start + HOUR))[0] == 201

    # A booking that has started: staff made it (override) for Ana.
    began = next_boundary(30) - HOUR
    status, started = await book(
        librarian, printer, began, began + 2 * HOUR, user_id=ana.id, override_reason="walk-in"
    )
    assert status == 201, started
    resp = await api.delete(f"/api/v1/reservations/{started['id']}", headers=ana.headers)
    assert resp.status == 403 and "before it starts" in error(await resp.json())
    resp = await api.delete(f"/api/v1/reservations/{started['id']}", headers=librarian.headers)
    assert resp.status == 200 and (await resp.json())["state"] == "cancelled"


async def test_moving_rechecks_rules_and_conflicts_and_frees_the_old_slot(
    api, people, make_resource, book
):
    printer = await make_resource(max_minutes=120)
    ana, binh = people["ana"], people["binh"]
    start = next_boundary(30, 2 * HOUR)
    _, mine = await book(ana, printer, start, start + HOUR)
    _, theirs = await book(binh, printer, start + 3 * HOUR, start + 4 * HOUR)
    url = f"/api/v1/reservations/{mine['id']}"

    onto = await api.patch(url, json={"start": iso(start + 3 * HOUR + SLOT)}, headers=ana.headers)
    assert onto.status == 409 and "already booked" in error(await onto.json())
    too_long = await api.patch(url, json={"end": iso(start + 3 * HOUR)}, headers=ana.headers)
    assert too_long.status == 422 and "at most 2 h" in error(await too_long.json())
    by_other = await api.patch(url, json={"start": iso(start + HOUR)}, headers=binh.headers)
    assert by_other.status == 404

    moved = await api.patch(url, json={"start": iso(start + HOUR)}, headers=ana.headers)
    body = await moved.json()
    assert moved.status == 200, body
    assert datetime.fromisoformat(body["start"]) == start + HOUR
    assert datetime.fromisoformat(body["end"]) == start + 2 * HOUR  # length kept
    # The old slot is free; the new one is taken.
    assert (await book(binh, printer, start, start + HOUR))[0] == 201
    assert (await book(binh, printer, start + HOUR, start + 2 * HOUR))[0] == 409
    assert theirs["state"] == "confirmed"


async def test_check_in_opens_shortly_before_the_start(api, people, make_resource, book):
    printer = await make_resource()
    ana, librarian = people["ana"], people["librarian"]
    began = next_boundary(30) - SLOT
    _, now_booking = await book(
        librarian, printer, began, began + 2 * HOUR, user_id=ana.id, override_reason="drop-in"
    )
    resp = await api.post(f"/api/v1/reservations/{now_booking['id']}/check-in", headers=ana.headers)
    body = await resp.json()
    assert resp.status == 200 and body["checked_in_at"] is not None
    assert datetime.fromisoformat(body["checked_in_at"]) >= began

    later = next_boundary(30, 5 * HOUR)
    _, future = await book(ana, printer, later, later + HOUR)
    resp = await api.post(f"/api/v1/reservations/{future['id']}/check-in", headers=ana.headers)
    assert resp.status == 422 and "Check-in opens 15 min before" in error(await resp.json())
    other = await api.post(
        f"/api/v1/reservations/{future['id']}/check-in", headers=people["binh"].headers
    )
    assert other.status == 404


async def test_staff_override_is_recorded_with_reason_and_waived_rules(
    api, people, make_resource, book
):
    printer = await make_resource(
        opening_hours={"mon": [["08:00", "09:00"]]}, max_minutes=60, certification="fdm-basic"
    )
    ana, librarian = people["ana"], people["librarian"]
    start = next_boundary(30, 2 * HOUR)
    status, body = await book(ana, printer, start, start + 2 * HOUR, override_reason="please")
    assert status == 403
    status, body = await book(
        librarian,
        printer,
        start,
        start + 2 * HOUR,
        user_id=ana.id,
        override_reason="Workshop for the school visit",
    )
    assert status == 201, body
    assert body["user_id"] == ana.id
    override = body["override"]
    assert override["by"] == librarian.id and override["reason"] == "Workshop for the school visit"
    waived = {rule["rule"] for rule in override["rules"]}
    assert {"max_duration", "certification"} <= waived
    # Recorded: the member sees the same record later.
    fetched = await (
        await api.get(f"/api/v1/reservations/{body['id']}", headers=ana.headers)
    ).json()
    assert fetched["override"] == override
    # An override does not waive the double-booking guarantee.
    status, body = await book(
        librarian, printer, start, start + HOUR, override_reason="Double it", user_id=ana.id
    )
    assert status == 409


async def test_members_see_only_their_own_reservations(api, people, make_resource, book):
    printer = await make_resource()
    room = await make_resource(type="room", name="Study room")
    ana, binh, librarian = people["ana"], people["binh"], people["librarian"]
    start = next_boundary(30, 2 * HOUR)
    _, anas = await book(ana, printer, start, start + HOUR)
    await book(binh, printer, start + 2 * HOUR, start + 3 * HOUR)
    await book(binh, room, start, start + HOUR)

    mine = await (await api.get("/api/v1/reservations", headers=ana.headers)).json()
    assert [r["id"] for r in mine["items"]] == [anas["id"]] and mine["total"] == 1
    assert (await api.get(f"/api/v1/reservations/{anas['id']}", headers=binh.headers)).status == 404
    peek = await api.get(f"/api/v1/reservations?user_id={ana.id}", headers=binh.headers)
    assert peek.status == 403

    on_printer = await api.get(
        f"/api/v1/reservations?resource_id={printer['id']}&limit=1", headers=librarian.headers
    )
    page = await on_printer.json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next"]
    rest = await api.get(
        f"/api/v1/reservations?resource_id={printer['id']}&after={page['next']}",
        headers=librarian.headers,
    )
    second = await rest.json()
    assert {r["user_id"] for r in page["items"] + second["items"]} == {ana.id, binh.id}
    assert second["next"] is None


async def test_print_jobs_size_their_slot_from_the_estimate(settings, people, make_resource):
    async def estimate(job_id: str) -> float | None:
        return {"job-7": 5000.0}.get(job_id)  # 1 h 23 min 20 s

    printer = await make_resource(buffer_minutes=15)
    start = next_boundary(30, 2 * HOUR)
    body = {"resource_id": printer["id"], "start": iso(start), "duration_from_job": "job-7"}
    async with TestClient(TestServer(build_app(settings, estimate), host="127.0.0.1")) as client:
        resp = await client.post("/api/v1/reservations", json=body, headers=people["ana"].headers)
        booked = await resp.json()
        assert resp.status == 201, booked
        assert datetime.fromisoformat(booked["end"]) == start + timedelta(minutes=90)
        assert datetime.fromisoformat(booked["blocked_until"]) == start + timedelta(minutes=105)
        assert booked["print_job_id"] == "job-7"
        unknown = {**body, "duration_from_job": "job-8", "start": iso(start + 3 * HOUR)}
        resp = await client.post(
            "/api/v1/reservations", json=unknown, headers=people["ana"].headers
        )
        assert resp.status == 404


async def test_print_sized_slot_for_an_unknown_job_is_refused_clearly(api, people, make_resource):
    """The app sizes slots from the print farm's estimates; a job it doesn't know is named."""
    printer = await make_resource()
    start = next_boundary(30, 2 * HOUR)
    body = {"resource_id": printer["id"], "start": iso(start), "duration_from_job": 7}
    resp = await api.post("/api/v1/reservations", json=body, headers=people["ana"].headers)
    payload = await resp.json()
    assert resp.status == 404 and payload["error"]["field"] == "duration_from_job"
    assert "Print job 7 was not found" in error(payload)


async def test_times_without_offset_and_anonymous_requests_are_refused(api, people, make_resource):
    printer = await make_resource()
    body = {"resource_id": printer["id"], "start": "2030-01-07T10:00", "end": "2030-01-07T11:00"}
    resp = await api.post("/api/v1/reservations", json=body, headers=people["ana"].headers)
    assert resp.status == 422 and (await resp.json())["error"]["field"] == "start"
    assert (await api.post("/api/v1/reservations", json=body)).status == 401
    assert ALL_DAY["sun"] == [["00:00", "24:00"]]


async def test_weekly_hours_limit_is_reached_exactly_and_not_passed(people, make_resource, book):
    room = await make_resource(type="room", name="Study room", max_minutes_per_week=120)
    monday = datetime.combine(next_weekday(0), time(10), tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    ana = people["ana"]
    assert (await book(ana, room, monday, monday + HOUR))[0] == 201
    assert (await book(ana, room, monday + 2 * HOUR, monday + 3 * HOUR))[0] == 201
    status, body = await book(ana, room, monday + 4 * HOUR, monday + 4 * HOUR + SLOT)
    assert status == 422
    assert "at most 2 h per week" in error(body) and "you have 2 h booked" in error(body)
    # Another member has an allowance of their own.
    assert (await book(people["binh"], room, monday + 4 * HOUR, monday + 5 * HOUR))[0] == 201
