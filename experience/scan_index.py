"""Marker → exhibit → manifest, answered from memory.

A class of forty tablets scanning the same drum must not cost forty database queries and forty
JSON builds, so published exhibits are kept here as snapshots and their manifests are built
once per (exhibit, language, level tier). Edits call `invalidate`; a marker not yet known here
is looked up in the database once (another process may have published it), and unknown
markers are remembered for a moment so a tablet staring at a stray marker stays cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import NotFound
from experience.exhibits import find_published_by_marker, snapshot
from experience.manifest import ExhibitSnapshot, build_manifest
from experience.models import Exhibit

NEGATIVE_TTL_S = 2.0

MarkerKey = tuple[str, int]


class ScanIndex:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fallback_lang: str,
        clock: Callable[[], float] = time.monotonic,
        opac_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._opac_url = opac_url
        self._fallback = fallback_lang
        self._clock = clock
        self._by_marker: dict[MarkerKey, ExhibitSnapshot] = {}
        self._unknown: dict[MarkerKey, float] = {}
        self._manifests: dict[tuple[int, str, int], dict[str, Any]] = {}

    async def lookup(self, dictionary: str, marker_id: int) -> ExhibitSnapshot:
        key = (dictionary, marker_id)
        snap = self._by_marker.get(key)
        if snap is not None:
            return snap
        missed_at = self._unknown.get(key)
        if missed_at is None or self._clock() - missed_at > NEGATIVE_TTL_S:
            async with self._sessions() as session:
                exhibit = await find_published_by_marker(session, dictionary, marker_id)
                if exhibit is not None:
                    snap = snapshot(exhibit, opac_url=self._opac_url)
            if snap is not None:
                self._by_marker[key] = snap
                self._unknown.pop(key, None)
                return snap
            if len(self._unknown) > 10_000:  # bounded: random ids must not grow memory
                self._unknown.clear()
            self._unknown[key] = self._clock()
        raise NotFound(f"No published exhibit uses marker {marker_id} of {dictionary}.")

    def manifest(self, snap: ExhibitSnapshot, lang: str, budget: int) -> dict[str, Any]:
        """The manifest for a language and a device budget (`manifest.device_budget`)."""
        key = (snap.id, lang, budget)
        cached = self._manifests.get(key)
        if cached is None:
            cached = build_manifest(snap, lang, self._fallback, budget)
            self._manifests[key] = cached
        return cached

    async def by_id(self, exhibit_id: int) -> ExhibitSnapshot:
        """A published exhibit by id (tours name exhibits by id, not by marker)."""
        for snap in self._by_marker.values():
            if snap.id == exhibit_id:
                return snap
        async with self._sessions() as session:
            exhibit = await session.get(Exhibit, exhibit_id)
            if exhibit is None or not exhibit.published:
                raise NotFound(f"Exhibit {exhibit_id} is not published.")
            snap = snapshot(exhibit, opac_url=self._opac_url)
        self._by_marker[(snap.marker_dictionary, snap.marker_id)] = snap
        return snap

    def invalidate(self, exhibit_id: int | None = None) -> None:
        """Forget one exhibit (after an edit) or everything (`None`)."""
        if exhibit_id is None:
            self._by_marker.clear()
            self._manifests.clear()
        else:
            for key in [k for k, s in self._by_marker.items() if s.id == exhibit_id]:
                del self._by_marker[key]
            for key in [k for k in self._manifests if k[0] == exhibit_id]:
                del self._manifests[key]
        self._unknown.clear()
