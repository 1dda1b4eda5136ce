"""The `/visit` namespace (DESIGN.md, "Socket.IO"): tablets scanning markers, following tours,
and curators watching where visitors are.

Rooms: `ex:<id>` holds the tablets at an exhibit (they get its `presence`), `staff` the signed-in
librarians (they get every `presence`), and `tour:<id>:<lang>:<budget>` the tablets following a
tour, grouped by language and device budget so that a docent's "next stop" is one pre-built
message per group rather than one per tablet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import socketio
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts import user_for_token
from core.database import unit_of_work
from core.errors import DomainError, Forbidden, Invalid, Unavailable
from core.models import Role, TokenKind
from core.settings import Settings
from experience import tours
from experience.analytics import Visit, VisitRecorder
from experience.manifest import DEVICE_BUDGETS, device_budget
from experience.presence import PresenceBoard, Whereabouts
from experience.scan_index import ScanIndex
from web.metrics import Metrics
from web.sockets.acks import Ack, acked, error_ack
from web.sockets.fastpath import preencoded
from web.sockets.frames import Frame, FrameService

log = logging.getLogger(__name__)

NAMESPACE = "/visit"
STAFF_ROOM = "staff"
# Head counts change with every arrival; a class of forty walking up to a drum is one
# `presence` per exhibit per tick, not forty messages to a room of forty (nor 2,000 to 2,000).
PRESENCE_TICK_S = 0.05
Dictionary = Literal["aruco_4x4_50", "apriltag_36h11"]
Share = Callable[[str, dict[str, Any]], Awaitable[None]]


class Device(BaseModel):
    model_config = ConfigDict(extra="ignore")
    max_triangles: int | None = Field(default=None, ge=1_000, le=50_000_000)


class VisitAuth(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lang: str = Field(default="", max_length=8, pattern=r"^[a-z]{0,3}(-[A-Za-z]{2})?$")
    device: Device = Field(default_factory=Device)
    visitor_id: str | None = Field(
        default=None, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$"
    )
    token: str | None = Field(default=None, max_length=200)


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dictionary: Dictionary
    marker_id: int = Field(ge=0, le=100_000)


class TourJoin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tour_id: int | None = Field(default=None, ge=1)
    code: str | None = Field(default=None, min_length=3, max_length=12, pattern=r"^[A-Za-z0-9]+$")

    @model_validator(mode="after")
    def _one_of(self) -> TourJoin:
        if (self.tour_id is None) == (self.code is None):
            raise ValueError("give either tour_id or code")
        return self


class TourGoto(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tour_id: int = Field(ge=1)
    index: int = Field(ge=0, le=1000)


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Visitor:
    """Per-connection state, kept small: a busy day is thousands of tablets."""

    key: str  # the client's visitor id, or the connection id when it keeps none
    lang: str
    budget: int
    role: Role
    user_id: int | None
    persistent: bool
    tour_room: str | None = None


def tour_room(tour_id: int, lang: str, budget: int) -> str:
    return f"tour:{tour_id}:{lang}:{budget}"


class VisitNamespace(socketio.AsyncNamespace):
    # Camera-frame analysis, set by the app when it has a vision thread pool.
    frames: FrameService | None = None

    # Answered from memory (web/sockets/fastpath.py runs these in the read loop, no task each).
    inline_events = frozenset({"scan"})

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        index: ScanIndex,
        metrics: Metrics,
        recorder: VisitRecorder,
        share: Share | None = None,
        host_id: str = "local",
    ) -> None:
        super().__init__(NAMESPACE)
        self.settings = settings
        self.sessions = sessions
        self.index = index
        self.metrics = metrics
        self.recorder = recorder
        self.share = share
        self.host_id = host_id
        self.visitors: dict[str, Visitor] = {}
        self.whereabouts = Whereabouts()
        self.board = PresenceBoard()
        # Manifests serialised once per (exhibit, language, budget); the index's own cached
        # dict is kept alongside, so an edit (a new dict there) means encoding again.
        self._encoded: dict[tuple[int, str, int], tuple[dict[str, Any], Any]] = {}
        # Exhibits whose count changed, the latest change last (a dict as an ordered set).
        self._presence_dirty: dict[int, None] = {}
        self._presence_flush: asyncio.TimerHandle | None = None
        self._presence_task: asyncio.Task[None] | None = None
        self._events: dict[str, Callable[..., Awaitable[Ack]]] = {
            "scan": self.on_scan,
            "tour:join": self.on_tour_join,
            "tour:leave": self.on_tour_leave,
            "tour:goto": self.on_tour_goto,
            "presence:list": self.on_presence_list,
            "frame": self.on_frame,
        }

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(self._events)

    def count_event(self, event: str, outcome: str) -> None:
        self.metrics.socket_events[(NAMESPACE, event, outcome)] += 1

    async def trigger_event(self, event: str, *args: Any) -> Any:
        # python-socketio hands client events named "connect"/"disconnect" to the same
        # handlers as the real ones; only the server's own calls may reach them.
        sid = args[0] if args else None
        if event == "connect":
            if sid in self.visitors:
                return error_ack("invalid", "'connect' is not an event a client can send.")
            return await self.on_connect(*args)
        if event == "disconnect":
            if self.server.manager.is_connected(sid, NAMESPACE):
                return error_ack("invalid", "'disconnect' is not an event a client can send.")
            return await self.on_disconnect(*args)
        handler = self._events.get(event) if isinstance(event, str) else None
        if handler is None:
            self.count_event("unknown", "invalid")
            return error_ack("invalid", f"There is no event '{str(event)[:40]}' here.")
        return await handler(*args)

    # Connection -------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            parsed = VisitAuth.model_validate(auth or {})
        except ValidationError as exc:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "invalid", "message": f"Bad connection data: {exc.errors()[0]['msg']}"}
            ) from None
        role, user_id = Role.visitor, None
        if parsed.token:
            try:
                async with self.sessions() as session:
                    user = await user_for_token(session, parsed.token, {TokenKind.bearer})
            except DomainError as exc:
                raise socketio.exceptions.ConnectionRefusedError(exc.as_dict()) from None
            role, user_id = user.role, user.id
        membership = None
        if parsed.visitor_id:
            async with self.sessions() as session:
                membership = await tours.membership(session, parsed.visitor_id)
        lang = parsed.lang if parsed.lang in self.settings.languages else ""
        if not lang:
            lang = membership[1] if membership else self.settings.default_lang
        visitor = Visitor(
            key=parsed.visitor_id or sid,
            lang=lang,
            budget=device_budget(parsed.device.max_triangles),
            role=role,
            user_id=user_id,
            persistent=parsed.visitor_id is not None,
        )
        self.visitors[sid] = visitor
        self.metrics.sockets[NAMESPACE] += 1
        if role >= Role.librarian:
            await self.enter_room(sid, STAFF_ROOM)
        if membership is not None:
            # A reconnecting tablet goes straight back to the docent's current stop.
            tour = membership[0]
            await self._follow(sid, visitor, tour.id)
            manifest = await self._stop_manifest(
                tour.stops, tour.current_index, visitor.lang, visitor.budget
            )
            await self.emit(
                "tour:stop",
                {"tour_id": tour.id, "index": tour.current_index, "manifest": manifest},
                to=sid,
            )

    async def on_disconnect(self, sid: str, *_reason: Any) -> None:
        visitor = self.visitors.pop(sid, None)
        if self.frames is not None:
            self.frames.forget(sid)
        if visitor is None:
            return
        self.metrics.sockets[NAMESPACE] -= 1
        left = self.whereabouts.leave(visitor.key, time.monotonic())
        if left is not None:
            self.recorder.record(
                Visit(
                    "dwell",
                    visitor.key,
                    exhibit_id=left.exhibit_id,
                    lang=visitor.lang,
                    dwell_s=left.dwell_s,
                )
            )
            await self._presence_changed(left.exhibit_id)

    # Scanning ---------------------------------------------------------------------------

    @acked(Scan)
    async def on_scan(self, sid: str, scan: Scan) -> Ack:
        visitor = self.visitors[sid]
        snap = await self.index.lookup(scan.dictionary, scan.marker_id)
        await self.arrive(sid, visitor, snap.id)
        return {"manifest": self._manifest_json(snap.id, visitor.lang, visitor.budget, snap)}

    def _manifest_json(self, exhibit_id: int, lang: str, budget: int, snap: Any) -> Any:
        manifest = self.index.manifest(snap, lang, budget)
        key = (exhibit_id, lang, budget)
        cached = self._encoded.get(key)
        if cached is None or cached[0] is not manifest:
            if len(self._encoded) > 10_000:  # bounded, like the index's own caches
                self._encoded.clear()
            cached = (manifest, preencoded(manifest))
            self._encoded[key] = cached
        return cached[1]

    async def arrive(self, sid: str, visitor: Visitor, exhibit_id: int) -> None:
        """The tablet is at `exhibit_id` now (a scan, or a camera frame showing its marker)."""
        entered, left = self.whereabouts.seen(visitor.key, exhibit_id, time.monotonic())
        if not entered:
            return
        self.recorder.record(Visit("scan", visitor.key, exhibit_id=exhibit_id, lang=visitor.lang))
        if left is not None:
            self.recorder.record(
                Visit(
                    "dwell",
                    visitor.key,
                    exhibit_id=left.exhibit_id,
                    lang=visitor.lang,
                    dwell_s=left.dwell_s,
                )
            )
            await self.leave_room(sid, f"ex:{left.exhibit_id}")
            await self._presence_changed(left.exhibit_id)
        await self.enter_room(sid, f"ex:{exhibit_id}")
        await self._presence_changed(exhibit_id)

    # Tours ------------------------------------------------------------------------------

    @acked(Frame)
    async def on_frame(self, sid: str, frame: Frame) -> Ack:
        """A camera frame: markers and poses, and the manifest when the exhibit changes."""
        if self.frames is None:
            raise Unavailable("This server does not analyse camera frames; send `scan`.")
        visitor = self.visitors[sid]

        async def arrive(exhibit_id: int) -> None:
            await self.arrive(sid, visitor, exhibit_id)

        return await self.frames.submit(sid, frame, visitor.lang, visitor.budget, arrive)

    @acked(TourJoin)
    async def on_tour_join(self, sid: str, join: TourJoin) -> Ack:
        visitor = self.visitors[sid]
        async with unit_of_work(self.sessions) as session:
            tour = await tours.join(
                session, visitor.key, visitor.lang, tour_id=join.tour_id, code=join.code
            )
        await self._follow(sid, visitor, tour.id)
        manifest = await self._stop_manifest(
            tour.stops, tour.current_index, visitor.lang, visitor.budget
        )
        return {
            "tour": {"id": tour.id, "title": tour.title, "stops": len(tour.stops)},
            "index": tour.current_index,
            "manifest": manifest,
        }

    @acked(Empty)
    async def on_tour_leave(self, sid: str, _empty: Empty) -> Ack:
        visitor = self.visitors[sid]
        async with unit_of_work(self.sessions) as session:
            await tours.leave(session, visitor.key)
        if visitor.tour_room:
            await self.leave_room(sid, visitor.tour_room)
            visitor.tour_room = None
        return {}

    @acked(TourGoto)
    async def on_tour_goto(self, sid: str, goto: TourGoto) -> Ack:
        visitor = self.visitors[sid]
        if visitor.role < Role.docent:
            raise Forbidden("Only a docent can move a tour to another stop.")
        async with unit_of_work(self.sessions) as session:
            tour = await tours.goto(session, goto.tour_id, goto.index)
            followers = await tours.members(session, tour.id)
        await self.broadcast_stop(tour.id, tour.stops, goto.index)
        if goto.index == len(tour.stops) - 1:
            for member in followers:
                self.recorder.record(
                    Visit("tour_complete", member.visitor_id, tour_id=tour.id, lang=member.lang)
                )
        # The docent sees who follows: tablets on every process, from the database.
        return {"index": goto.index, "followers": len(followers)}

    async def broadcast_stop(self, tour_id: int, stops: list[dict[str, Any]], index: int) -> None:
        """One message per (language, device budget) group, built once each."""
        sends = []
        for lang in self.settings.languages:
            for budget in DEVICE_BUDGETS:
                manifest = await self._stop_manifest(stops, index, lang, budget)
                sends.append(
                    self.emit(
                        "tour:stop",
                        {"tour_id": tour_id, "index": index, "manifest": manifest},
                        room=tour_room(tour_id, lang, budget),
                    )
                )
        await asyncio.gather(*sends)

    async def _follow(self, sid: str, visitor: Visitor, tour_id: int) -> None:
        room = tour_room(tour_id, visitor.lang, visitor.budget)
        if visitor.tour_room and visitor.tour_room != room:
            await self.leave_room(sid, visitor.tour_room)
        await self.enter_room(sid, room)
        visitor.tour_room = room

    async def _stop_manifest(
        self, stops: list[dict[str, Any]], index: int, lang: str, budget: int
    ) -> dict[str, Any]:
        if not 0 <= index < len(stops):
            raise Invalid(f"This tour has no stop {index}.", field="index")
        snap = await self.index.by_id(int(stops[index]["exhibit_id"]))
        manifest = self.index.manifest(snap, lang, budget)
        note = stops[index].get("note") or {}
        if note:
            # The docent's note for the stop travels with the scene, in the visitor's language.
            return {**manifest, "tour_note": note.get(lang) or next(iter(note.values()))}
        return manifest

    # Presence ---------------------------------------------------------------------------

    @acked(Empty)
    async def on_presence_list(self, sid: str, _empty: Empty) -> Ack:
        if self.visitors[sid].role < Role.librarian:
            raise Forbidden("Presence across the library is for librarians.")
        return {
            "presence": [
                {"exhibit_id": k, "visitors": v} for k, v in sorted(self.board.totals().items())
            ]
        }

    async def _presence_changed(self, exhibit_id: int) -> None:
        count = self.whereabouts.counts.get(exhibit_id, 0)
        self.board.report(self.host_id, exhibit_id, count, time.monotonic())
        self._presence_dirty.pop(exhibit_id, None)
        self._presence_dirty[exhibit_id] = None
        if self._presence_flush is None:
            loop = asyncio.get_running_loop()
            self._presence_flush = loop.call_later(PRESENCE_TICK_S, self._start_presence_flush)

    def _start_presence_flush(self) -> None:
        self._presence_flush = None
        self._presence_task = asyncio.ensure_future(self._flush_presence())

    async def _flush_presence(self) -> None:
        dirty, self._presence_dirty = self._presence_dirty, {}
        for exhibit_id in dirty:
            try:
                if self.share is not None:
                    count = self.whereabouts.counts.get(exhibit_id, 0)
                    await self.share("presence", {"exhibit_id": exhibit_id, "count": count})
                await self.emit_presence(exhibit_id)
            except Exception:
                log.exception("presence for exhibit %s not sent", exhibit_id)

    async def emit_presence(self, exhibit_id: int) -> None:
        """Tell the exhibit's tablets and the staff how many visitors stand there now.

        Sent with `ignore_queue`: every process emits to its own tablets from the counts it
        has heard, so the message is not relayed twice through Redis.
        """
        body = {"exhibit_id": exhibit_id, "visitors": self.board.total(exhibit_id)}
        await self.server.manager.emit(
            "presence",
            body,
            namespace=NAMESPACE,
            room=[f"ex:{exhibit_id}", STAFF_ROOM],
            ignore_queue=True,
        )

    async def on_shared(self, topic: str, payload: dict[str, Any], host_id: str) -> None:
        """Events other processes share through Redis."""
        now = time.monotonic()
        if topic == "presence":
            exhibit_id = int(payload.get("exhibit_id", 0))
            self.board.report(host_id, exhibit_id, int(payload.get("count", 0)), now)
            await self.emit_presence(exhibit_id)
        elif topic == "heartbeat":
            self.board.heartbeat(host_id, now)
            self.board.heartbeat(self.host_id, now)  # this process is alive by definition
            for exhibit_id in self.board.forget_silent(now, after_s=15.0):
                await self.emit_presence(exhibit_id)
        elif topic == "exhibit.changed":
            self.index.invalidate(payload.get("exhibit_id"))
