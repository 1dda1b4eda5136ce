"""What an upload may cost us, checked before anything is decoded whole."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Configurable ceilings for one upload. Every check names the limit it hit.

    Counts come from headers and JSON (accessor counts, image headers, PLY/STL headers, zip
    directories) and are checked against these numbers before the bytes they describe are read,
    so a lying header costs a refusal, never an allocation.
    """

    max_bytes: int = 1024 * MiB  # the upload itself, and everything a zip unpacks to
    max_triangles: int = 12_000_000
    max_vertices: int = 24_000_000
    max_texture_pixels: int = 8192 * 8192  # per image
    max_textures: int = 64
    max_zip_entries: int = 2_000
    max_nodes: int = 100_000
    max_json_bytes: int = 64 * MiB


DEFAULT_LIMITS = Limits()
