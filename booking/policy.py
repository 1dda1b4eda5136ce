"""A bookable resource's rules, as one immutable value.

Every booking decision (rules, availability, calendar feeds) is a pure function of this value and
plain datetimes, so the decisions can be tested without a database and the reservation service
only has to load the policy once per request. Local times of day are kept as minutes since local
midnight: that makes "24:00" an ordinary value (1440) and keeps comparisons integer-exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache, cached_property
from zoneinfo import ZoneInfo, available_timezones

from core.errors import Invalid

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# A span of local wall-clock time within one day: (start, end) in minutes since local midnight,
# start in [0, 1440), end in (start, 1440].
Span = tuple[int, int]
DayHours = tuple[Span, ...]

# Weekdays 08:00–20:00, Saturday 09:00–17:00, Sunday closed: what a resource gets when the
# librarian does not say, so a freshly created printer is bookable at sensible times.
DEFAULT_OPENING_HOURS: tuple[DayHours, ...] = (
    *([((8 * 60, 20 * 60),)] * 5),
    ((9 * 60, 17 * 60),),
    (),
)

_CLOCK = re.compile(r"(\d{2}):(\d{2})")


def parse_clock(text: str, *, allow_midnight_end: bool = False) -> int:
    """'HH:MM' → minutes since midnight; '24:00' only where it can mean the end of the day."""
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not a time of day; write it as HH:MM, e.g. 08:30")
    hours, minutes = int(match[1]), int(match[2])
    if hours == 24 and minutes == 0:
        if allow_midnight_end:
            return DAY_MINUTES
        raise ValueError(
            "24:00 can only end an interval; an interval starting at midnight is 00:00"
        )
    if hours > 23 or minutes > 59:
        raise ValueError(f"'{text}' is not a time of day; hours run 00–23 and minutes 00–59")
    return hours * 60 + minutes


def format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_spans(spans: DayHours) -> str:
    """Opening hours as a librarian writes them: '08:00–12:00, 13:00–20:00' or 'closed'."""
    if not spans:
        return "closed"
    return ", ".join(f"{format_clock(a)}–{format_clock(b)}" for a, b in spans)


@cache
def known_timezones() -> frozenset[str]:
    # Scanning the zone database takes tens of milliseconds; the set never changes while the
    # process runs, so it is read once.
    return frozenset(available_timezones())


def check_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name, refusing names the zone database does not know.

    `ZoneInfo` alone would accept odd keys that happen to be files on this machine (such as
    'localtime'), which would make a resource's hours depend on where the server runs.
    """
    if name not in known_timezones():
        raise Invalid(
            f"'{name}' is not a time zone this library knows; use an IANA name such as "
            f"'{DEFAULT_TIMEZONE}' or 'Europe/Berlin'.",
            field="timezone",
        )
    return ZoneInfo(name)


def check_day_hours(spans: DayHours, where: str) -> None:
    """Refuse hours a librarian cannot have meant: reversed, out of order, overlapping."""
    previous_end = -1
    for index, (start, end) in enumerate(spans):
        label = f"{format_clock(start)}–{format_clock(end)}"
        if not (0 <= start < DAY_MINUTES and 0 < end <= DAY_MINUTES):
            raise Invalid(f"Opening hours {label} fall outside the day.", field=f"{where}.{index}")
        if end <= start:
            raise Invalid(
                f"Opening hours {label} end before they start; an interval must end after it "
                "starts.",
                field=f"{where}.{index}",
            )
        if start < previous_end:
            raise Invalid(
                f"Opening hours {label} overlap or come before the previous interval; list each "
                "day's intervals in order, without overlaps.",
                field=f"{where}.{index}",
            )
        previous_end = end


@dataclass(frozen=True)
class HoursException:
    """A local date whose hours replace the weekday's: a holiday (no spans) or special hours."""

    day: date
    hours: DayHours = ()
    reason: str | None = None


@dataclass(frozen=True)
class BookingPolicy:
    """How one resource may be booked. Validated on construction, so every instance is usable."""

    type: str
    name: str
    timezone: str = DEFAULT_TIMEZONE
    # Indexed by weekday, Monday = 0, in the resource's local time.
    opening_hours: tuple[DayHours, ...] = DEFAULT_OPENING_HOURS
    exceptions: tuple[HoursException, ...] = ()
    location: str | None = None
    slot_minutes: int = 30
    min_minutes: int = 30
    max_minutes: int = 240
    # Cool-down or cleaning after each booking; the conflict check adds it, not the booking.
    buffer_minutes: int = 0
    min_lead_minutes: int = 0
    max_days_ahead: int = 30
    needs_approval: bool = False
    certification: str | None = None
    # Per-member limits, counted over resources of the same type; None means no limit.
    max_active_reservations: int | None = None
    max_minutes_per_week: int | None = None

    def __post_init__(self) -> None:
        if not self.type.strip():
            raise Invalid("A resource needs a type, such as 'printer' or 'room'.", field="type")
        if not self.name.strip():
            raise Invalid("A resource needs a name.", field="name")
        check_timezone(self.timezone)
        if len(self.opening_hours) != 7:
            raise Invalid("Opening hours need one entry per weekday.", field="opening_hours")
        for weekday, spans in zip(WEEKDAYS, self.opening_hours, strict=True):
            check_day_hours(spans, f"opening_hours.{weekday}")
        seen: set[date] = set()
        for index, exception in enumerate(self.exceptions):
            if exception.day in seen:
                raise Invalid(
                    f"{exception.day.isoformat()} has two entries; give each date once.",
                    field=f"exceptions.{index}.date",
                )
            seen.add(exception.day)
            check_day_hours(exception.hours, f"exceptions.{index}.hours")
        self._check_durations()

    def _check_durations(self) -> None:
        slot = self.slot_minutes
        if not 1 <= slot <= DAY_MINUTES or DAY_MINUTES % slot:
            raise Invalid(
                f"Slot length {slot} min must divide a day evenly (e.g. 15, 30, 60), so slots "
                "line up from midnight every day.",
                field="slot_minutes",
            )
        for name in ("min_minutes", "max_minutes"):
            value = getattr(self, name)
            if value < slot or value % slot:
                raise Invalid(
                    f"{name} ({value}) must be a whole number of slots of {slot} min.", field=name
                )
        if self.min_minutes > self.max_minutes:
            raise Invalid(
                f"The shortest booking ({self.min_minutes} min) is longer than the longest "
                f"({self.max_minutes} min).",
                field="min_minutes",
            )
        for name in ("buffer_minutes", "min_lead_minutes", "max_days_ahead"):
            if getattr(self, name) < 0:
                raise Invalid(f"{name} cannot be negative.", field=name)
        if self.max_active_reservations is not None and self.max_active_reservations < 1:
            raise Invalid(
                "max_active_reservations must be at least 1, or left out for no limit.",
                field="max_active_reservations",
            )
        if self.max_minutes_per_week is not None and self.max_minutes_per_week < self.min_minutes:
            raise Invalid(
                f"max_minutes_per_week ({self.max_minutes_per_week}) is shorter than the "
                f"shortest booking ({self.min_minutes} min), so nobody could book.",
                field="max_minutes_per_week",
            )
        if self.certification is not None and not self.certification.strip():
            raise Invalid(
                "certification must name a training, or be left out.", field="certification"
            )

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _exceptions_by_day(self) -> dict[date, HoursException]:
        return {exception.day: exception for exception in self.exceptions}

    def exception_on(self, day: date) -> HoursException | None:
        return self._exceptions_by_day.get(day)

    def hours_on(self, day: date) -> DayHours:
        """The local opening spans of one local date, exceptions taking precedence."""
        exception = self._exceptions_by_day.get(day)
        if exception is not None:
            return exception.hours
        return self.opening_hours[day.weekday()]
