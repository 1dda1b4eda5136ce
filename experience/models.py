"""Tables of the visitor experience: scanned assets and the exhibits built on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
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
    # The linked catalog record when a copy of it is held locally; joined so that building a
    # manifest needs no second query. Matched on the MARC identity, not a foreign key: a link
    # may name a record that is imported only later.
    catalog_record: Mapped[CatalogRecord | None] = relationship(
        primaryjoin="and_(foreign(Exhibit.catalog_source) == CatalogRecord.source, "
        "foreign(Exhibit.catalog_record_id) == CatalogRecord.record_id)",
        viewonly=True,
        lazy="joined",
        uselist=False,
    )


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


class CatalogRecord(Base):
    """The local copy of one bibliographic record, from an imported file or a live SRU look-up.

    A record is identified the MARC way, by its source (003, the cataloguing agency) and its
    control number (001), so importing the same export again updates rows instead of adding
    them, and an exhibit's link `{source, record_id}` names a record whichever way it arrived.
    The full MARCXML is kept so the record can go back to the library with our links added;
    its folded words for search are kept beside it in `CatalogSearch`.
    """

    __tablename__ = "catalog_records"
    __table_args__ = (UniqueConstraint("source", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text, nullable=True)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    isbn: Mapped[str | None] = mapped_column(String(13), nullable=True)
    isbns: Mapped[list[str]] = mapped_column(JSON, default=list)
    publisher: Mapped[str | None] = mapped_column(Text, nullable=True)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dewey: Mapped[str | None] = mapped_column(Text, nullable=True)
    call_number: Mapped[str | None] = mapped_column(Text, nullable=True)
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Deferred: lists and the manifest never need the whole record, only the export does.
    marcxml: Mapped[str] = mapped_column(Text, deferred=True)
    # SHA-256 of the MARCXML: a re-import rewrites (and announces) only records that changed.
    digest: Mapped[str] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(8), default="file")  # file | sru
    # The configured SRU catalog a cached record is refreshed from (origin "sru" only).
    sru_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CatalogSearch(Base):
    """The folded words of one catalog record ("lich su viet nam"), for search on any database.

    Kept apart from the record so that a search scans a few hundred bytes per record instead
    of rows holding whole MARCXML records (tens of megabytes for a mid-sized library). Each
    column is padded with spaces, so LIKE '% word%' is a word-prefix match on SQLite and
    PostgreSQL alike.
    """

    __tablename__ = "catalog_search"

    record_pk: Mapped[int] = mapped_column(
        ForeignKey("catalog_records.id", ondelete="CASCADE"), primary_key=True
    )
    title_key: Mapped[str] = mapped_column(Text, default=" ")
    author_key: Mapped[str] = mapped_column(Text, default=" ")
    subject_key: Mapped[str] = mapped_column(Text, default=" ")
    search_key: Mapped[str] = mapped_column(Text, default=" ")


# Exhibits are looked up by the record they link to whenever that record is re-imported.
Index("ix_exhibits_catalog_record_id", Exhibit.catalog_record_id)
