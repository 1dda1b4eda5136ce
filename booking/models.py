"""Tables of the makerspace booking: resources, certifications, reservations and the waitlist.

A resource's rules are stored as the REST body that describes them (`policy`) and turned into a
`BookingPolicy` by the same parser librarians' input goes through, so a stored resource can
never hold rules a librarian could not have typed. Instants are stored in UTC.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import Base, UTCDateTime, utcnow


class State(enum.StrEnum):
    requested = "requested"  # waiting for a librarian's approval; already holds the slot
    confirmed = "confirmed"
    denied = "denied"
    cancelled = "cancelled"
    no_show = "no_show"
    completed = "completed"


# States that hold their slot. The PostgreSQL exclusion constraint, the SQLite overlap check and
# every availability query use this one list.
ACTIVE_STATES: tuple[str, ...] = (State.requested.value, State.confirmed.value)
_ACTIVE_SQL = "state IN ('requested', 'confirmed')"


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Copied out of `policy` so that lists can filter and sort without decoding JSON.
    type: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(120))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Certification(Base):
    """A member's training for a kind of machine; `expires_at` None means it never lapses."""

    __tablename__ = "certifications"
    __table_args__ = (UniqueConstraint("user_id", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    granted_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reservation(Base):
    __tablename__ = "reservations"
    __table_args__ = (
        # The guarantee against double booking on PostgreSQL: no two active reservations of one
        # resource may overlap, buffer included. SQLite has no such constraint; the service
        # serialises its writers instead.
        ExcludeConstraint(
            ("resource_id", "="),
            (text("tstzrange(starts_at, blocked_until)"), "&&"),
            name="ex_reservations_no_overlap",
            using="gist",
            where=text(_ACTIVE_SQL),
        ).ddl_if(dialect="postgresql"),
        Index("ix_reservations_resource_id_starts_at", "resource_id", "starts_at"),
        Index("ix_reservations_user_id_starts_at", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ends_at plus the resource's buffer at booking time: the end of what the booking occupies.
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=State.confirmed.value)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    print_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A staff override: who waived which rules, and why.
    override_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # Who approved, denied or cancelled it, and the note they left.
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decision_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Bumped on every change calendar clients should notice (RFC 5545 SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    resource: Mapped[Resource] = relationship(lazy="raise")


class WaitState(enum.StrEnum):
    waiting = "waiting"
    offered = "offered"
    withdrawn = "withdrawn"


class WaitlistEntry(Base):
    """A member waiting for a slot that is taken; offered the slot when it frees up."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index("ix_waitlist_entries_resource_id_starts_at", "resource_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=WaitState.waiting.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
