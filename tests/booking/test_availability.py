"""Free intervals (hours, buffers, bookings, the member's limits) and print-sized slots."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.availability import FreeInterval, free_intervals, slot_for_duration
from booking.hours import TimeRange
from booking.policy import BookingPolicy, HoursException
from booking.rules import MemberFacts, Rule, RuleBroken, check_request
from core.errors import Invalid

HCM = ZoneInfo("Asia/Ho_Chi_Minh")

PRINTER = BookingPolicy(
    type="printer",
    name="Prusa MK4 #2",
    slot_minutes=30,
    min_minutes=30,
    max_minutes=240,
    buffer_minutes=15,
    certification="fdm-basic",
    max_active_reservations=2,
    max_minutes_per_week=360,
)
TRAINED = MemberFacts(certifications={"fdm-basic": None})


def tuesday(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=HCM)


def spans(free: list[FreeInterval]) -> list[tuple[str, str]]:
    return [
        (f"{item.start.astimezone(HCM):%a %H:%M}", f"{item.end.astimezone(HCM):%a %H:%M}")
        for item in free
    ]


def test_a_day_without_bookings_is_free_during_opening_hours() -> None:
    free = free_intervals(PRINTER, tuesday(0), tuesday(23), [])
    assert spans(free) == [("Tue 08:00", "Tue 20:00")]
    assert free[0].longest_minutes == 240


def test_existing_booking_blocks_itself_and_its_buffer_on_both_sides() -> None:
    free = free_intervals(PRINTER, tuesday(0), tuesday(23), [TimeRange(tuesday(10), tuesday(11))])
    # Blocked 09:45–11:15, then cut back to the 30-minute grid.
    assert spans(free) == [("Tue 08:00", "Tue 09:30"), ("Tue 11:30", "Tue 20:00")]


def test_without_a_buffer_bookings_may_touch() -> None:
    policy = replace(PRINTER, buffer_minutes=0)
    free = free_intervals(policy, tuesday(0), tuesday(23), [TimeRange(tuesday(10), tuesday(11))])
    assert spans(free) == [("Tue 08:00", "Tue 10:00"), ("Tue 11:00", "Tue 20:00")]


def test_offered_edges_do_not_collide_with_the_buffered_booking() -> None:
    existing = TimeRange(tuesday(10), tuesday(11))
    buffer = timedelta(minutes=PRINTER.buffer_minutes)
    for item in free_intervals(PRINTER, tuesday(0), tuesday(23), [existing]):
        # The database compares [start, end + buffer) of both bookings.
        assert item.end + buffer <= existing.start or existing.end + buffer <= item.start


def test_gap_shorter_than_the_minimum_booking_is_not_offered() -> None:
    policy = replace(PRINTER, buffer_minutes=0, min_minutes=60)
    bookings = [TimeRange(tuesday(9), tuesday(11)), TimeRange(tuesday(11, 30), tuesday(12))]
    free = free_intervals(policy, tuesday(0), tuesday(23), bookings)
    assert spans(free) == [("Tue 08:00", "Tue 09:00"), ("Tue 12:00", "Tue 20:00")]


def test_gap_exactly_the_minimum_booking_is_offered() -> None:
    policy = replace(PRINTER, buffer_minutes=0, min_minutes=60)
    bookings = [TimeRange(tuesday(9), tuesday(11)), TimeRange(tuesday(12), tuesday(20))]
    free = free_intervals(policy, tuesday(0), tuesday(23), bookings)
    assert ("Tue 11:00", "Tue 12:00") in spans(free)


def test_bookings_just_outside_the_window_still_cast_their_buffer_into_it() -> None:
    policy = replace(PRINTER, buffer_minutes=60)
    free = free_intervals(policy, tuesday(10), tuesday(14), [TimeRange(tuesday(9), tuesday(10))])
    assert spans(free) == [("Tue 11:00", "Tue 14:00")]


def test_holiday_has_no_free_time() -> None:
    policy = replace(PRINTER, exceptions=(HoursException(date(2026, 11, 24), ()),))
    assert free_intervals(policy, tuesday(0), tuesday(23), []) == []


def test_unaligned_opening_hours_are_trimmed_to_the_slot_grid() -> None:
    policy = replace(PRINTER, opening_hours=(((8 * 60 + 10, 19 * 60 + 50),),) * 7)
    assert spans(free_intervals(policy, tuesday(0), tuesday(23), [])) == [
        ("Tue 08:30", "Tue 19:30")
    ]


def test_lead_time_moves_the_first_offer_to_the_next_slot_after_it() -> None:
    policy = replace(PRINTER, min_lead_minutes=60)
    free = free_intervals(policy, tuesday(0), tuesday(23), [], now=tuesday(9, 10))
    assert spans(free) == [("Tue 10:30", "Tue 20:00")]


def test_nothing_is_offered_beyond_the_last_bookable_day() -> None:
    policy = replace(PRINTER, max_days_ahead=1)
    monday_night = datetime(2026, 11, 23, 21, tzinfo=HCM)
    free = free_intervals(
        policy, monday_night, monday_night + timedelta(days=3), [], now=monday_night
    )
    assert spans(free) == [("Tue 08:00", "Tue 20:00")]


def test_every_offered_start_passes_the_rules() -> None:
    bookings = [TimeRange(tuesday(10), tuesday(11)), TimeRange(tuesday(15), tuesday(17))]
    now = datetime(2026, 11, 23, 12, tzinfo=HCM)
    for item in free_intervals(PRINTER, tuesday(0), tuesday(23), bookings, now=now, member=TRAINED):
        end = item.start + timedelta(minutes=item.longest_minutes)
        assert check_request(PRINTER, item.start, end, now, TRAINED) == ()


def test_member_at_the_active_limit_sees_nothing_free() -> None:
    member = replace(TRAINED, active_reservations={"printer": 2})
    assert free_intervals(PRINTER, tuesday(0), tuesday(23), [], member=member) == []
    one_less = replace(TRAINED, active_reservations={"printer": 1})
    assert free_intervals(PRINTER, tuesday(0), tuesday(23), [], member=one_less) != []


def test_member_without_the_training_sees_nothing_free() -> None:
    assert free_intervals(PRINTER, tuesday(0), tuesday(23), [], member=MemberFacts()) == []


def test_member_whose_training_expires_sees_free_time_only_until_then() -> None:
    member = MemberFacts(certifications={"fdm-basic": tuesday(12, 40)})
    free = free_intervals(PRINTER, tuesday(0), tuesday(23), [], member=member)
    assert spans(free) == [("Tue 08:00", "Tue 12:30")]


def test_remaining_weekly_hours_cap_the_longest_booking() -> None:
    member = replace(TRAINED, booked_minutes={("printer", date(2026, 11, 23)): 300})
    free = free_intervals(PRINTER, tuesday(0), tuesday(23), [], member=member)
    assert spans(free) == [("Tue 08:00", "Tue 20:00")]
    assert free[0].longest_minutes == 60


def test_exhausted_week_offers_nothing_until_next_week() -> None:
    member = replace(TRAINED, booked_minutes={("printer", date(2026, 11, 23)): 340})
    sunday, next_tuesday = tuesday(0) + timedelta(days=5), tuesday(0) + timedelta(days=7)
    free = free_intervals(PRINTER, tuesday(0), next_tuesday, [], member=member)
    assert all(item.start >= sunday for item in free)
    assert free[0].longest_minutes == 240


def test_room_open_all_day_is_free_for_25_hours_when_clocks_go_back() -> None:
    policy = BookingPolicy(
        type="room",
        name="Seminar room",
        timezone="Europe/Berlin",
        opening_hours=(((0, 24 * 60),),) * 7,
        slot_minutes=60,
        min_minutes=60,
        max_minutes=24 * 60,
    )
    start = datetime(2026, 10, 24, 22, tzinfo=UTC)  # 00:00 CEST on 25 October
    free = free_intervals(policy, start, start + timedelta(hours=25), [])
    assert [(item.start, item.end) for item in free] == [(start, start + timedelta(hours=25))]


# Print-sized slots


def test_print_estimate_is_rounded_up_to_whole_slots() -> None:
    end = slot_for_duration(PRINTER, tuesday(9), 3 * 3600 + 10 * 60)
    assert end == tuesday(12, 30)


def test_print_filling_exactly_the_maximum_is_accepted() -> None:
    assert slot_for_duration(PRINTER, tuesday(9), 4 * 3600) == tuesday(13)


def test_print_a_second_over_the_maximum_is_refused() -> None:
    with pytest.raises(RuleBroken) as caught:
        slot_for_duration(PRINTER, tuesday(9), 4 * 3600 + 1)
    assert caught.value.rule is Rule.MAX_DURATION
    assert caught.value.field == "duration_from_job"
    assert caught.value.message == (
        "This print is estimated at 4 h, which needs a 4 h 30 min booking; bookings on "
        "'Prusa MK4 #2' can be at most 4 h long."
    )


def test_short_print_still_takes_the_minimum_booking_and_no_buffer() -> None:
    policy = replace(PRINTER, min_minutes=60)
    assert slot_for_duration(policy, tuesday(9), 5 * 60) == tuesday(10)


def test_print_without_an_estimate_cannot_be_sized() -> None:
    with pytest.raises(Invalid) as caught:
        slot_for_duration(PRINTER, tuesday(9), 0)
    assert caught.value.field == "duration_from_job"
