"""The booking rules: may this member book this resource from `start` to `end`?

`check_request` is the single judge the reservation service calls before it touches the
database (the database only guarantees there is no overlap). Every refusal names the rule and
its limit in words a member understands, because the 422 the member sees carries this message
unchanged. Staff may override the member-facing rules with a reason; the rules that were broken
are returned so the service can record exactly what was waived.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from booking.hours import TimeRange, first_closed_instant, is_on_slot_boundary, wall_to_utc
from booking.policy import BookingPolicy, format_spans
from core.errors import Invalid

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_PLURAL_DAY_NAMES = (
    "Mondays",
    "Tuesdays",
    "Wednesdays",
    "Thursdays",
    "Fridays",
    "Saturdays",
    "Sundays",
)


class Rule(StrEnum):
    """The rules a booking can break; the values are what the service records for an override."""

    TIMEZONE = "timezone"
    ORDER = "order"
    SLOT = "slot"
    MIN_DURATION = "min_duration"
    MAX_DURATION = "max_duration"
    LEAD_TIME = "lead_time"
    DAYS_AHEAD = "days_ahead"
    OPENING_HOURS = "opening_hours"
    CERTIFICATION = "certification"
    ACTIVE_LIMIT = "active_limit"
    WEEKLY_LIMIT = "weekly_limit"


class RuleBroken(Invalid):
    """A refusal that knows which rule refused, so callers can branch on it without parsing text."""

    def __init__(self, rule: Rule, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.rule = rule


@dataclass(frozen=True)
class Breach:
    """One broken rule, as recorded when staff override it."""

    rule: Rule
    message: str
    field: str | None = None


@dataclass(frozen=True)
class MemberFacts:
    """What the rules need to know about the member, gathered by the service beforehand.

    - `active_reservations`: resource type → the member's requested or confirmed reservations
      that have not ended (leave out the one being moved).
    - `booked_minutes`: (resource type, local Monday of the week) → minutes the member has
      booked that week, cancelled ones excluded; `minutes_by_week` computes it from rows.
    - `certifications`: training type → expiry instant, or None for a training that never
      expires. A training the member does not hold is simply absent.
    """

    active_reservations: Mapping[str, int] = field(default_factory=dict)
    booked_minutes: Mapping[tuple[str, date], int] = field(default_factory=dict)
    certifications: Mapping[str, datetime | None] = field(default_factory=dict)


# Formatting: fixed English names instead of strftime, whose month names follow the server's
# locale and would change the messages from one machine to the next.


def format_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_day(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {format_date(day)}"


def format_duration(length: timedelta) -> str:
    """'5 h 30 min', '4 h', '45 min' — whole minutes, rounded down."""
    minutes = math.floor(length.total_seconds() / 60)
    if minutes <= 0:
        return "less than a minute" if length > timedelta(0) else "0 min"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def format_minutes(minutes: int) -> str:
    return format_duration(timedelta(minutes=minutes))


def _local_clock(policy: BookingPolicy, instant: datetime) -> str:
    local = instant.astimezone(policy.zone)
    # Seconds only when they are the problem (a time off the slot grid by a few seconds).
    return f"{local:%H:%M:%S}" if local.second or local.microsecond else f"{local:%H:%M}"


def _local_span(policy: BookingPolicy, start: datetime, end: datetime) -> str:
    first, last = start.astimezone(policy.zone), end.astimezone(policy.zone)
    if first.date() == last.date():
        return f"{first:%H:%M}–{last:%H:%M}"
    return (
        f"from {format_day(first.date())} {first:%H:%M} to {format_day(last.date())} {last:%H:%M}"
    )


# Weeks are counted in the resource's local time and start on Monday, because that is the week
# the member sees on the library's calendar.


def week_monday(policy: BookingPolicy, instant: datetime) -> date:
    local_day = instant.astimezone(policy.zone).date()
    return local_day - timedelta(days=local_day.weekday())


def week_range(policy: BookingPolicy, monday: date) -> TimeRange:
    """The UTC instants of the local week starting on `monday`, for querying a member's bookings."""
    zone = policy.zone
    return TimeRange(wall_to_utc(monday, 0, zone), wall_to_utc(monday + timedelta(days=7), 0, zone))


def minutes_by_week(policy: BookingPolicy, ranges: Iterable[TimeRange]) -> dict[date, int]:
    """Booked minutes per local week (keyed by its Monday); a booking over a week's end is split."""
    seconds: dict[date, float] = {}
    for start, end in ranges:
        monday = week_monday(policy, start)
        while True:
            week = week_range(policy, monday)
            if week.start >= end:
                break
            part = min(end, week.end) - max(start, week.start)
            if part > timedelta(0):
                seconds[monday] = seconds.get(monday, 0.0) + part.total_seconds()
            monday += timedelta(days=7)
    # Rounded up so that a limit can never be dodged by bookings a few seconds short.
    return {monday: math.ceil(total / 60) for monday, total in seconds.items()}


def check_request(
    policy: BookingPolicy,
    start: datetime,
    end: datetime,
    now: datetime,
    member: MemberFacts,
    *,
    override: bool = False,
    override_reason: str | None = None,
) -> tuple[Breach, ...]:
    """Refuse a booking request that breaks a rule, or return the rules a staff override waived.

    Without an override the first broken rule raises `RuleBroken` (an `Invalid`, so a 422) and
    nothing is returned but `()`. With an override every member-facing rule is still evaluated
    and the broken ones are returned for the record; the validity rules (times with an offset,
    end after start) hold even for staff, since no booking can be made of such times.
    """
    _check_validity(policy, start, end, now)
    if override and not (override_reason or "").strip():
        raise Invalid(
            "A staff override needs a reason, so the exception can be explained later.",
            field="override_reason",
        )
    breaches = _member_rules(policy, start.astimezone(UTC), end.astimezone(UTC), now, member)
    if override:
        return tuple(breaches)
    for breach in breaches:
        raise RuleBroken(breach.rule, breach.message, field=breach.field)
    return ()


def _check_validity(policy: BookingPolicy, start: datetime, end: datetime, now: datetime) -> None:
    for name, instant in (("start", start), ("end", end)):
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise RuleBroken(
                Rule.TIMEZONE,
                f"The {name} time {instant.isoformat()} has no UTC offset; send times in ISO 8601 "
                "with an offset, such as 2026-11-23T09:00:00+07:00.",
                field=name,
            )
    if now.tzinfo is None or now.utcoffset() is None:
        # The caller's clock, not the member's input: a programming error, not a refusal.
        raise ValueError("now must be timezone-aware")
    if end <= start:
        raise RuleBroken(
            Rule.ORDER,
            f"A booking must end after it starts; this one on '{policy.name}' starts at "
            f"{_local_clock(policy, start)} and ends at {_local_clock(policy, end)}.",
            field="end",
        )


def _member_rules(
    policy: BookingPolicy, start: datetime, end: datetime, now: datetime, member: MemberFacts
) -> Iterator[Breach]:
    """The overridable rules in the order a member should hear about them: shape, time, person."""
    name = f"'{policy.name}'"
    grid = f"{policy.slot_minutes} min"
    for label, instant in (("start", start), ("end", end)):
        if not is_on_slot_boundary(policy, instant):
            yield Breach(
                Rule.SLOT,
                f"Bookings on {name} must start and end on the {grid} slot grid (counted from "
                f"midnight, {policy.timezone} time); this one {label}s at "
                f"{_local_clock(policy, instant)}.",
                label,
            )
            break

    length = end - start
    if length < timedelta(minutes=policy.min_minutes):
        yield Breach(
            Rule.MIN_DURATION,
            f"Bookings on {name} must be at least {format_minutes(policy.min_minutes)} long; "
            f"this one is {format_duration(length)}.",
            "end",
        )
    if length > timedelta(minutes=policy.max_minutes):
        yield Breach(
            Rule.MAX_DURATION,
            f"Bookings on {name} can be at most {format_minutes(policy.max_minutes)} long; "
            f"this one is {format_duration(length)}.",
            "end",
        )

    yield from _time_rules(policy, start, end, now)
    yield from _person_rules(policy, start, end, now, member)


def _time_rules(
    policy: BookingPolicy, start: datetime, end: datetime, now: datetime
) -> Iterator[Breach]:
    name = f"'{policy.name}'"
    lead = timedelta(minutes=policy.min_lead_minutes)
    if start < now + lead:
        if not lead:
            problem = f"Bookings on {name} cannot start in the past"
        else:
            problem = (
                f"Bookings on {name} must be made at least {format_duration(lead)} before "
                "they start"
            )
        if start < now:
            when = f"this one started at {_local_clock(policy, start)}"
        else:
            when = f"this one starts in {format_duration(start - now)}"
        yield Breach(Rule.LEAD_TIME, f"{problem}; {when}.", "start")

    today = now.astimezone(policy.zone).date()
    last_day = today + timedelta(days=policy.max_days_ahead)
    start_day = start.astimezone(policy.zone).date()
    if start_day > last_day:
        yield Breach(
            Rule.DAYS_AHEAD,
            f"Bookings on {name} can be made at most {policy.max_days_ahead} days ahead (up to "
            f"{format_day(last_day)}); this one is on {format_day(start_day)}.",
            "start",
        )

    closed_at = first_closed_instant(policy, start, end)
    if closed_at is not None:
        yield Breach(Rule.OPENING_HOURS, _closed_message(policy, start, end, closed_at), "start")


def _closed_message(
    policy: BookingPolicy, start: datetime, end: datetime, closed_at: datetime
) -> str:
    name = f"'{policy.name}'"
    day = closed_at.astimezone(policy.zone).date()
    hours = policy.hours_on(day)
    exception = policy.exception_on(day)
    why = f" ({exception.reason})" if exception is not None and exception.reason else ""
    if not hours:
        if exception is None:
            return (
                f"{name} is closed on {_PLURAL_DAY_NAMES[day.weekday()]}; this booking falls "
                f"on {format_day(day)}."
            )
        return f"{name} is closed on {format_day(day)}{why}, so it cannot be booked then."
    kind = "special hours, " if exception is not None else ""
    return (
        f"Bookings on {name} must lie within its opening hours; on {format_day(day)}{why} it "
        f"is open {format_spans(hours)} ({kind}{policy.timezone} time), and this booking runs "
        f"{_local_span(policy, start, end)}."
    )


def _person_rules(
    policy: BookingPolicy, start: datetime, end: datetime, now: datetime, member: MemberFacts
) -> Iterator[Breach]:
    name = f"'{policy.name}'"
    training = policy.certification
    if training is not None:
        if training not in member.certifications:
            yield Breach(
                Rule.CERTIFICATION,
                f"Bookings on {name} need the '{training}' training; a librarian records it "
                "once you have taken it.",
            )
        else:
            expiry = member.certifications[training]
            # Valid through the whole booking: a training lapsing halfway would leave the
            # member on the machine without it.
            if expiry is not None and expiry < end:
                expiry_day = format_date(expiry.astimezone(policy.zone).date())
                if expiry <= now:
                    state = f"which expired on {expiry_day}"
                else:
                    state = f"which expires on {expiry_day}, before this booking ends"
                yield Breach(
                    Rule.CERTIFICATION,
                    f"Bookings on {name} need the '{training}' training, {state}; a librarian "
                    "can renew it.",
                )

    limit = policy.max_active_reservations
    if limit is not None:
        active = member.active_reservations.get(policy.type, 0)
        if active >= limit:
            yield Breach(
                Rule.ACTIVE_LIMIT,
                f"Members can hold at most {limit} active '{policy.type}' bookings at a time; "
                f"you already have {active}.",
            )

    weekly = policy.max_minutes_per_week
    if weekly is not None:
        for monday, minutes in sorted(minutes_by_week(policy, [TimeRange(start, end)]).items()):
            booked = member.booked_minutes.get((policy.type, monday), 0)
            if booked + minutes > weekly:
                yield Breach(
                    Rule.WEEKLY_LIMIT,
                    f"Members can book '{policy.type}' resources for at most "
                    f"{format_minutes(weekly)} per week; in the week of {format_day(monday)} "
                    f"you have {format_minutes(booked)} booked and this booking adds "
                    f"{format_minutes(minutes)}.",
                )
                break
