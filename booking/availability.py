"""When can a resource still be booked, and how long a slot does a print job need?

Availability is computed from the same policy and the same buffer arithmetic as the rules and
the database constraint, so every interval offered here is one `check_request` accepts and the
conflict check does not reject (apart from races, which the database settles).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from booking.hours import (
    TimeRange,
    merge,
    open_intervals,
    require_aware,
    slot_ceil,
    slot_floor,
    wall_to_utc,
)
from booking.policy import BookingPolicy
from booking.rules import (
    MemberFacts,
    Rule,
    RuleBroken,
    format_duration,
    format_minutes,
    week_monday,
    week_range,
)
from core.errors import Invalid


@dataclass(frozen=True)
class FreeInterval:
    """A stretch in which a booking may lie, and the longest booking that fits in it.

    The stretch itself is not capped by the maximum duration: a member may pick any part of it.
    `longest_minutes` is that pick's upper bound for this member (policy maximum, the stretch
    itself, and, when the member is known, what is left of their weekly allowance).
    """

    start: datetime
    end: datetime
    longest_minutes: int


def subtract(ranges: Iterable[TimeRange], holes: Iterable[TimeRange]) -> list[TimeRange]:
    """`ranges` minus `holes`; both may be unsorted, the result is sorted and merged."""
    remaining = merge(ranges)
    for hole in merge(holes):
        pieces: list[TimeRange] = []
        for piece in remaining:
            if hole.end <= piece.start or piece.end <= hole.start:
                pieces.append(piece)
                continue
            if piece.start < hole.start:
                pieces.append(TimeRange(piece.start, hole.start))
            if hole.end < piece.end:
                pieces.append(TimeRange(hole.end, piece.end))
        remaining = pieces
    return remaining


def blocked_ranges(policy: BookingPolicy, bookings: Iterable[TimeRange]) -> list[TimeRange]:
    """Where a new booking may not lie because of existing ones.

    The conflict check compares [start, end + buffer) of both bookings, so an existing booking
    blocks its own buffer after it and also the buffer's length before it: a new booking there
    would have its cool-down run into the existing one.
    """
    buffer = timedelta(minutes=policy.buffer_minutes)
    return merge(
        TimeRange(start.astimezone(UTC) - buffer, end.astimezone(UTC) + buffer)
        for start, end in bookings
    )


def free_intervals(
    policy: BookingPolicy,
    start: datetime,
    end: datetime,
    bookings: Iterable[TimeRange],
    *,
    now: datetime | None = None,
    member: MemberFacts | None = None,
) -> list[FreeInterval]:
    """The free, bookable stretches of [start, end), in UTC.

    `bookings` are the resource's active reservations; pass every one that overlaps
    [start - buffer, end + buffer), since buffers reach across the window's edges. With `now`,
    stretches respect the lead time and how far ahead bookings may be made (a booking must
    also end by the midnight after the last bookable day). With `member`, the member's own
    limits apply too: none left when they hold the maximum of active bookings or lack the
    training, and `longest_minutes` shrinks to their remaining weekly allowance.
    """
    require_aware(start, end)
    window = TimeRange(start.astimezone(UTC), end.astimezone(UTC))
    if now is not None:
        require_aware(now)
        earliest = slot_ceil(policy, now + timedelta(minutes=policy.min_lead_minutes))
        last_day = now.astimezone(policy.zone).date() + timedelta(days=policy.max_days_ahead + 1)
        window = TimeRange(
            max(window.start, earliest), min(window.end, wall_to_utc(last_day, 0, policy.zone))
        )
    if window.end <= window.start:
        return []

    free = subtract(open_intervals(policy, *window), blocked_ranges(policy, bookings))
    if member is not None:
        free = _within_member_limits(policy, free, member)
        if policy.max_minutes_per_week is not None:
            free = _split_by_week(policy, free)

    result: list[FreeInterval] = []
    for stretch in free:
        # Opening hours or bookings off the slot grid leave ragged edges a booking cannot use.
        aligned = TimeRange(slot_ceil(policy, stretch.start), slot_floor(policy, stretch.end))
        if aligned.end <= aligned.start:
            continue
        longest = min(policy.max_minutes, math.floor(aligned.minutes))
        if member is not None and policy.max_minutes_per_week is not None:
            booked = member.booked_minutes.get((policy.type, week_monday(policy, aligned.start)), 0)
            longest = min(longest, policy.max_minutes_per_week - booked)
        longest -= longest % policy.slot_minutes
        if longest >= policy.min_minutes:
            result.append(FreeInterval(aligned.start, aligned.end, longest))
    return result


def _within_member_limits(
    policy: BookingPolicy, free: list[TimeRange], member: MemberFacts
) -> list[TimeRange]:
    limit = policy.max_active_reservations
    if limit is not None and member.active_reservations.get(policy.type, 0) >= limit:
        return []
    training = policy.certification
    if training is None:
        return free
    if training not in member.certifications:
        return []
    expiry = member.certifications[training]
    if expiry is None:
        return free
    # A booking must end while the training is still valid.
    return [
        TimeRange(piece.start, min(piece.end, expiry.astimezone(UTC)))
        for piece in free
        if piece.start < expiry
    ]


def _split_by_week(policy: BookingPolicy, free: list[TimeRange]) -> list[TimeRange]:
    """Cut stretches at local week boundaries, since each week has its own allowance."""
    pieces: list[TimeRange] = []
    for stretch in free:
        cursor = stretch.start
        while cursor < stretch.end:
            week_end = week_range(policy, week_monday(policy, cursor)).end
            pieces.append(TimeRange(cursor, min(week_end, stretch.end)))
            cursor = week_end
    return pieces


def slot_for_duration(policy: BookingPolicy, start: datetime, seconds: float) -> datetime:
    """The end of a booking sized for a print estimated to take `seconds`.

    Rounded up to whole slots (and to at least the minimum booking, which a short print must
    still take); the buffer is not added here because the conflict check adds it to every
    booking. Refuses a print that would need more than the longest booking allowed.
    """
    require_aware(start)
    if not seconds > 0:
        raise Invalid(
            "The print job has no time estimate, so no slot can be sized from it; slice it "
            "first or give an end time.",
            field="duration_from_job",
        )
    slot = policy.slot_minutes
    minutes = max(policy.min_minutes, math.ceil(math.ceil(seconds / 60) / slot) * slot)
    if minutes > policy.max_minutes:
        raise RuleBroken(
            Rule.MAX_DURATION,
            f"This print is estimated at {format_duration(timedelta(seconds=seconds))}, which "
            f"needs a {format_minutes(minutes)} booking; bookings on '{policy.name}' can be at "
            f"most {format_minutes(policy.max_minutes)} long.",
            field="duration_from_job",
        )
    # A UTC-offset change inside the booking can move the end off the local slot grid.
    return slot_ceil(policy, start.astimezone(UTC) + timedelta(minutes=minutes))
