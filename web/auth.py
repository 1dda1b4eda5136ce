"""Who is asking: bearer tokens for API clients, an HttpOnly cookie for the web pages.

The user is resolved lazily and once per request, so static files and anonymous visitor
traffic never touch the database for it. Cookie-authenticated requests that change state must
echo the CSRF cookie in a header (double submit), which a page on another site cannot do.
"""

from __future__ import annotations

from aiohttp import web

from core.accounts import require_role, user_for_token
from core.errors import Forbidden, Unauthorized
from core.models import Role, TokenKind, User
from web.keys import SESSIONS

SESSION_COOKIE = "smartlib_session"
CSRF_COOKIE = "smartlib_csrf"
CSRF_HEADER = "X-CSRF-Token"
_USER = web.RequestKey("user", object)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def current_user(request: web.Request) -> User | None:
    if _USER in request:
        return request[_USER]  # type: ignore[return-value]
    user: User | None = None
    token = bearer_token(request)
    if token is None and "Authorization" in request.headers:
        # Explicit credentials that are not a bearer token must not fall back to the cookie.
        raise Unauthorized("Send the token as 'Authorization: Bearer <token>'.")
    if token is not None:
        async with request.app[SESSIONS]() as session:
            user = await user_for_token(session, token, {TokenKind.bearer})
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
        async with request.app[SESSIONS]() as session:
            user = await user_for_token(session, cookie, {TokenKind.session})
        if request.method not in _SAFE:
            sent = request.headers.get(CSRF_HEADER)
            if not sent or sent != request.cookies.get(CSRF_COOKIE):
                raise Forbidden("This change needs the page's CSRF token; reload the page.")
    request[_USER] = user
    return user


async def require(request: web.Request, minimum: Role) -> User:
    return require_role(await current_user(request), minimum)
