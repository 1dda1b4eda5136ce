"""iCalendar feeds of reservations (RFC 5545), for members' and staff calendars.

Events carry local times with a TZID, so a calendar app shows them on the resource's wall clock,
and the feed ships a VTIMEZONE for every zone it uses, written out from the zone database's
own transitions for the years the events cover. Clients that do not know the IANA name (or
know an older version of the zone) still place every event at the stored UTC instant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

PRODUCT_ID = "-//smartlib//makerspace booking//EN"

# Reservation states → iCalendar STATUS: a request still waiting for approval is tentative;
# anything that will not (or did not) happen is shown struck through rather than vanishing,
# so a member's calendar tells them it was cancelled.
STATUS_BY_STATE: dict[str, str] = {
    "requested": "TENTATIVE",
    "confirmed": "CONFIRMED",
    "completed": "CONFIRMED",
    "cancelled": "CANCELLED",
    "denied": "CANCELLED",
    "no_show": "CANCELLED",
}

# Coarse enough to be cheap over a few years, fine enough that no zone has two offset changes
# within one step (the closest real pairs are weeks apart).
_SCAN_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class CalendarEntry:
    """One reservation as a calendar shows it; `start`/`end` are the stored aware instants."""

    uid: str
    start: datetime
    end: datetime
    timezone: str
    summary: str
    state: str = "confirmed"
    location: str | None = None
    description: str | None = None
    # When the reservation last changed; clients use it (and SEQUENCE) to spot a moved slot.
    updated_at: datetime | None = None
    sequence: int = 0


class Transition(NamedTuple):
    """A change of a zone's UTC offset or abbreviation at `instant` (UTC)."""

    instant: datetime
    offset_before: timedelta
    offset_after: timedelta
    is_dst: bool
    name: str


def _state_of(zone: ZoneInfo, instant: datetime) -> tuple[timedelta, timedelta, str]:
    local = instant.astimezone(zone)
    return local.utcoffset() or timedelta(0), local.dst() or timedelta(0), local.tzname() or ""


def zone_transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[Transition]:
    """The zone's transitions within [start, end), to the second.

    `zoneinfo` does not expose its transition table, so it is found by watching the offset
    change and narrowing each change down by bisection.
    """
    transitions: list[Transition] = []
    # Whole seconds, so that bisection always has a midpoint strictly between its ends.
    cursor = start.astimezone(UTC).replace(microsecond=0)
    state = _state_of(zone, cursor)
    while cursor < end:
        step_end = min(cursor + _SCAN_STEP, end)
        next_state = _state_of(zone, step_end)
        if next_state != state:
            lo, hi = cursor, step_end
            while hi - lo > timedelta(seconds=1):
                mid = (lo + (hi - lo) / 2).replace(microsecond=0)
                if _state_of(zone, mid) == state:
                    lo = mid
                else:
                    hi = mid
            offset, dst, name = _state_of(zone, hi)
            transitions.append(Transition(hi, state[0], offset, bool(dst), name))
            state = _state_of(zone, hi)
            cursor = hi
            continue
        cursor = step_end
    return transitions


def vtimezone(name: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `name` valid from 1 January `first_year` to the end of `last_year`.

    One observance per transition (no RRULE): exact for past rule changes and trivially correct
    for zones without daylight saving time, at the cost of a few more lines per year.
    """
    zone = ZoneInfo(name)
    begin = datetime(first_year, 1, 1, tzinfo=zone).astimezone(UTC)
    finish = datetime(last_year + 1, 1, 1, tzinfo=zone).astimezone(UTC)
    component = Timezone()
    component.add("tzid", name)
    offset, dst, abbreviation = _state_of(zone, begin)
    # The observance in force when the covered range opens, so every covered instant is defined.
    component.add_component(
        _observance(bool(dst), begin + offset, offset, offset, abbreviation),
    )
    for change in zone_transitions(zone, begin, finish):
        component.add_component(
            _observance(
                change.is_dst,
                # DTSTART of an observance is the wall time just before the change.
                change.instant + change.offset_before,
                change.offset_before,
                change.offset_after,
                change.name,
            )
        )
    return component


def _observance(
    is_dst: bool, onset: datetime, offset_from: timedelta, offset_to: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if is_dst else TimezoneStandard()
    observance.add("dtstart", onset.replace(tzinfo=None))
    observance.add("tzoffsetfrom", offset_from)
    observance.add("tzoffsetto", offset_to)
    if name:
        observance.add("tzname", name)
    return observance


def _is_second_occurrence(local: datetime) -> bool:
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def build_feed(entries: Iterable[CalendarEntry], *, name: str, generated_at: datetime) -> bytes:
    """A complete VCALENDAR: one VEVENT per entry and one VTIMEZONE per zone the events use."""
    entries = list(entries)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    # Subscribed feeds are polled; an hour keeps them fresh without hammering the server.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")

    years: dict[str, tuple[int, int]] = {}
    for entry in entries:
        zone = ZoneInfo(entry.timezone)
        first = entry.start.astimezone(zone).year
        last = entry.end.astimezone(zone).year
        low, high = years.get(entry.timezone, (first, last))
        years[entry.timezone] = (min(low, first), max(high, last))
    for zone_name, (first, last) in sorted(years.items()):
        calendar.add_component(vtimezone(zone_name, first, last))

    stamp = generated_at.astimezone(UTC)
    for entry in entries:
        calendar.add_component(_event(entry, stamp))
    return calendar.to_ical()


def _event(entry: CalendarEntry, stamp: datetime) -> Event:
    if entry.state not in STATUS_BY_STATE:
        raise ValueError(f"unknown reservation state {entry.state!r}")
    zone = ZoneInfo(entry.timezone)
    start, end = entry.start.astimezone(zone), entry.end.astimezone(zone)
    event = Event()
    event.add("uid", entry.uid)
    # In a published feed DTSTAMP is when the event's information last changed.
    event.add("dtstamp", (entry.updated_at or stamp).astimezone(UTC))
    if entry.updated_at is not None:
        event.add("last-modified", entry.updated_at.astimezone(UTC))
    if _is_second_occurrence(start) or _is_second_occurrence(end):
        # RFC 5545 reads a repeated local time as its first occurrence, so an instant in the
        # second pass of a clock-back hour can only be written exactly in UTC.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", entry.summary)
    if entry.location:
        event.add("location", entry.location)
    if entry.description:
        event.add("description", entry.description)
    event.add("status", STATUS_BY_STATE[entry.state])
    event.add("sequence", entry.sequence)
    return event
