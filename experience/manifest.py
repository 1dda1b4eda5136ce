"""The visitor-facing manifest of an exhibit (shape in DESIGN.md, "Manifest").

Everything a tablet needs to show an exhibit comes in this one document: which model files to
fetch at which level of detail, where to anchor the model on the marker, and all text already
in the visitor's language. It is built from a snapshot of plain values so that it can be cached
and served without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from experience.texts import resolve, text

# A device that tells us nothing gets a level a five-year-old tablet draws smoothly.
DEFAULT_MAX_TRIANGLES = 150_000
# Devices are grouped into a few triangle budgets (each device gets the largest budget not above
# what it reported), so that a tour's "next stop" goes out as a handful of pre-built messages,
# one per (language, budget), instead of one per tablet.
DEVICE_BUDGETS = (20_000, 50_000, 150_000, 500_000, 2_000_000)


def device_budget(max_triangles: int | None) -> int:
    if max_triangles is None:
        return DEFAULT_MAX_TRIANGLES
    fitting = [b for b in DEVICE_BUDGETS if b <= max_triangles]
    return fitting[-1] if fitting else DEVICE_BUDGETS[0]


@dataclass(frozen=True, slots=True)
class LodView:
    level: int
    sha256: str
    ext: str
    triangles: int
    bytes: int

    @property
    def url(self) -> str:
        return f"/files/{self.sha256}.{self.ext}"


@dataclass(frozen=True, slots=True)
class CatalogView:
    source: str
    record_id: str
    title: str = ""
    author: str = ""
    isbn: str = ""
    call_number: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class ExhibitSnapshot:
    """What the manifest needs of an exhibit and its asset, detached from any session."""

    id: int
    slug: str
    title: dict[str, str]
    narration: dict[str, str]
    marker_dictionary: str
    marker_id: int
    marker_size_m: float
    anchor_offset: tuple[float, float, float]
    hotspots: tuple[dict[str, Any], ...]
    asset_id: int | None
    lods: tuple[LodView, ...]
    bounds_m: tuple[tuple[float, ...], ...] | None
    thumbnail_url: str | None = None
    narration_audio: dict[str, str] = field(default_factory=dict)
    catalog: CatalogView | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def recommended_level(lods: tuple[LodView, ...], budget: int | None) -> int | None:
    """The most detailed level within the triangle budget; the lightest one if none fits."""
    if not lods:
        return None
    budget = budget or DEFAULT_MAX_TRIANGLES
    fitting = [lod for lod in lods if lod.triangles <= budget]
    chosen = (
        min(fitting, key=lambda lod: lod.level) if fitting else max(lods, key=lambda lod: lod.level)
    )
    return chosen.level


def build_manifest(
    snap: ExhibitSnapshot, lang: str, fallback: str, budget: int | None
) -> dict[str, Any]:
    """The manifest for one language and one device budget (see `device_budget`)."""
    title, used = resolve(snap.title, lang, fallback)
    audio, _ = resolve(snap.narration_audio, lang, fallback)
    return {
        "exhibit": {
            "id": snap.id,
            "slug": snap.slug,
            "title": title,
            "narration": text(snap.narration, lang, fallback),
            "narration_audio": f"/files/{audio}" if audio else None,
            "lang": used,
        },
        "scene": {
            "asset_id": snap.asset_id,
            "lods": [
                {"level": lod.level, "url": lod.url, "triangles": lod.triangles, "bytes": lod.bytes}
                for lod in sorted(snap.lods, key=lambda lod: lod.level)
            ],
            "recommended_lod": recommended_level(snap.lods, budget),
            "bounds_m": [list(corner) for corner in snap.bounds_m] if snap.bounds_m else None,
            "poster": snap.thumbnail_url,
        },
        "anchor": {"marker_size_m": snap.marker_size_m, "offset": list(snap.anchor_offset)},
        "hotspots": [
            {
                "position": spot.get("position"),
                "normal": spot.get("normal"),
                "title": text(spot.get("title") or {}, lang, fallback),
                "body": text(spot.get("body") or {}, lang, fallback),
            }
            for spot in snap.hotspots
        ],
        "catalog": None
        if snap.catalog is None
        else {
            "source": snap.catalog.source,
            "record_id": snap.catalog.record_id,
            "title": snap.catalog.title,
            "author": snap.catalog.author,
            "isbn": snap.catalog.isbn,
            "call_number": snap.catalog.call_number,
            "url": snap.catalog.url,
        },
    }
