"""Helpers for the booking API tests: the app with the booking routes, people, and times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from core.settings import Settings

WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAY = {day: [["00:00", "24:00"]] for day in WEEK}


def build_app(settings: Settings, estimator: Any = None):
    """The application as `create_app` builds it, with the booking routes registered."""
    from web.app import create_app
    from web.routes import booking

    app = create_app(settings)
    # Until the factory registers the booking routes itself, the tests add them here.
    if not any(r.canonical == "/api/v1/reservations" for r in app.router.resources()):
        app.router.add_routes(booking.routes)
    if estimator is not None:
        app[booking.JOB_ESTIMATOR] = estimator
    return app


@dataclass
class Person:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def next_boundary(minutes: int = 30, ahead: timedelta = timedelta(0)) -> datetime:
    """The first UTC instant on a `minutes` grid (from midnight UTC) at least `ahead` from now.

    For zones a whole number of hours from UTC this is also on the resource's local grid.
    """
    moment = datetime.now(UTC) + ahead
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(minutes=minutes)
    return midnight + -(-(moment - midnight) // step) * step


def iso(instant: datetime) -> str:
    return instant.isoformat()


def next_weekday(weekday: int, after: timedelta = timedelta(days=2)) -> date:
    """The first date with `weekday` (Monday 0) at least `after` from today."""
    day = (datetime.now(UTC) + after).date()
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def next_eu_spring_forward() -> date:
    """The next last Sunday of March (when Europe's clocks go forward) at least a week away."""
    year = datetime.now(UTC).year
    while True:
        day = date(year, 3, 31)
        day -= timedelta(days=(day.weekday() - 6) % 7)
        if day > (datetime.now(UTC) + timedelta(days=7)).date():
            return day
        year += 1


async def wait_for(predicate: Callable[[], Any], within: float = 10.0, what: str = "it") -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out after {within}s waiting for {what}")
