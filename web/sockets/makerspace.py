"""The `/makerspace` namespace: members watch their print jobs, staff watch the whole farm.

A bearer token is required at connect. Members join `user:<id>` and hear `job` events of their
own jobs; staff (librarians and up) also join `staff` and hear every `job` and `printer` event.
The events themselves come from the print farm through the relay table (web/relay.py), so they
reach clients of every server process when Redis is configured.
"""

from __future__ import annotations

from typing import Any

import socketio
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.accounts import user_for_token
from core.errors import DomainError
from core.models import Role, TokenKind
from web.relay import STAFF_ROOM

NAMESPACE = "/makerspace"
STAFF = Role.librarian


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


class MakerspaceAuth(BaseModel):
    model_config = ConfigDict(extra="ignore")
    token: str = Field(min_length=1, max_length=200)


class MakerspaceNamespace(socketio.AsyncNamespace):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(NAMESPACE)
        self.sessions = sessions

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        try:
            parsed = MakerspaceAuth.model_validate(auth or {})
        except ValidationError:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "unauthorized", "message": "Connect with auth: {token: <your token>}."}
            ) from None
        try:
            async with self.sessions() as session:
                user = await user_for_token(session, parsed.token, {TokenKind.bearer})
        except DomainError as exc:
            raise socketio.exceptions.ConnectionRefusedError(exc.as_dict()) from None
        if user.role < Role.member:
            raise socketio.exceptions.ConnectionRefusedError(
                {"code": "forbidden", "message": "The makerspace is for members."}
            )
        await self.enter_room(sid, user_room(user.id))
        if user.role >= STAFF:
            await self.enter_room(sid, STAFF_ROOM)

    async def on_disconnect(self, sid: str, *_reason: Any) -> None:
        return None
