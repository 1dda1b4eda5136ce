"""The `/visit` namespace: tablets scanning markers (DESIGN.md, "Socket.IO")."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import socketio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.accounts import user_for_token
from core.errors import DomainError
from core.models import Role, TokenKind
from core.settings import Settings
from experience.scan_index import ScanIndex
from web.metrics import Metrics
from web.sockets.acks import Ack, acked

log = logging.getLogger(__name__)

NAMESPACE = "/visit"
Dictionary = Literal["aruco_4x4_50", "apriltag_36h11"]


class Device(BaseModel):
    model_config = ConfigDict(extra="ignore")
    max_triangles: int | None = Field(default=None, ge=1_000, le=50_000_000)


class VisitAuth(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lang: str = Field(default="", max_length=8, pattern=r"^[a-z]{0,3}(-[A-Za-z]{2})?$")
    device: Device = Field(default_factory=Device)
    visitor_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    token: str | None = Field(default=None, max_length=200)


class Scan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dictionary: Dictionary
    marker_id: int = Field(ge=0, le=100_000)


@dataclass(slots=True)
class Visitor:
    """Per-connection state, kept small: a busy day is thousands of tablets."""

    lang: str
    max_triangles: int | None
    visitor_id: str | None
    role: Role
    user_id: int | None


class VisitNamespace(socketio.AsyncNamespace):
    def __init__(
        self, settings: Settings, sessions: Any, index: ScanIndex, metrics: Metrics
    ) -> None:
        super().__init__(NAMESPACE)
        self.settings = settings
        self.sessions = sessions
        self.index = index
        self.metrics = metrics
        self.visitors: dict[str, Visitor] = {}

    def count_event(self, event: str, outcome: str) -> None:
        self.metrics.socket_events[(NAMESPACE, event, outcome)] += 1

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
        lang = parsed.lang if parsed.lang in self.settings.languages else self.settings.default_lang
        self.visitors[sid] = Visitor(
            lang, parsed.device.max_triangles, parsed.visitor_id, role, user_id
        )
        self.metrics.sockets[NAMESPACE] += 1

    async def on_disconnect(self, sid: str, *_reason: Any) -> None:
        if self.visitors.pop(sid, None) is not None:
            self.metrics.sockets[NAMESPACE] -= 1

    @acked(Scan)
    async def on_scan(self, sid: str, scan: Scan) -> Ack:
        visitor = self.visitors[sid]
        snap = await self.index.lookup(scan.dictionary, scan.marker_id)
        return {"manifest": self.index.manifest(snap, visitor.lang, visitor.max_triangles)}
