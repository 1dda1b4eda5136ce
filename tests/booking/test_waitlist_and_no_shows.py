"""Freed slots go to the next member on the waitlist; bookings nobody shows up for are released."""

from __future__ import annotations

from datetime import timedelta

from booking.reservations import complete_finished, release_no_shows
from booking.sweeps import SweepResult, sweep_once
from booking.waitlist import SLOT_OFFERED
from core.database import unit_of_work, utcnow
from tests.booking.booking_api import iso, next_boundary, wait_for
from web.keys import EVENTS

HOUR = timedelta(hours=1)


def listen(api, topic: str) -> list[dict]:
    heard: list[dict] = []

    async def record(_topic: str, payload: dict) -> None:
        heard.append(payload)

    api.server.app[EVENTS].subscribe(topic, record)
    return heard


async def test_cancelled_slot_is_offered_to_the_first_member_waiting(
    api, people, make_person, make_resource, book
):
    offers = listen(api, SLOT_OFFERED)
    printer = await make_resource(buffer_minutes=15)
    ana, binh = people["ana"], people["binh"]
    chi = (await make_person("member")).headers
    start = next_boundary(30, 3 * HOUR)
    _, taken = await book(ana, printer, start, start + HOUR)

    wanted = {"resource_id": printer["id"], "start": iso(start), "end": iso(start + HOUR)}
    resp = await api.post("/api/v1/waitlist", json=wanted, headers=binh.headers)
    entry = await resp.json()
    assert resp.status == 201 and entry["state"] == "waiting"
    assert (await api.post("/api/v1/waitlist", json=wanted, headers=binh.headers)).status == 409
    assert (await api.post("/api/v1/waitlist", json=wanted, headers=chi)).status == 201
    free = {**wanted, "start": iso(start + 3 * HOUR), "end": iso(start + 4 * HOUR)}
    resp = await api.post("/api/v1/waitlist", json=free, headers=chi)
    assert resp.status == 422 and "book it instead" in (await resp.json())["error"]["message"]
    assert offers == []

    await api.delete(f"/api/v1/reservations/{taken['id']}", headers=ana.headers)
    await wait_for(lambda: offers, what="the slot offer")
    assert len(offers) == 1
    offer = offers[0]
    assert offer["user_id"] == binh.id and offer["waitlist_id"] == entry["id"]
    assert offer["resource_id"] == printer["id"] and offer["timezone"] == "Asia/Ho_Chi_Minh"
    assert offer["start"] == entry["start"] and offer["end"] == entry["end"]
    mine = await (await api.get("/api/v1/waitlist", headers=binh.headers)).json()
    assert [e["state"] for e in mine["items"]] == ["offered"]
    # The offered member books through the ordinary request.
    assert (await book(binh, printer, start, start + HOUR))[0] == 201


async def test_unchecked_booking_is_released_after_the_grace_and_offered_on(
    api, sessions, people, make_resource, book
):
    offers = listen(api, SLOT_OFFERED)
    printer = await make_resource()
    ana, binh, librarian = people["ana"], people["binh"], people["librarian"]
    began = next_boundary(30) - HOUR
    _, absent = await book(
        librarian, printer, began, began + 3 * HOUR, user_id=ana.id, override_reason="phoned in"
    )
    _, present = await book(
        librarian,
        printer,
        began + 3 * HOUR,
        began + 4 * HOUR,
        user_id=binh.id,
        override_reason="phoned in",
    )
    # Binh waits for a slot inside Ana's booking, still ahead of now.
    later = began + 2 * HOUR
    wanted = {"resource_id": printer["id"], "start": iso(later), "end": iso(later + HOUR)}
    assert (await api.post("/api/v1/waitlist", json=wanted, headers=binh.headers)).status == 201

    bus = api.server.app[EVENTS]
    async with unit_of_work(sessions) as session:
        # Within the grace nothing is released.
        kept = await release_no_shows(session, bus, now=utcnow(), grace=2 * HOUR)
    assert kept == []
    async with unit_of_work(sessions) as session:
        released = await release_no_shows(session, bus, now=utcnow(), grace=timedelta(minutes=15))
    assert [r.id for r in released] == [absent["id"]]

    shown = await api.get(f"/api/v1/reservations/{absent['id']}", headers=ana.headers)
    assert (await shown.json())["state"] == "no_show"
    await wait_for(lambda: offers, what="the slot offer after the no-show")
    assert offers[0]["user_id"] == binh.id
    assert (await book(binh, printer, later, later + HOUR))[0] == 201
    still = await api.get(f"/api/v1/reservations/{present['id']}", headers=binh.headers)
    assert (await still.json())["state"] == "confirmed"


async def test_checked_in_bookings_are_completed_once_they_end(
    api, sessions, people, make_resource, book
):
    printer = await make_resource()
    ana, librarian = people["ana"], people["librarian"]
    began = next_boundary(30) - HOUR
    _, visit = await book(
        librarian, printer, began, began + 2 * HOUR, user_id=ana.id, override_reason="drop-in"
    )
    await api.post(f"/api/v1/reservations/{visit['id']}/check-in", headers=ana.headers)
    async with unit_of_work(sessions) as session:
        assert await complete_finished(session, now=utcnow()) == 0
        assert not await release_no_shows(session, api.server.app[EVENTS], now=utcnow())
    # The worker's periodic sweep does both in one transaction.
    swept = await sweep_once(sessions, api.server.app[EVENTS], now=began + 2 * HOUR)
    assert swept == SweepResult(released=0, completed=1)
    shown = await api.get(f"/api/v1/reservations/{visit['id']}", headers=ana.headers)
    assert (await shown.json())["state"] == "completed"
