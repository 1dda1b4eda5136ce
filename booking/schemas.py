"""The REST shape of a resource's booking rules, and its conversion to `BookingPolicy`.

Pydantic checks the body's shape and types; the meaning (ordered hours, durations that fit the
slot grid) is checked once, by `BookingPolicy` itself, so a policy loaded from the database is
held to the same standard as one typed into the librarian's form. Either way the caller gets an
`Invalid` naming the offending field, e.g. `opening_hours.mon.1`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from booking.policy import (
    DAY_MINUTES,
    DEFAULT_OPENING_HOURS,
    DEFAULT_TIMEZONE,
    WEEKDAYS,
    BookingPolicy,
    DayHours,
    HoursException,
    check_timezone,
    format_clock,
    parse_clock,
)
from core.errors import Invalid

_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,39}")

# What a day's hours look like on the wire: [["08:00", "12:00"], ["13:00", "20:00"]].
WireHours = list[list[str]]


class HoursExceptionIn(BaseModel):
    """A date with other hours than its weekday: `hours` empty (or left out) means closed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    date: date
    hours: WireHours = Field(default_factory=list)
    reason: str | None = Field(default=None, max_length=200)


class ResourceIn(BaseModel):
    """Body of `POST /resources`: only `type` and `name` are required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: str
    name: str = Field(min_length=1, max_length=120)
    location: str | None = Field(default=None, max_length=200)
    timezone: str = DEFAULT_TIMEZONE
    # Left out entirely → the default week; a weekday left out of a given week → closed.
    opening_hours: dict[str, WireHours] | None = None
    exceptions: list[HoursExceptionIn] = Field(default_factory=list)
    slot_minutes: int = Field(default=30, ge=1, le=DAY_MINUTES)
    min_minutes: int = Field(default=30, ge=1)
    max_minutes: int = Field(default=240, ge=1, le=14 * DAY_MINUTES)
    buffer_minutes: int = Field(default=0, ge=0, le=DAY_MINUTES)
    min_lead_minutes: int = Field(default=0, ge=0, le=365 * DAY_MINUTES)
    max_days_ahead: int = Field(default=30, ge=0, le=3650)
    needs_approval: bool = False
    certification: str | None = Field(default=None, min_length=1, max_length=80)
    max_active_reservations: int | None = Field(default=None, ge=1)
    max_minutes_per_week: int | None = Field(default=None, ge=1)

    @field_validator("type")
    @classmethod
    def _type_is_a_slug(cls, value: str) -> str:
        if not _TYPE.fullmatch(value):
            raise ValueError(
                f"'{value}' is not a resource type; use a short lower-case word such as "
                "'printer', 'laser' or 'room'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        try:
            check_timezone(value)
        except Invalid as error:
            raise ValueError(error.message) from None
        return value

    @field_validator("opening_hours")
    @classmethod
    def _weekdays_are_known(cls, value: dict[str, WireHours] | None) -> dict[str, WireHours] | None:
        for key in value or {}:
            if key not in WEEKDAYS:
                raise ValueError(f"'{key}' is not a weekday; use {', '.join(WEEKDAYS)}")
        return value

    def to_policy(self) -> BookingPolicy:
        """The validated policy; raises `Invalid` with the field path of the first problem."""
        if self.opening_hours is None:
            week = DEFAULT_OPENING_HOURS
        else:
            week = tuple(
                _parse_hours(self.opening_hours.get(day, []), f"opening_hours.{day}")
                for day in WEEKDAYS
            )
        exceptions = tuple(
            HoursException(
                day=item.date,
                hours=_parse_hours(item.hours, f"exceptions.{index}.hours"),
                reason=item.reason or None,
            )
            for index, item in enumerate(self.exceptions)
        )
        return BookingPolicy(
            type=self.type,
            name=self.name,
            timezone=self.timezone,
            opening_hours=week,
            exceptions=exceptions,
            location=self.location or None,
            slot_minutes=self.slot_minutes,
            min_minutes=self.min_minutes,
            max_minutes=self.max_minutes,
            buffer_minutes=self.buffer_minutes,
            min_lead_minutes=self.min_lead_minutes,
            max_days_ahead=self.max_days_ahead,
            needs_approval=self.needs_approval,
            certification=self.certification,
            max_active_reservations=self.max_active_reservations,
            max_minutes_per_week=self.max_minutes_per_week,
        )


def _parse_hours(spans: WireHours, where: str) -> DayHours:
    parsed: list[tuple[int, int]] = []
    for index, span in enumerate(spans):
        field = f"{where}.{index}"
        if len(span) != 2:
            raise Invalid(
                f'Each opening interval is a pair like ["08:00", "20:00"]; got {span}.',
                field=field,
            )
        try:
            start = parse_clock(span[0])
            end = parse_clock(span[1], allow_midnight_end=True)
        except ValueError as error:
            raise Invalid(f"{error}.", field=field) from None
        parsed.append((start, end))
    return tuple(parsed)


def parse_policy(body: Mapping[str, Any]) -> BookingPolicy:
    """A decoded REST body → `BookingPolicy`, or `Invalid` naming the first bad field."""
    try:
        model = ResourceIn.model_validate(body)
    except ValidationError as error:
        raise invalid_from(error) from None
    return model.to_policy()


def invalid_from(error: ValidationError) -> Invalid:
    """Pydantic's errors as one `Invalid`: the first field for `field`, every problem in words."""
    problems = error.errors(include_url=False)
    parts = []
    for problem in problems:
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        cause = (problem.get("ctx") or {}).get("error")
        # Our own validators already speak to the librarian; pydantic's prefix adds nothing.
        text = str(cause) if problem["type"] == "value_error" and cause else problem["msg"]
        parts.append(f"{where}: {text.rstrip('.')}")
    first = ".".join(str(part) for part in problems[0]["loc"]) if problems else None
    return Invalid("; ".join(parts) + ".", field=first or None)


def policy_to_body(policy: BookingPolicy) -> dict[str, Any]:
    """The policy in the REST shape, for responses and for merging a `PATCH` before re-parsing."""
    return {
        "type": policy.type,
        "name": policy.name,
        "location": policy.location,
        "timezone": policy.timezone,
        "opening_hours": {
            day: _wire_hours(spans)
            for day, spans in zip(WEEKDAYS, policy.opening_hours, strict=True)
        },
        "exceptions": [
            {"date": item.day.isoformat(), "hours": _wire_hours(item.hours), "reason": item.reason}
            for item in policy.exceptions
        ],
        "slot_minutes": policy.slot_minutes,
        "min_minutes": policy.min_minutes,
        "max_minutes": policy.max_minutes,
        "buffer_minutes": policy.buffer_minutes,
        "min_lead_minutes": policy.min_lead_minutes,
        "max_days_ahead": policy.max_days_ahead,
        "needs_approval": policy.needs_approval,
        "certification": policy.certification,
        "max_active_reservations": policy.max_active_reservations,
        "max_minutes_per_week": policy.max_minutes_per_week,
    }


def _wire_hours(spans: DayHours) -> WireHours:
    return [[format_clock(start), format_clock(end)] for start, end in spans]


# Request bodies of the reservation, certification and waitlist endpoints. Times must carry a
# UTC offset: a bare local time would silently mean whatever zone the server runs in.


class ReservationIn(BaseModel):
    """Body of `POST /reservations`: an end time, or a print job to size the slot from."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    resource_id: int
    start: AwareDatetime
    end: AwareDatetime | None = None
    duration_from_job: str | int | None = None
    user_id: int | None = None
    override_reason: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _end_or_job(self) -> ReservationIn:
        if (self.end is None) == (self.duration_from_job is None):
            raise ValueError("give either 'end' or 'duration_from_job', not both or neither")
        return self

    @property
    def job_id(self) -> str | None:
        return None if self.duration_from_job is None else str(self.duration_from_job)


class ReservationMoveIn(BaseModel):
    """Body of `PATCH /reservations/{id}`: new times (a missing end keeps the length)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    override_reason: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _something_to_change(self) -> ReservationMoveIn:
        if self.start is None and self.end is None:
            raise ValueError("give a new 'start', a new 'end', or both")
        return self


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str | None = Field(default=None, max_length=500)


class CertificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: str = Field(min_length=1, max_length=80)
    expires_at: AwareDatetime | None = None


class WaitlistIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    resource_id: int
    start: AwareDatetime
    end: AwareDatetime
