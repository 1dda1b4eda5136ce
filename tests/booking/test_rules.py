"""Each booking rule, accepted exactly at its limit and refused one slot beyond it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.hours import TimeRange
from booking.policy import BookingPolicy, HoursException
from booking.rules import (
    MemberFacts,
    Rule,
    RuleBroken,
    check_request,
    format_duration,
    minutes_by_week,
    week_monday,
    week_range,
)
from core.errors import Invalid

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")

PRINTER = BookingPolicy(
    type="printer",
    name="Prusa MK4 #2",
    slot_minutes=30,
    min_minutes=30,
    max_minutes=240,
    buffer_minutes=15,
    min_lead_minutes=60,
    max_days_ahead=14,
    certification="fdm-basic",
    max_active_reservations=2,
    max_minutes_per_week=360,
)
ROOM_ALL_DAY = BookingPolicy(
    type="room",
    name="Study room 1",
    opening_hours=(((0, 24 * 60),),) * 7,
    max_minutes=24 * 60,
    max_minutes_per_week=120,
)
TRAINED = MemberFacts(certifications={"fdm-basic": None})
NOW = datetime(2026, 11, 23, 7, tzinfo=HCM)  # Monday, 07:00 in Ho Chi Minh City


def hcm(*args: int) -> datetime:
    return datetime(*args, tzinfo=HCM)


def tuesday(hour: int, minute: int = 0) -> datetime:
    return hcm(2026, 11, 24, hour, minute)


def check(
    start: datetime,
    end: datetime,
    *,
    policy: BookingPolicy = PRINTER,
    now: datetime = NOW,
    member: MemberFacts = TRAINED,
    **override: object,
) -> tuple:
    return check_request(policy, start, end, now, member, **override)  # type: ignore[arg-type]


def refusal(start: datetime, end: datetime, **kwargs: object) -> RuleBroken:
    with pytest.raises(RuleBroken) as caught:
        check(start, end, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_booking_that_keeps_every_rule_is_accepted_with_nothing_overridden() -> None:
    assert check(tuesday(9), tuesday(11)) == ()


def test_refusal_is_an_invalid_input_error_naming_the_field() -> None:
    error = refusal(tuesday(9), tuesday(14, 30))
    assert isinstance(error, Invalid)
    assert error.as_dict()["code"] == "invalid"
    assert error.as_dict()["field"] == "end"


# Validity


def test_time_without_utc_offset_is_refused() -> None:
    error = refusal(datetime(2026, 11, 24, 9), tuesday(10))
    assert error.rule is Rule.TIMEZONE
    assert error.field == "start"
    assert "has no UTC offset" in error.message


def test_end_before_or_at_start_is_refused() -> None:
    assert refusal(tuesday(10), tuesday(10)).rule is Rule.ORDER
    error = refusal(tuesday(10), tuesday(9, 30))
    assert error.rule is Rule.ORDER
    assert "starts at 10:00 and ends at 09:30" in error.message


def test_times_in_another_offset_are_judged_by_the_instant() -> None:
    # 02:00Z is 09:00 in Ho Chi Minh City.
    start = datetime(2026, 11, 24, 2, tzinfo=UTC)
    assert check(start, start + timedelta(hours=1)) == ()


# Slot grid


def test_start_off_the_slot_grid_is_refused() -> None:
    error = refusal(tuesday(9, 10), tuesday(10))
    assert error.rule is Rule.SLOT
    assert error.field == "start"
    assert "30 min slot grid" in error.message and "09:10" in error.message


def test_end_off_the_slot_grid_is_refused() -> None:
    error = refusal(tuesday(9), tuesday(10, 15))
    assert (error.rule, error.field) == (Rule.SLOT, "end")


def test_slot_grid_counts_from_local_midnight() -> None:
    kathmandu = replace(
        PRINTER, timezone="Asia/Kathmandu", slot_minutes=60, min_minutes=60, min_lead_minutes=0
    )
    nine = datetime(2026, 11, 24, 9, tzinfo=ZoneInfo("Asia/Kathmandu"))  # 03:15Z
    assert check(nine, nine + timedelta(hours=1), policy=kathmandu) == ()
    on_utc_hour = datetime(2026, 11, 24, 3, tzinfo=UTC)
    assert (
        refusal(on_utc_hour, on_utc_hour + timedelta(hours=1), policy=kathmandu).rule is Rule.SLOT
    )


# Duration


def test_booking_of_exactly_the_maximum_is_accepted() -> None:
    assert check(tuesday(9), tuesday(13)) == ()


def test_booking_one_slot_over_the_maximum_is_refused() -> None:
    assert refusal(tuesday(9), tuesday(13, 30)).rule is Rule.MAX_DURATION


def test_over_long_booking_message_names_the_limit_and_the_length() -> None:
    error = refusal(tuesday(9), tuesday(14, 30))
    assert error.message == (
        "Bookings on 'Prusa MK4 #2' can be at most 4 h long; this one is 5 h 30 min."
    )


def test_booking_of_exactly_the_minimum_is_accepted_and_one_slot_less_refused() -> None:
    policy = replace(PRINTER, min_minutes=60)
    assert check(tuesday(9), tuesday(10), policy=policy) == ()
    error = refusal(tuesday(9), tuesday(9, 30), policy=policy)
    assert error.rule is Rule.MIN_DURATION
    assert error.message == (
        "Bookings on 'Prusa MK4 #2' must be at least 1 h long; this one is 30 min."
    )


def test_duration_is_real_time_not_wall_clock_time_across_clocks_going_back() -> None:
    berlin = replace(
        ROOM_ALL_DAY, timezone="Europe/Berlin", max_minutes=60, max_minutes_per_week=None
    )
    # 02:00 CEST → 02:00 CET on 25 October 2026: the wall clock says 0 h, an hour passes.
    start, end = datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)
    now = datetime(2026, 10, 20, tzinfo=UTC)
    assert check(start, end, policy=berlin, now=now, member=MemberFacts()) == ()
    # 01:30 CEST → 02:30 CET is two real hours although the wall clock shows one.
    error = refusal(
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        policy=berlin,
        now=now,
        member=MemberFacts(),
    )
    assert error.rule is Rule.MAX_DURATION
    assert "this one is 2 h." in error.message


def test_booking_across_the_skipped_hour_is_one_real_hour() -> None:
    berlin = replace(
        ROOM_ALL_DAY, timezone="Europe/Berlin", max_minutes=60, max_minutes_per_week=None
    )
    start = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)  # CET
    end = datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)  # CEST, an hour later
    now = datetime(2026, 3, 20, tzinfo=UTC)
    assert check(start, end, policy=berlin, now=now, member=MemberFacts()) == ()


# Lead time and how far ahead


def test_booking_exactly_the_lead_time_ahead_is_accepted() -> None:
    assert check(hcm(2026, 11, 23, 8), hcm(2026, 11, 23, 9)) == ()


def test_booking_one_slot_inside_the_lead_time_is_refused() -> None:
    error = refusal(hcm(2026, 11, 23, 8), hcm(2026, 11, 23, 9), now=hcm(2026, 11, 23, 7, 30))
    assert error.rule is Rule.LEAD_TIME
    assert error.message == (
        "Bookings on 'Prusa MK4 #2' must be made at least 1 h before they start; "
        "this one starts in 30 min."
    )


def test_booking_in_the_past_is_refused_even_without_lead_time() -> None:
    policy = replace(PRINTER, min_lead_minutes=0)
    assert (
        check(hcm(2026, 11, 23, 9), hcm(2026, 11, 23, 10), policy=policy, now=hcm(2026, 11, 23, 9))
        == ()
    )
    error = refusal(
        hcm(2026, 11, 23, 9), hcm(2026, 11, 23, 10), policy=policy, now=hcm(2026, 11, 23, 9, 10)
    )
    assert error.rule is Rule.LEAD_TIME
    assert "cannot start in the past; this one started at 09:00" in error.message


def test_booking_on_the_last_bookable_day_is_accepted() -> None:
    assert check(hcm(2026, 12, 7, 9), hcm(2026, 12, 7, 10)) == ()


def test_booking_one_day_beyond_the_window_is_refused() -> None:
    error = refusal(hcm(2026, 12, 8, 9), hcm(2026, 12, 8, 10))
    assert error.rule is Rule.DAYS_AHEAD
    assert error.message == (
        "Bookings on 'Prusa MK4 #2' can be made at most 14 days ahead (up to Mon 7 December "
        "2026); this one is on Tue 8 December 2026."
    )


def test_days_ahead_are_counted_in_local_dates() -> None:
    # 00:30 on Tuesday in Ho Chi Minh City is still Monday in UTC.
    just_after_local_midnight = hcm(2026, 11, 24, 0, 30)
    assert just_after_local_midnight.astimezone(UTC).day == 23
    assert check(hcm(2026, 12, 8, 9), hcm(2026, 12, 8, 10), now=just_after_local_midnight) == ()


# Opening hours


def test_booking_ending_at_closing_time_is_accepted() -> None:
    assert check(tuesday(19, 30), tuesday(20)) == ()


def test_booking_running_past_closing_time_is_refused_with_the_days_hours() -> None:
    error = refusal(tuesday(19, 30), tuesday(20, 30))
    assert error.rule is Rule.OPENING_HOURS
    assert "on Tue 24 November 2026 it is open 08:00–20:00" in error.message
    assert "this booking runs 19:30–20:30" in error.message


def test_booking_on_a_closed_weekday_is_refused() -> None:
    error = refusal(hcm(2026, 11, 29, 10), hcm(2026, 11, 29, 11))
    assert error.message == (
        "'Prusa MK4 #2' is closed on Sundays; this booking falls on Sun 29 November 2026."
    )


def test_booking_on_a_holiday_is_refused_with_its_reason() -> None:
    policy = replace(
        PRINTER,
        max_days_ahead=60,
        exceptions=(HoursException(date(2026, 12, 25), (), "Christmas"),),
    )
    error = refusal(hcm(2026, 12, 25, 10), hcm(2026, 12, 25, 11), policy=policy)
    assert error.rule is Rule.OPENING_HOURS
    assert "closed on Fri 25 December 2026 (Christmas)" in error.message
    assert check(hcm(2026, 12, 24, 10), hcm(2026, 12, 24, 11), policy=policy) == ()


def test_special_hours_open_an_otherwise_closed_sunday() -> None:
    policy = replace(PRINTER, exceptions=(HoursException(date(2026, 11, 29), ((600, 720),)),))
    assert check(hcm(2026, 11, 29, 10), hcm(2026, 11, 29, 12), policy=policy) == ()
    error = refusal(hcm(2026, 11, 29, 11), hcm(2026, 11, 29, 13), policy=policy)
    assert "open 10:00–12:00 (special hours" in error.message


# Certification


def test_booking_without_the_training_is_refused() -> None:
    error = refusal(tuesday(9), tuesday(10), member=MemberFacts())
    assert error.rule is Rule.CERTIFICATION
    assert "need the 'fdm-basic' training" in error.message


def test_training_expiring_exactly_at_the_end_is_enough() -> None:
    member = MemberFacts(certifications={"fdm-basic": tuesday(10)})
    assert check(tuesday(9), tuesday(10), member=member) == ()


def test_training_expiring_one_slot_before_the_end_is_refused() -> None:
    member = MemberFacts(certifications={"fdm-basic": tuesday(9, 30)})
    error = refusal(tuesday(9), tuesday(10), member=member)
    assert error.rule is Rule.CERTIFICATION
    assert "which expires on 24 November 2026, before this booking ends" in error.message


def test_expired_training_refuses_booking_with_the_local_expiry_date() -> None:
    # 20:00Z on 2 May is already 3 May in Ho Chi Minh City.
    member = MemberFacts(certifications={"fdm-basic": datetime(2026, 5, 2, 20, tzinfo=UTC)})
    error = refusal(tuesday(9), tuesday(10), member=member)
    assert error.message == (
        "Bookings on 'Prusa MK4 #2' need the 'fdm-basic' training, which expired on "
        "3 May 2026; a librarian can renew it."
    )


def test_resource_without_certification_needs_no_training() -> None:
    policy = replace(PRINTER, certification=None)
    assert check(tuesday(9), tuesday(10), policy=policy, member=MemberFacts()) == ()


# Per-member limits


def test_one_below_the_active_limit_is_accepted_and_at_the_limit_refused() -> None:
    below = replace(TRAINED, active_reservations={"printer": 1})
    assert check(tuesday(9), tuesday(10), member=below) == ()
    at_limit = replace(TRAINED, active_reservations={"printer": 2})
    error = refusal(tuesday(9), tuesday(10), member=at_limit)
    assert error.rule is Rule.ACTIVE_LIMIT
    assert error.message == (
        "Members can hold at most 2 active 'printer' bookings at a time; you already have 2."
    )


def test_active_bookings_of_another_type_do_not_count() -> None:
    member = replace(TRAINED, active_reservations={"laser": 5})
    assert check(tuesday(9), tuesday(10), member=member) == ()


def test_booking_filling_the_week_exactly_is_accepted() -> None:
    member = replace(TRAINED, booked_minutes={("printer", date(2026, 11, 23)): 300})
    assert check(tuesday(9), tuesday(10), member=member) == ()


def test_booking_one_slot_over_the_weekly_hours_is_refused() -> None:
    member = replace(TRAINED, booked_minutes={("printer", date(2026, 11, 23)): 300})
    error = refusal(tuesday(9), tuesday(10, 30), member=member)
    assert error.rule is Rule.WEEKLY_LIMIT
    assert error.message == (
        "Members can book 'printer' resources for at most 6 h per week; in the week of "
        "Mon 23 November 2026 you have 5 h booked and this booking adds 1 h 30 min."
    )


def test_last_weeks_hours_do_not_count_against_next_week() -> None:
    member = replace(TRAINED, booked_minutes={("printer", date(2026, 11, 23)): 360})
    assert check(hcm(2026, 11, 30, 9), hcm(2026, 11, 30, 11), member=member) == ()


def test_booking_over_a_week_boundary_counts_in_both_local_weeks() -> None:
    start, end = hcm(2026, 11, 29, 23), hcm(2026, 11, 30, 1)  # Sunday 23:00 → Monday 01:00
    fits = MemberFacts(booked_minutes={("room", date(2026, 11, 23)): 60})
    assert check(start, end, policy=ROOM_ALL_DAY, member=fits) == ()
    too_much = MemberFacts(booked_minutes={("room", date(2026, 11, 23)): 90})
    error = refusal(start, end, policy=ROOM_ALL_DAY, member=too_much)
    assert error.rule is Rule.WEEKLY_LIMIT
    assert "week of Mon 23 November 2026" in error.message
    assert "adds 1 h." in error.message


def test_weeks_start_on_local_monday_midnight() -> None:
    # 23:30Z on Sunday is 06:30 on Monday in Ho Chi Minh City: already the new week.
    assert week_monday(PRINTER, datetime(2026, 11, 29, 23, 30, tzinfo=UTC)) == date(2026, 11, 30)
    assert week_monday(PRINTER, datetime(2026, 11, 29, 16, 59, tzinfo=UTC)) == date(2026, 11, 23)


def test_weeks_with_a_clock_change_are_an_hour_shorter_or_longer() -> None:
    berlin = replace(ROOM_ALL_DAY, timezone="Europe/Berlin")
    spring = week_range(berlin, date(2026, 3, 23))
    autumn = week_range(berlin, date(2026, 10, 19))
    assert spring.end - spring.start == timedelta(hours=167)
    assert autumn.end - autumn.start == timedelta(hours=169)


def test_minutes_by_week_splits_and_sums_bookings() -> None:
    bookings = [
        TimeRange(hcm(2026, 11, 24, 9), hcm(2026, 11, 24, 10, 30)),
        TimeRange(hcm(2026, 11, 29, 23), hcm(2026, 11, 30, 1)),
    ]
    assert minutes_by_week(PRINTER, bookings) == {date(2026, 11, 23): 150, date(2026, 11, 30): 60}


# Staff override


def test_override_without_a_reason_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        check(tuesday(9), tuesday(10), override=True, override_reason="  ")
    assert caught.value.field == "override_reason"


def test_override_returns_every_rule_it_waived() -> None:
    sunday = (hcm(2026, 11, 29, 10), hcm(2026, 11, 29, 11))
    waived = check(*sunday, member=MemberFacts(), override=True, override_reason="Repair test")
    assert [breach.rule for breach in waived] == [Rule.OPENING_HOURS, Rule.CERTIFICATION]
    assert all(breach.message for breach in waived)


def test_override_of_a_booking_within_the_rules_waives_nothing() -> None:
    assert check(tuesday(9), tuesday(10), override=True, override_reason="Workshop") == ()


def test_override_never_waives_end_after_start() -> None:
    with pytest.raises(RuleBroken) as caught:
        check(tuesday(10), tuesday(9), override=True, override_reason="Workshop")
    assert caught.value.rule is Rule.ORDER


def test_override_never_waives_the_utc_offset() -> None:
    with pytest.raises(RuleBroken) as caught:
        check(tuesday(9), datetime(2026, 11, 24, 10), override=True, override_reason="Workshop")
    assert (caught.value.rule, caught.value.field) == (Rule.TIMEZONE, "end")


@pytest.mark.parametrize(
    ("length", "text"),
    [
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=4), "4 h"),
        (timedelta(hours=5, minutes=30), "5 h 30 min"),
        (timedelta(seconds=20), "less than a minute"),
    ],
)
def test_durations_are_written_in_hours_and_minutes(length: timedelta, text: str) -> None:
    assert format_duration(length) == text
