"""Where visitors are: which exhibit each tablet is at, and how many stand at each exhibit.

Pure bookkeeping (the caller passes the time), so dwell rules can be tested without waiting.
A visitor is at an exhibit from the scan that brought them there until they scan another one
or leave; if a tablet goes quiet the dwell counts only up to its last sign of life plus a grace
period, so a tablet left on a bench does not dwell for an hour.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

IDLE_GRACE_S = 30.0


@dataclass(slots=True)
class _Stay:
    exhibit_id: int
    entered_at: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class Left:
    exhibit_id: int
    dwell_s: float


class Whereabouts:
    """Per-process: each connected tablet's current exhibit and the local head counts."""

    def __init__(self) -> None:
        self._stays: dict[str, _Stay] = {}
        self.counts: Counter[int] = Counter()

    def at(self, key: str) -> int | None:
        stay = self._stays.get(key)
        return stay.exhibit_id if stay else None

    def seen(self, key: str, exhibit_id: int, now: float) -> tuple[bool, Left | None]:
        """The tablet sees `exhibit_id`: (entered a new exhibit?, the stay it ended if any)."""
        stay = self._stays.get(key)
        if stay is not None and stay.exhibit_id == exhibit_id:
            stay.last_seen = now
            return False, None
        left = self.leave(key, now)
        self._stays[key] = _Stay(exhibit_id, now, now)
        self.counts[exhibit_id] += 1
        return True, left

    def leave(self, key: str, now: float) -> Left | None:
        stay = self._stays.pop(key, None)
        if stay is None:
            return None
        self.counts[stay.exhibit_id] -= 1
        if self.counts[stay.exhibit_id] <= 0:
            del self.counts[stay.exhibit_id]
        end = min(now, stay.last_seen + IDLE_GRACE_S)
        return Left(stay.exhibit_id, max(0.0, end - stay.entered_at))


class PresenceBoard:
    """Head counts summed over every server process (each reports its own counts)."""

    def __init__(self) -> None:
        self._by_host: dict[str, dict[int, int]] = {}
        self._heard: dict[str, float] = {}

    def report(self, host: str, exhibit_id: int, count: int, now: float) -> None:
        counts = self._by_host.setdefault(host, {})
        if count > 0:
            counts[exhibit_id] = count
        else:
            counts.pop(exhibit_id, None)
        self._heard[host] = now

    def heartbeat(self, host: str, now: float) -> None:
        self._heard[host] = now

    def forget_silent(self, now: float, after_s: float) -> list[int]:
        """Drop hosts not heard from (a crashed process); returns the exhibits affected."""
        affected: list[int] = []
        for host in [h for h, t in self._heard.items() if now - t > after_s]:
            affected.extend(self._by_host.pop(host, {}))
            del self._heard[host]
        return affected

    def total(self, exhibit_id: int) -> int:
        return sum(counts.get(exhibit_id, 0) for counts in self._by_host.values())

    def totals(self) -> dict[int, int]:
        result: Counter[int] = Counter()
        for counts in self._by_host.values():
            result.update(counts)
        return dict(result)
