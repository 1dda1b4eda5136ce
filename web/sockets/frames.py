"""Camera frames from tablets: detection and pose off the event loop, with back-pressure.

Each visitor has at most one frame being analysed and one waiting; a newer frame replaces the
waiting one (its sender gets a "dropped" ack), because a tablet only cares about the newest
view and a queue of stale frames would only add latency. OpenCV runs in a small thread pool
(it releases the GIL), so the event loop keeps serving scans and tours meanwhile. A token bucket
per visitor caps the frame rate a single tablet can demand.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ar_markers.frame_analysis import analyse_frame
from ar_markers.frames import FrameLimits
from ar_markers.smoothing import PoseSmoother
from core.errors import DomainError, NotFound, TooLarge
from experience.scan_index import ScanIndex

ASSUMED_SIZE_M = 0.15


class Intrinsics(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fx: float = Field(gt=0, lt=1e5)
    fy: float = Field(gt=0, lt=1e5)
    cx: float = Field(ge=0, lt=1e5)
    cy: float = Field(ge=0, lt=1e5)

    @field_validator("fx", "fy", "cx", "cy")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: bytes = Field(min_length=1)
    intrinsics: Intrinsics | None = None


@dataclass(slots=True)
class _Lane:
    """One visitor's frames: the one in work, the one waiting, and the rate budget."""

    busy: bool = False
    waiting: tuple[Frame, asyncio.Future[dict[str, Any]]] | None = None
    tokens: float = 0.0
    refilled: float = 0.0
    smoother: PoseSmoother = field(default_factory=PoseSmoother)
    exhibit_id: int | None = None


class FrameService:
    def __init__(
        self,
        index: ScanIndex,
        pool: ThreadPoolExecutor,
        *,
        dictionaries: tuple[str, ...],
        limits: FrameLimits,
        max_rate: float = 12.0,
        burst: float = 6.0,
    ) -> None:
        self.index = index
        self.pool = pool
        self.dictionaries = dictionaries
        self.limits = limits
        self.max_rate = max_rate
        self.burst = burst
        self._lanes: dict[str, _Lane] = {}

    def forget(self, sid: str) -> None:
        lane = self._lanes.pop(sid, None)
        if lane is not None and lane.waiting is not None:
            lane.waiting[1].set_result(DROPPED)
            lane.waiting = None

    async def submit(
        self,
        sid: str,
        frame: Frame,
        lang: str,
        budget: int,
        arrive: Callable[[int], Awaitable[None]],
    ) -> dict[str, Any]:
        if len(frame.image) > self.limits.max_bytes:
            raise TooLarge(
                f"A frame may be at most {self.limits.max_bytes >> 20} MB; send a smaller JPEG.",
                field="image",
            )
        lane = self._lanes.setdefault(sid, _Lane(tokens=self.burst, refilled=time.monotonic()))
        self._refill(lane)
        if lane.tokens < 1:
            raise RateLimited(f"Too many frames: at most {self.max_rate:g} per second.")
        lane.tokens -= 1
        if lane.busy:
            if lane.waiting is not None:
                lane.waiting[1].set_result(DROPPED)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            lane.waiting = (frame, future)
            return await future
        lane.busy = True
        try:
            result = await self._ack(lane, frame, lang, budget, arrive)
            # Frames that arrived meanwhile: only the newest one is still waiting.
            while lane.waiting is not None:
                nxt, fut = lane.waiting
                lane.waiting = None
                fut.set_result(await self._ack(lane, nxt, lang, budget, arrive))
            return result
        finally:
            lane.busy = False
            if lane.waiting is not None:  # cancelled midway: nobody will take the next one
                lane.waiting[1].set_result(DROPPED)
                lane.waiting = None

    async def _ack(
        self,
        lane: _Lane,
        frame: Frame,
        lang: str,
        budget: int,
        arrive: Callable[[int], Awaitable[None]],
    ) -> dict[str, Any]:
        try:
            return await self._analyse(lane, frame, lang, budget, arrive)
        except DomainError as exc:
            return {"ok": False, "error": exc.as_dict()}

    def _refill(self, lane: _Lane) -> None:
        now = time.monotonic()
        lane.tokens = min(self.burst, lane.tokens + (now - lane.refilled) * self.max_rate)
        lane.refilled = now

    async def _analyse(
        self,
        lane: _Lane,
        frame: Frame,
        lang: str,
        budget: int,
        arrive: Callable[[int], Awaitable[None]],
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        intrinsics = frame.intrinsics.model_dump() if frame.intrinsics else None
        found = await loop.run_in_executor(
            self.pool,
            _analyse,
            frame.image,
            self.dictionaries,
            intrinsics,
            lane.smoother.previous_rvecs(),
            self.limits,
        )
        markers = found["markers"]
        manifest = None
        best = None
        for marker in markers:  # largest first
            try:
                snap = await self.index.lookup(marker["dictionary"], int(marker["id"]))
            except NotFound:
                continue
            # Pose was computed for an assumed size; distance scales with the real one.
            scale = snap.marker_size_m / ASSUMED_SIZE_M
            marker["pose"]["tvec"] = [v * scale for v in marker["pose"]["tvec"]]
            marker["size_m"] = snap.marker_size_m
            marker["exhibit_id"] = snap.id
            if best is None:
                best = snap
        markers = lane.smoother.update(markers, time.monotonic())
        if best is not None:
            await arrive(best.id)
            if best.id != lane.exhibit_id:
                # The scene travels once per exhibit, not with every frame.
                lane.smoother.reset()
                lane.exhibit_id = best.id
                manifest = self.index.manifest(best, lang, budget)
        ack: dict[str, Any] = {"ok": True, "markers": markers}
        if manifest is not None:
            ack["manifest"] = manifest
        return ack


class RateLimited(DomainError):
    code = "rate_limited"


DROPPED = {
    "ok": False,
    "error": {"code": "dropped", "message": "A newer frame from this tablet replaced this one."},
}


def _analyse(
    image: bytes,
    dictionaries: tuple[str, ...],
    intrinsics: dict[str, float] | None,
    previous: dict[Any, Any],
    limits: FrameLimits,
) -> dict[str, Any]:
    return analyse_frame(
        image,
        dictionaries=dictionaries,
        default_size_m=ASSUMED_SIZE_M,
        intrinsics=intrinsics,
        previous_rvecs=previous,
        limits=limits,
    )
