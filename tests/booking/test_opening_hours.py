"""Opening hours and the slot grid, in local time, across daylight-saving changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.hours import (
    TimeRange,
    first_closed_instant,
    is_on_slot_boundary,
    is_open_throughout,
    open_intervals,
    slot_ceil,
    slot_floor,
    wall_to_utc,
)
from booking.policy import BookingPolicy, HoursException

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")
ALL_DAY = ((0, 24 * 60),)

PRINTER = BookingPolicy(type="printer", name="Prusa MK4 #2")  # Mon–Fri 08–20, Sat 09–17
LIBRARY_BERLIN = BookingPolicy(
    type="room",
    name="Seminar room",
    timezone="Europe/Berlin",
    opening_hours=(ALL_DAY,) * 7,
    slot_minutes=30,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hcm(*args: int) -> datetime:
    return datetime(*args, tzinfo=HCM)


def test_weekday_hours_in_ho_chi_minh_become_utc_seven_hours_earlier() -> None:
    monday = open_intervals(PRINTER, hcm(2026, 11, 23), hcm(2026, 11, 24))
    assert monday == [TimeRange(utc(2026, 11, 23, 1), utc(2026, 11, 23, 13))]


def test_open_intervals_are_clipped_to_the_asked_window() -> None:
    window = open_intervals(PRINTER, hcm(2026, 11, 23, 12), hcm(2026, 11, 23, 14))
    assert window == [TimeRange(utc(2026, 11, 23, 5), utc(2026, 11, 23, 7))]


def test_sunday_is_closed_by_default_and_saturday_is_shorter() -> None:
    weekend = open_intervals(PRINTER, hcm(2026, 11, 28), hcm(2026, 11, 30))
    assert weekend == [TimeRange(hcm(2026, 11, 28, 9), hcm(2026, 11, 28, 17))]


def test_booking_exactly_at_opening_and_closing_is_inside_hours() -> None:
    assert is_open_throughout(PRINTER, hcm(2026, 11, 23, 8), hcm(2026, 11, 23, 20))


@pytest.mark.parametrize(
    ("start", "end"),
    [((7, 30), (8, 30)), ((19, 30), (20, 30))],
    ids=["starts-before-opening", "ends-after-closing"],
)
def test_booking_reaching_past_either_edge_is_outside_hours(
    start: tuple[int, int], end: tuple[int, int]
) -> None:
    assert not is_open_throughout(PRINTER, hcm(2026, 11, 23, *start), hcm(2026, 11, 23, *end))


def test_first_closed_instant_points_at_the_lunch_break() -> None:
    lunch = replace(PRINTER, opening_hours=(((480, 720), (780, 1200)),) * 7)
    closed = first_closed_instant(lunch, hcm(2026, 11, 23, 11), hcm(2026, 11, 23, 14))
    assert closed == hcm(2026, 11, 23, 12)
    assert is_open_throughout(lunch, hcm(2026, 11, 23, 13), hcm(2026, 11, 23, 14))


def test_closing_at_2400_joins_next_days_midnight_opening() -> None:
    late = replace(PRINTER, opening_hours=(((0, 2 * 60), (18 * 60, 24 * 60)),) * 7)
    assert is_open_throughout(late, hcm(2026, 11, 23, 23), hcm(2026, 11, 24, 1))
    assert not is_open_throughout(late, hcm(2026, 11, 24, 1), hcm(2026, 11, 24, 3))


def test_closed_exception_removes_the_whole_day() -> None:
    christmas = replace(PRINTER, exceptions=(HoursException(date(2026, 12, 25), (), "Christmas"),))
    assert open_intervals(christmas, hcm(2026, 12, 25), hcm(2026, 12, 26)) == []
    assert open_intervals(christmas, hcm(2026, 12, 24), hcm(2026, 12, 25)) != []


def test_special_hours_exception_replaces_the_weekday_hours() -> None:
    open_sunday = replace(PRINTER, exceptions=(HoursException(date(2026, 11, 29), ((600, 720),)),))
    assert open_intervals(open_sunday, hcm(2026, 11, 29), hcm(2026, 11, 30)) == [
        TimeRange(hcm(2026, 11, 29, 10), hcm(2026, 11, 29, 12))
    ]


def test_berlin_hours_follow_the_summer_offset() -> None:
    weekday = replace(LIBRARY_BERLIN, opening_hours=(((480, 1200),),) * 7)
    winter = open_intervals(weekday, utc(2026, 3, 23), utc(2026, 3, 24))
    summer = open_intervals(weekday, utc(2026, 3, 30), utc(2026, 3, 31))
    assert winter == [TimeRange(utc(2026, 3, 23, 7), utc(2026, 3, 23, 19))]
    assert summer == [TimeRange(utc(2026, 3, 30, 6), utc(2026, 3, 30, 18))]


def test_day_when_clocks_go_forward_is_23_hours_long() -> None:
    day = open_intervals(LIBRARY_BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert day == [TimeRange(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))]
    midnight_to_midnight = wall_to_utc(date(2026, 3, 30), 0, BERLIN) - wall_to_utc(
        date(2026, 3, 29), 0, BERLIN
    )
    assert midnight_to_midnight == timedelta(hours=23)


def test_day_when_clocks_go_back_is_25_hours_long() -> None:
    start = wall_to_utc(date(2026, 10, 25), 0, BERLIN)
    end = wall_to_utc(date(2026, 10, 25), 24 * 60, BERLIN, latest=True)
    assert end - start == timedelta(hours=25)
    assert is_open_throughout(LIBRARY_BERLIN, start, end)


def test_skipped_local_time_maps_to_the_moment_clocks_jump() -> None:
    # 02:30 never shows on 29 March 2026 in Berlin: the clock goes from 02:00 CET to 03:00 CEST.
    jump = utc(2026, 3, 29, 1)
    assert wall_to_utc(date(2026, 3, 29), 150, BERLIN) == jump
    assert wall_to_utc(date(2026, 3, 29), 150, BERLIN, latest=True) == jump


def test_opening_inside_the_skipped_hour_opens_when_clocks_jump() -> None:
    night = replace(LIBRARY_BERLIN, opening_hours=(((150, 300),),) * 7)
    assert open_intervals(night, utc(2026, 3, 29), utc(2026, 3, 30)) == [
        TimeRange(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))
    ]


def test_repeated_local_time_opens_at_its_first_and_closes_at_its_last_occurrence() -> None:
    # 02:30 happens twice on 25 October 2026 in Berlin: 00:30 UTC (CEST) and 01:30 UTC (CET).
    assert wall_to_utc(date(2026, 10, 25), 150, BERLIN) == utc(2026, 10, 25, 0, 30)
    assert wall_to_utc(date(2026, 10, 25), 150, BERLIN, latest=True) == utc(2026, 10, 25, 1, 30)
    night = replace(LIBRARY_BERLIN, opening_hours=(((0, 150),),) * 7)
    assert open_intervals(night, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)) == [
        TimeRange(utc(2026, 10, 24, 22), utc(2026, 10, 25, 1, 30))
    ]


def test_slot_grid_is_drawn_on_the_local_clock() -> None:
    kathmandu = replace(PRINTER, timezone="Asia/Kathmandu", slot_minutes=60, min_minutes=60)
    nine_local = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Kathmandu"))
    assert nine_local.astimezone(UTC).minute == 15
    assert is_on_slot_boundary(kathmandu, nine_local)
    assert not is_on_slot_boundary(kathmandu, utc(2026, 11, 23, 3))


def test_slot_ceil_skips_the_missing_hour_when_clocks_go_forward() -> None:
    # 01:50 CET; the next boundary on the wall clock is 03:00 CEST, because 02:00 never happens.
    assert slot_ceil(LIBRARY_BERLIN, utc(2026, 3, 29, 0, 50)) == utc(2026, 3, 29, 1)
    assert slot_floor(LIBRARY_BERLIN, utc(2026, 3, 29, 1, 10)) == utc(2026, 3, 29, 1)


def test_slot_boundary_is_left_unchanged_by_ceil_and_floor() -> None:
    boundary = hcm(2026, 11, 23, 9, 30)
    assert slot_ceil(PRINTER, boundary) == boundary
    assert slot_floor(PRINTER, boundary) == boundary
    assert slot_ceil(PRINTER, boundary + timedelta(microseconds=1)) == hcm(2026, 11, 23, 10)
    assert slot_floor(PRINTER, boundary - timedelta(microseconds=1)) == hcm(2026, 11, 23, 9)


@pytest.mark.parametrize(
    ("zone", "day", "slot"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 30),
        ("Europe/Berlin", date(2026, 10, 25), 60),
        ("Australia/Lord_Howe", date(2026, 4, 5), 60),
        ("Australia/Lord_Howe", date(2026, 10, 4), 60),
        ("Asia/Kathmandu", date(2026, 11, 23), 60),
    ],
)
def test_slot_ceil_and_floor_find_the_nearest_boundary_on_dst_days(
    zone: str, day: date, slot: int
) -> None:
    policy = replace(LIBRARY_BERLIN, timezone=zone, slot_minutes=slot, min_minutes=slot)
    start = datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC)
    minute = timedelta(minutes=1)
    for step in range(0, 26 * 60, 7):
        instant = start + step * minute
        up, down = slot_ceil(policy, instant), slot_floor(policy, instant)
        assert is_on_slot_boundary(policy, up) and is_on_slot_boundary(policy, down)
        assert down <= instant <= up
        # Nothing on the grid lies strictly between the instant and either answer.
        between = [down + k * minute for k in range(1, int((up - down) / minute))]
        assert not any(is_on_slot_boundary(policy, t) for t in between if t != instant)


def test_round_the_clock_hours_form_one_interval_over_several_days() -> None:
    always = replace(PRINTER, opening_hours=(ALL_DAY,) * 7)
    start = hcm(2026, 11, 23, 12)
    assert open_intervals(always, start, start + timedelta(days=3)) == [
        TimeRange(start, start + timedelta(days=3))
    ]
