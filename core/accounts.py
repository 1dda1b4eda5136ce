"""Users, passwords and tokens.

Passwords are argon2 hashes; verifying one costs tens of milliseconds of CPU on purpose, so it
runs in a thread and the event loop keeps serving tablets meanwhile. Tokens are random strings
handed out once and stored as SHA-256 hashes.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.database import utcnow
from core.errors import Conflict, Forbidden, Invalid, Unauthorized
from core.models import Role, Token, TokenKind, User

_hasher = PasswordHasher()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
# Verifying against this keeps the time of a login for an unknown email the same as for a known
# one, so response times do not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash("not a real password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_role(name: str) -> Role:
    try:
        role = Role[name]
    except KeyError:
        choices = ", ".join(r.name for r in Role if r is not Role.visitor)
        raise Invalid(f"Unknown role '{name}'; choose one of {choices}.", field="role") from None
    if role is Role.visitor:
        raise Invalid("Visitors are anonymous and have no account.", field="role")
    return role


async def create_user(
    session: AsyncSession, email: str, password: str, role: Role, name: str = ""
) -> User:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise Invalid(f"'{email}' is not an email address.", field="email")
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"The password must have at least {MIN_PASSWORD} characters.", field="password"
        )
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"There is already an account for {email}.", field="email")
    user = User(
        email=email,
        name=name,
        role_name=role.name,
        password_hash=await asyncio.to_thread(hash_password, password),
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    ok = await asyncio.to_thread(_verify, stored, password)
    if user is None or not ok or not user.active:
        raise Unauthorized("The email or the password is wrong.")
    return user


async def issue_token(
    session: AsyncSession, user: User, kind: TokenKind, ttl: timedelta | None
) -> str:
    raw = secrets.token_urlsafe(32)
    expires = utcnow() + ttl if ttl is not None else None
    session.add(
        Token(user_id=user.id, kind=kind.value, token_hash=token_digest(raw), expires_at=expires)
    )
    await session.flush()
    return raw


async def user_for_token(session: AsyncSession, raw: str, kinds: set[TokenKind]) -> User:
    """The user a token belongs to; Unauthorized when it is unknown, expired or revoked."""
    if not raw or len(raw) > 200:
        raise Unauthorized("The sign-in token is not valid.")
    token = await session.scalar(
        select(Token).options(joinedload(Token.user)).where(Token.token_hash == token_digest(raw))
    )
    if token is None or token.kind not in {k.value for k in kinds}:
        raise Unauthorized("The sign-in token is not valid.")
    if token.revoked_at is not None:
        raise Unauthorized("The sign-in token was revoked; sign in again.")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise Unauthorized("The sign-in token has expired; sign in again.")
    if not token.user.active:
        raise Unauthorized("This account is disabled.")
    return token.user


async def revoke_token(session: AsyncSession, raw: str) -> None:
    token = await session.scalar(select(Token).where(Token.token_hash == token_digest(raw)))
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()


def require_role(user: User | None, minimum: Role) -> User:
    """The signed-in user if their role is at least `minimum`."""
    if user is None:
        raise Unauthorized("Sign in first.")
    if user.role < minimum:
        raise Forbidden(
            f"This needs the {minimum.name} role; you are signed in as {user.role.name}."
        )
    return user
