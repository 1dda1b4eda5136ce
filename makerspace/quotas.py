"""Per-member print quotas: how many prints a week and how long one print may run.

Staff are exempt: they print for the library. A print counts against the week from the moment
the member confirms it, unless it is cancelled before it reached a printer (nothing was used).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Invalid
from core.models import Role, User
from makerspace.models import JobState, PrintJob

WEEK = timedelta(days=7)
STAFF = Role.librarian


DEFAULT_PRINTS_PER_WEEK = 5
DEFAULT_MAX_PRINT_S = 8 * 3600


@dataclass(frozen=True, slots=True)
class Quota:
    prints_per_week: int = DEFAULT_PRINTS_PER_WEEK
    max_print_s: int = DEFAULT_MAX_PRINT_S

    @classmethod
    def from_settings(cls, extra: dict[str, Any]) -> Quota:
        """From the settings file's `print_quota_per_week` / `print_max_hours`."""
        per_week = int(extra.get("print_quota_per_week", DEFAULT_PRINTS_PER_WEEK))
        hours = float(extra.get("print_max_hours", DEFAULT_MAX_PRINT_S / 3600))
        return cls(prints_per_week=per_week, max_print_s=round(hours * 3600))


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


async def prints_this_week(session: AsyncSession, user_id: int, now: datetime) -> int:
    counted = select(func.count()).where(
        PrintJob.user_id == user_id,
        PrintJob.confirmed_at.is_not(None),
        PrintJob.confirmed_at > now - WEEK,
        # A job cancelled before it ever reached a printer used nothing.
        ~((PrintJob.state == JobState.CANCELLED.value) & PrintJob.dispatched_at.is_(None)),
    )
    return await session.scalar(counted) or 0


async def check_weekly(session: AsyncSession, user: User, quota: Quota, now: datetime) -> None:
    if user.role >= STAFF:
        return
    used = await prints_this_week(session, user.id, now)
    if used >= quota.prints_per_week:
        raise Invalid(
            f"You have used your {quota.prints_per_week} prints for this week (limit: "
            f"{quota.prints_per_week} prints per 7 days); try again when an older print "
            "drops out of the week.",
            field="quota.prints_per_week",
        )


def check_length(user: User, quota: Quota, estimate_s: int | None) -> None:
    if user.role >= STAFF or estimate_s is None:
        return
    if estimate_s > quota.max_print_s:
        raise Invalid(
            f"This print would take about {_duration(estimate_s)}, longer than the "
            f"{_duration(quota.max_print_s)} a member's print may take (maximum print length); "
            "make the model smaller or ask a librarian.",
            field="quota.max_print_length",
        )
