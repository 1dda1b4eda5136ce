"""Opening hours and slot boundaries: local wall-clock rules turned into UTC instants.

Reservations are stored as UTC instants, but a library's hours and slot grid are wall-clock
rules in the resource's time zone. Everything that crosses between the two lives here, so the
daylight-saving edge cases are decided once:

- a local time that does not exist (skipped when clocks go forward) means the instant the
  clocks jump past it, for both opening and closing;
- a local time that happens twice (clocks go back) opens at its first occurrence and closes at
  its last, so a day's opening hours never shrink or break apart because of the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from booking.policy import BookingPolicy


class TimeRange(NamedTuple):
    """A half-open interval [start, end) of UTC instants."""

    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


def require_aware(*instants: datetime) -> None:
    """Naive datetimes have no meaning here; accepting them would silently assume a zone."""
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{instant!r} has no UTC offset")


def wall_to_utc(day: date, minute: int, zone: ZoneInfo, *, latest: bool = False) -> datetime:
    """The UTC instant when the wall clock in `zone` shows `minute` minutes after `day`'s midnight.

    `minute` may be 1440 (24:00, the next midnight). `latest` chooses the second occurrence of a
    repeated local time; a skipped local time maps to the moment of the jump either way.
    """
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    occurrences = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        # A time in the gap converts to some instant whose wall time differs from the input.
        if instant.astimezone(zone).replace(tzinfo=None) == wall:
            occurrences.append(instant)
    if occurrences:
        return max(occurrences) if latest else min(occurrences)
    low, high = sorted(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return _offset_change_between(low, high, zone)


def _offset_change_between(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (low, high] that already has `high`'s UTC offset (to the second)."""
    target = high.astimezone(zone).utcoffset()
    lo, hi = 0, int((high - low).total_seconds())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if (low + timedelta(seconds=mid)).astimezone(zone).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return low + timedelta(seconds=hi)


def local_day_ranges(policy: BookingPolicy, day: date) -> list[TimeRange]:
    """One local date's opening spans as UTC ranges (exceptions already applied)."""
    zone = policy.zone
    return [
        TimeRange(wall_to_utc(day, a, zone), wall_to_utc(day, b, zone, latest=True))
        for a, b in policy.hours_on(day)
    ]


def merge(ranges: Iterable[TimeRange]) -> list[TimeRange]:
    """Sorted, with touching or overlapping ranges joined (a 24:00 close meets a 00:00 open)."""
    merged: list[TimeRange] = []
    for current in sorted(ranges):
        if merged and current.start <= merged[-1].end:
            if current.end > merged[-1].end:
                merged[-1] = TimeRange(merged[-1].start, current.end)
        else:
            merged.append(current)
    return merged


def open_intervals(policy: BookingPolicy, start: datetime, end: datetime) -> list[TimeRange]:
    """The resource's opening hours within [start, end), as merged UTC ranges."""
    require_aware(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    zone = policy.zone
    # A day's hours can reach past its own midnight only when clocks go back at midnight, so one
    # local day either side of the window is enough to catch every span that touches it.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    clipped: list[TimeRange] = []
    while day <= last:
        for opened in local_day_ranges(policy, day):
            a, b = max(opened.start, start), min(opened.end, end)
            if a < b:
                clipped.append(TimeRange(a, b))
        day += timedelta(days=1)
    return merge(clipped)


def first_closed_instant(policy: BookingPolicy, start: datetime, end: datetime) -> datetime | None:
    """The first instant of [start, end) outside opening hours, or None if open throughout."""
    cursor = start.astimezone(UTC)
    for opened in open_intervals(policy, start, end):
        if opened.start > cursor:
            return cursor
        cursor = max(cursor, opened.end)
    return cursor if cursor < end else None


def is_open_throughout(policy: BookingPolicy, start: datetime, end: datetime) -> bool:
    """Whether [start, end) lies entirely inside the resource's opening hours (local time)."""
    return first_closed_instant(policy, start, end) is None


def _into_slot(policy: BookingPolicy, instant: datetime) -> timedelta:
    """How far past the last slot boundary of the local wall clock `instant` is."""
    local = instant.astimezone(policy.zone)
    since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    # Subtracting aware datetimes in the same zone compares wall times, which is what the slot
    # grid is drawn on (slots restart at every local midnight).
    return since_midnight % timedelta(minutes=policy.slot_minutes)


def is_on_slot_boundary(policy: BookingPolicy, instant: datetime) -> bool:
    """Whether the local wall time of `instant` falls on the resource's slot grid."""
    require_aware(instant)
    return _into_slot(policy, instant) == timedelta(0)


# Each step lands on a boundary unless a UTC-offset change moves the grid under it; a few
# steps settle even the half-hour shifts some zones make.
_MAX_STEPS = 8


def slot_ceil(policy: BookingPolicy, instant: datetime) -> datetime:
    """The first slot boundary at or after `instant` (UTC)."""
    require_aware(instant)
    candidate = instant.astimezone(UTC)
    slot = timedelta(minutes=policy.slot_minutes)
    for _ in range(_MAX_STEPS):
        into = _into_slot(policy, candidate)
        if not into:
            return candidate
        candidate += slot - into
    raise ArithmeticError(f"no slot boundary found after {instant.isoformat()}")


def slot_floor(policy: BookingPolicy, instant: datetime) -> datetime:
    """The last slot boundary at or before `instant` (UTC)."""
    require_aware(instant)
    candidate = instant.astimezone(UTC)
    for _ in range(_MAX_STEPS):
        into = _into_slot(policy, candidate)
        if not into:
            return candidate
        candidate -= into
    raise ArithmeticError(f"no slot boundary found before {instant.isoformat()}")
