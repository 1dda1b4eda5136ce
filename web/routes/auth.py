"""Sign in and out, and who am I."""

from __future__ import annotations

import secrets
from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.accounts import authenticate, issue_token, revoke_token
from core.database import unit_of_work
from core.models import Role, TokenKind
from web.auth import CSRF_COOKIE, SESSION_COOKIE, bearer_token, require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import SESSIONS, SETTINGS

routes = web.RouteTableDef()


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


@routes.post("/api/v1/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, LoginBody)
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        user = await authenticate(session, body.email, body.password)
        token = await issue_token(
            session, user, TokenKind.bearer, timedelta(hours=settings.token_ttl_hours)
        )
        cookie = await issue_token(
            session, user, TokenKind.session, timedelta(hours=settings.session_ttl_hours)
        )
    response = json_response({"token": token, "user": user.public()})
    secure = settings.public_url.startswith("https://")
    max_age = settings.session_ttl_hours * 3600
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=max_age,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        secrets.token_urlsafe(24),
        httponly=False,
        samesite="Strict",
        secure=secure,
        max_age=max_age,
        path="/",
    )
    return response


@routes.post("/api/v1/auth/logout")
async def logout(request: web.Request) -> web.Response:
    await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        for raw in (bearer_token(request), request.cookies.get(SESSION_COOKIE)):
            if raw:
                await revoke_token(session, raw)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(CSRF_COOKIE, path="/")
    return response


@routes.get("/api/v1/users/me")
async def me(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    return json_response(user.public())
