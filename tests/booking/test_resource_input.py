"""The `POST /resources` body: defaults, conversion to a policy, and errors naming the field."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from booking.policy import DEFAULT_OPENING_HOURS, BookingPolicy, HoursException
from booking.schemas import parse_policy, policy_to_body
from core.errors import Invalid

ISSUE_BODY: dict[str, Any] = {
    "type": "printer",
    "name": "Prusa MK4 #2",
    "timezone": "Europe/Berlin",
    "opening_hours": {
        "mon": [["08:00", "20:00"]],
        "tue": [["08:00", "12:00"], ["13:00", "20:00"]],
        "wed": [["08:00", "20:00"]],
        "thu": [["08:00", "20:00"]],
        "fri": [["08:00", "24:00"]],
        "sat": [["10:00", "16:00"]],
        "sun": [],
    },
    "slot_minutes": 15,
    "min_minutes": 30,
    "max_minutes": 180,
    "buffer_minutes": 15,
    "max_days_ahead": 21,
    "needs_approval": True,
    "certification": "fdm-basic",
    "location": "Makerspace, 2nd floor",
    "exceptions": [
        {"date": "2026-12-25", "reason": "Christmas"},
        {"date": "2026-12-24", "hours": [["08:00", "12:00"]]},
    ],
}


def refusal(body: dict[str, Any]) -> Invalid:
    with pytest.raises(Invalid) as caught:
        parse_policy(body)
    return caught.value


def with_changes(**changes: Any) -> dict[str, Any]:
    return {**ISSUE_BODY, **changes}


def test_type_and_name_alone_give_a_bookable_resource_with_defaults() -> None:
    policy = parse_policy({"type": "room", "name": "Study room 1"})
    assert policy.timezone == "Asia/Ho_Chi_Minh"
    assert policy.opening_hours == DEFAULT_OPENING_HOURS
    assert (policy.slot_minutes, policy.min_minutes, policy.max_minutes) == (30, 30, 240)
    assert policy.certification is None and not policy.needs_approval


def test_the_issues_body_converts_field_by_field() -> None:
    policy = parse_policy(ISSUE_BODY)
    assert policy.opening_hours[1] == ((480, 720), (780, 1200))
    assert policy.opening_hours[4] == ((480, 1440),)
    assert policy.opening_hours[6] == ()
    assert policy.exceptions == (
        HoursException(date(2026, 12, 25), (), "Christmas"),
        HoursException(date(2026, 12, 24), ((480, 720),)),
    )
    assert (policy.slot_minutes, policy.buffer_minutes, policy.max_days_ahead) == (15, 15, 21)
    assert policy.needs_approval and policy.certification == "fdm-basic"
    assert policy.location == "Makerspace, 2nd floor"


def test_weekday_left_out_of_given_hours_is_closed() -> None:
    policy = parse_policy(
        {"type": "room", "name": "Room", "opening_hours": {"mon": [["09:00", "10:00"]]}}
    )
    assert policy.opening_hours[0] == ((540, 600),)
    assert policy.opening_hours[1:] == ((),) * 6


def test_policy_survives_a_round_trip_through_the_rest_shape() -> None:
    policy = parse_policy(ISSUE_BODY)
    assert parse_policy(policy_to_body(policy)) == policy
    assert policy_to_body(policy)["opening_hours"]["fri"] == [["08:00", "24:00"]]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "not a time zone"),
        ({"type": "3D Printer"}, "type", "not a resource type"),
        ({"name": ""}, "name", "at least 1 character"),
        ({"slot_minutes": 0}, "slot_minutes", "greater than or equal to 1"),
        ({"max_minutes": "long"}, "max_minutes", "valid integer"),
        ({"colour": "red"}, "colour", "not permitted"),
        ({"opening_hours": {"monday": []}}, "opening_hours", "'monday' is not a weekday"),
        ({"opening_hours": {"mon": [["8:00", "20:00"]]}}, "opening_hours.mon.0", "HH:MM"),
        ({"opening_hours": {"mon": [["08:00", "23:60"]]}}, "opening_hours.mon.0", "not a time"),
        ({"opening_hours": {"mon": [["24:00", "24:00"]]}}, "opening_hours.mon.0", "24:00"),
        ({"opening_hours": {"mon": [["08:00"]]}}, "opening_hours.mon.0", "pair"),
        ({"opening_hours": {"tue": [["20:00", "08:00"]]}}, "opening_hours.tue.0", "end before"),
        (
            {"opening_hours": {"wed": [["08:00", "12:00"], ["11:00", "14:00"]]}},
            "opening_hours.wed.1",
            "overlap",
        ),
        (
            {"opening_hours": {"wed": [["13:00", "14:00"], ["08:00", "12:00"]]}},
            "opening_hours.wed.1",
            "in order",
        ),
        ({"exceptions": [{"date": "2026-02-30"}]}, "exceptions.0.date", "date"),
        (
            {"exceptions": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]},
            "exceptions.1.date",
            "two entries",
        ),
        (
            {"exceptions": [{"date": "2026-12-24", "hours": [["12:00", "08:00"]]}]},
            "exceptions.0.hours.0",
            "end before",
        ),
        ({"slot_minutes": 7}, "slot_minutes", "divide a day"),
        ({"min_minutes": 20}, "min_minutes", "whole number of slots"),
        ({"min_minutes": 240}, "min_minutes", "longer than the longest"),
        ({"max_minutes_per_week": 15}, "max_minutes_per_week", "nobody could book"),
        ({"max_active_reservations": 0}, "max_active_reservations", "greater than or equal"),
        ({"buffer_minutes": -5}, "buffer_minutes", "greater than or equal to 0"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    error = refusal(with_changes(**changes))
    assert error.field == field
    assert words in error.message


def test_touching_intervals_and_a_2400_close_are_accepted() -> None:
    policy = parse_policy(
        with_changes(opening_hours={"mon": [["00:00", "12:00"], ["12:00", "24:00"]]})
    )
    assert policy.opening_hours[0] == ((0, 720), (720, 1440))


def test_slot_exactly_dividing_the_day_is_accepted() -> None:
    assert (
        parse_policy(with_changes(slot_minutes=45, min_minutes=45, max_minutes=180)).slot_minutes
        == 45
    )


def test_every_problem_is_listed_while_the_first_names_the_field() -> None:
    error = refusal({"type": "printer", "name": "", "slot_minutes": 0})
    assert error.field == "name"
    assert "slot_minutes:" in error.message


def test_a_policy_built_in_code_is_held_to_the_same_rules() -> None:
    with pytest.raises(Invalid) as caught:
        BookingPolicy(type="printer", name="Prusa", timezone="Nowhere/Land")
    assert caught.value.field == "timezone"
    with pytest.raises(Invalid) as caught:
        BookingPolicy(type="printer", name="Prusa", opening_hours=((),) * 6)
    assert caught.value.field == "opening_hours"
