"""iCalendar feeds parse back with `icalendar` to the stored instants, DST changes included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from booking.calendar import CalendarEntry, build_feed, vtimezone, zone_transitions

BERLIN = ZoneInfo("Europe/Berlin")
GENERATED = datetime(2026, 11, 22, 3, tzinfo=UTC)


def entry(uid: str, start: datetime, hours: float = 1, **changes: object) -> CalendarEntry:
    values: dict[str, object] = {
        "uid": uid,
        "start": start,
        "end": start + timedelta(hours=hours),
        "timezone": "Europe/Berlin",
        "summary": "Prusa MK4 #2",
        "location": "Makerspace, 2nd floor",
    }
    values.update(changes)
    return CalendarEntry(**values)  # type: ignore[arg-type]


def parse(feed: bytes) -> Calendar:
    return Calendar.from_ical(feed)


def events_by_uid(calendar: Calendar) -> dict[str, object]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


ENTRIES = [
    # Before, across and after clocks going forward (29 March 2026, 01:00Z).
    entry("r1@smartlib", datetime(2026, 3, 28, 9, tzinfo=UTC)),
    entry("r2@smartlib", datetime(2026, 3, 29, 0, 30, tzinfo=UTC)),
    entry("r3@smartlib", datetime(2026, 3, 30, 9, tzinfo=UTC)),
    # Across clocks going back (25 October 2026, 01:00Z).
    entry("r4@smartlib", datetime(2026, 10, 24, 23, 30, tzinfo=UTC), hours=2),
    entry(
        "r5@smartlib",
        datetime(2026, 11, 24, 2, tzinfo=UTC),
        timezone="Asia/Ho_Chi_Minh",
        summary="Sewing machine",
        state="requested",
    ),
]


def test_every_reservation_parses_back_to_its_stored_instants() -> None:
    events = events_by_uid(parse(build_feed(ENTRIES, name="My bookings", generated_at=GENERATED)))
    assert set(events) == {item.uid for item in ENTRIES}
    for item in ENTRIES:
        event = events[item.uid]
        # Compared in UTC: equality between zones is unreliable for repeated local times.
        assert event["DTSTART"].dt.astimezone(UTC) == item.start
        assert event["DTEND"].dt.astimezone(UTC) == item.end


def test_events_carry_the_resource_zone_as_tzid() -> None:
    events = events_by_uid(parse(build_feed(ENTRIES, name="My bookings", generated_at=GENERATED)))
    assert events["r2@smartlib"]["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert events["r5@smartlib"]["DTSTART"].params["TZID"] == "Asia/Ho_Chi_Minh"
    # 02:00Z is 09:00 on the wall clock in Ho Chi Minh City.
    assert events["r5@smartlib"]["DTSTART"].to_ical() == b"20261124T090000"


def test_each_used_zone_gets_exactly_one_vtimezone() -> None:
    calendar = parse(build_feed(ENTRIES, name="My bookings", generated_at=GENERATED))
    tzids = sorted(str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE"))
    assert tzids == ["Asia/Ho_Chi_Minh", "Europe/Berlin"]


def test_feed_without_reservations_has_no_vtimezone_and_no_event() -> None:
    calendar = parse(build_feed([], name="Empty", generated_at=GENERATED))
    assert calendar.walk("VTIMEZONE") == [] and calendar.walk("VEVENT") == []
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"])


@pytest.mark.parametrize(
    "zone", ["Europe/Berlin", "Asia/Ho_Chi_Minh", "America/New_York", "Australia/Lord_Howe"]
)
def test_vtimezone_reproduces_the_zone_database_offsets(zone: str) -> None:
    # Built fresh from the VTIMEZONE text alone, not looked up by its name.
    component = Calendar.from_ical(vtimezone(zone, 2026, 2027).to_ical())
    rebuilt = component.to_tz(lookup_tzid=False)
    reference = ZoneInfo(zone)
    instant = datetime(2026, 1, 1, 12, tzinfo=UTC)
    while instant < datetime(2027, 12, 31, tzinfo=UTC):
        assert instant.astimezone(rebuilt).utcoffset() == instant.astimezone(reference).utcoffset()
        instant += timedelta(hours=5)


def test_vtimezone_observances_start_at_the_wall_time_of_each_change() -> None:
    component = vtimezone("Europe/Berlin", 2026, 2026)
    starts = {
        observance.name: observance.decoded("DTSTART")
        for observance in component.subcomponents
        if observance.decoded("TZOFFSETFROM") != observance.decoded("TZOFFSETTO")
    }
    assert starts == {
        "DAYLIGHT": datetime(2026, 3, 29, 2, 0),
        "STANDARD": datetime(2026, 10, 25, 3, 0),
    }


def test_zone_without_daylight_saving_has_no_transitions() -> None:
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert zone_transitions(zone, start, start + timedelta(days=730)) == []


def test_transitions_are_found_to_the_second() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    changes = zone_transitions(BERLIN, start, start + timedelta(days=365))
    assert [change.instant for change in changes] == [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    ]
    assert [change.name for change in changes] == ["CEST", "CET"]


def test_second_pass_of_a_repeated_hour_is_written_in_utc() -> None:
    # 01:30Z on 25 October is 02:30 CET, the second 02:30 of that night in Berlin.
    repeated = entry("r6@smartlib", datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    first_pass = entry("r7@smartlib", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), hours=0.25)
    feed = build_feed([repeated, first_pass], name="Night", generated_at=GENERATED)
    events = events_by_uid(parse(feed))
    assert events["r6@smartlib"]["DTSTART"].to_ical() == b"20261025T013000Z"
    assert events["r7@smartlib"]["DTSTART"].to_ical() == b"20261025T023000"
    assert events["r6@smartlib"]["DTSTART"].dt.astimezone(UTC) == repeated.start
    assert events["r7@smartlib"]["DTSTART"].dt.astimezone(UTC) == first_pass.start


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("requested", "TENTATIVE"),
        ("confirmed", "CONFIRMED"),
        ("completed", "CONFIRMED"),
        ("cancelled", "CANCELLED"),
        ("denied", "CANCELLED"),
        ("no_show", "CANCELLED"),
    ],
)
def test_reservation_state_becomes_the_event_status(state: str, status: str) -> None:
    item = entry("r8@smartlib", datetime(2026, 11, 24, 9, tzinfo=UTC), state=state)
    event = events_by_uid(parse(build_feed([item], name="x", generated_at=GENERATED)))[
        "r8@smartlib"
    ]
    assert str(event["STATUS"]) == status


def test_unknown_state_is_a_programming_error() -> None:
    item = entry("r9@smartlib", datetime(2026, 11, 24, 9, tzinfo=UTC), state="maybe")
    with pytest.raises(ValueError, match="maybe"):
        build_feed([item], name="x", generated_at=GENERATED)


def test_event_has_summary_location_and_a_utc_stamp_from_its_last_change() -> None:
    changed = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    item = entry("r10@smartlib", datetime(2026, 11, 24, 9, tzinfo=UTC), updated_at=changed)
    plain = entry("r11@smartlib", datetime(2026, 11, 24, 11, tzinfo=UTC))
    events = events_by_uid(parse(build_feed([item, plain], name="x", generated_at=GENERATED)))
    assert str(events["r10@smartlib"]["SUMMARY"]) == "Prusa MK4 #2"
    assert str(events["r10@smartlib"]["LOCATION"]) == "Makerspace, 2nd floor"
    assert events["r10@smartlib"]["DTSTAMP"].dt == changed
    assert events["r11@smartlib"]["DTSTAMP"].dt == GENERATED
    assert events["r10@smartlib"]["DTSTAMP"].to_ical().endswith(b"Z")


def test_feed_lines_are_crlf_terminated_and_folded_to_75_octets() -> None:
    long_summary = "Laser cutter " + "with a very long description " * 10
    item = entry("r12@smartlib", datetime(2026, 11, 24, 9, tzinfo=UTC), summary=long_summary)
    feed = build_feed([item], name="x", generated_at=GENERATED)
    lines = feed.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and lines[-2] == b"END:VCALENDAR"
    assert all(len(line) <= 75 for line in lines)
    assert str(events_by_uid(parse(feed))["r12@smartlib"]["SUMMARY"]) == long_summary
