"""Accounts: users, their roles, and the tokens that prove who they are."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import Base, UTCDateTime, utcnow


class Role(enum.IntEnum):
    """Roles are ranked: each one may do everything the ones below it may."""

    visitor = 0
    member = 1
    docent = 2
    librarian = 3
    admin = 4


class TokenKind(enum.StrEnum):
    bearer = "bearer"  # API clients and the pages' fetch calls
    session = "session"  # the HttpOnly cookie of the web pages
    feed = "feed"  # read-only calendar feeds, revocable on their own


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role_name: Mapped[str] = mapped_column("role", String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list[Token]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def role(self) -> Role:
        return Role[self.role_name]

    def public(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role_name}


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Only a hash is kept: a leaked database does not leak working tokens.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")
