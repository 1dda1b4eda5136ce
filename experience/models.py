"""Tables of the visitor experience: scanned assets and the exhibits built on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import Base, UTCDateTime, utcnow


class Asset(Base):
    """One uploaded 3D scan and everything derived from it (levels of detail, poster, printable).

    The derived files live in the blob store under their SHA-256; this row records which ones
    belong together and how far processing got.
    """

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    filename: Mapped[str] = mapped_column(String(300))
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_ext: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing|ready|failed
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{level, triangles, bytes, max_error, sha256, ext}], level 0 is the full resolution.
    lods: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # {sha256, watertight, volume_cm3, height_mm}
    printable: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Exhibit(Base):
    __tablename__ = "exhibits"
    # A printed marker must lead to exactly one exhibit.
    __table_args__ = (UniqueConstraint("marker_dictionary", "marker_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    # Multilingual text is kept as {lang: text}; the manifest resolves it per visitor.
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    narration: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    asset_id: Mapped[int | None] = mapped_column(
        ForeignKey("assets.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    marker_dictionary: Mapped[str] = mapped_column(String(32), default="aruco_4x4_50")
    marker_id: Mapped[int] = mapped_column(Integer)
    marker_size_m: Mapped[float] = mapped_column(Float, default=0.15)
    # Where the model stands relative to the marker's centre, in metres (x, y, z).
    anchor_offset: Mapped[list[float]] = mapped_column(JSON, default=lambda: [0.0, 0.0, 0.0])
    # [{position, normal, title{lang}, body{lang}}]
    hotspots: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    catalog_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    catalog_record_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Recorded narration per language: {lang: "sha256.ext"} in the blob store.
    narration_audio: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    asset: Mapped[Asset | None] = relationship(lazy="joined")


class Tour(Base):
    """An ordered walk through exhibits that a docent leads and tablets follow."""

    __tablename__ = "tours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # [{exhibit_id, note{lang}}]; the note is the docent's script for that stop.
    stops: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Short code visitors type to join (printed at the entrance, said aloud by the docent).
    code: Mapped[str] = mapped_column(String(12), unique=True)
    current_index: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TourMember(Base):
    """Which tour a visitor follows, so a reconnecting tablet is put back where it was."""

    __tablename__ = "tour_members"

    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("tours.id", ondelete="CASCADE"), index=True)
    lang: Mapped[str] = mapped_column(String(8))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VisitEvent(Base):
    """One thing a visitor did: scanned an exhibit, dwelt at it, finished a tour."""

    __tablename__ = "visit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # scan | dwell | tour_complete
    visitor_id: Mapped[str] = mapped_column(String(64))
    exhibit_id: Mapped[int | None] = mapped_column(
        ForeignKey("exhibits.id", ondelete="CASCADE"), nullable=True, index=True
    )
    tour_id: Mapped[int | None] = mapped_column(
        ForeignKey("tours.id", ondelete="CASCADE"), nullable=True
    )
    lang: Mapped[str] = mapped_column(String(8), default="")
    dwell_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
