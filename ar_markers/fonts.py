"""The Unicode font printed marker sheets use for exhibit titles.

PDF's built-in fonts only cover Latin-1, so a title such as "Trống đồng Đông Sơn" would lose its
Vietnamese letters. DejaVu Sans covers Latin with every Vietnamese precomposed letter, Greek and
Cyrillic, and is on every Debian-based machine through the `fonts-dejavu-core` package (the
Makefile installs it); other systems often ship it too, or via matplotlib's bundled copy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.errors import Unavailable

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu: fonts-dejavu-core
    Path("/usr/share/fonts/dejavu"),  # Fedora, Arch
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)


def _matplotlib_fonts() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"


def font_path(bold: bool = False) -> Path:
    """Path of DejaVu Sans (regular or bold); Unavailable with the fix when it is missing."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    extra = _matplotlib_fonts()
    for directory in (*FONT_DIRS, *((extra,) if extra else ())):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise Unavailable(
        "Marker sheets need the DejaVu Sans font to print exhibit titles; install the "
        "'fonts-dejavu-core' package on the server."
    )
