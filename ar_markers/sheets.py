"""Printable A4 sheets of exhibit markers: true size, title, QR fallback, cut marks.

Pose is computed from the printed size, so a sheet printed at the wrong scale puts the heritage
object at the wrong distance. Everything is therefore drawn as vectors in millimetres (no
raster image for a printer driver to resample), each card carries a 50 mm check bar, and the
footer tells the librarian to print at 100 %. The QR code is the fallback for a phone that
cannot run the AR page: it opens the exhibit's web page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import cv2
import numpy as np
import segno
from fpdf import FPDF

from ar_markers.dictionaries import check_marker, check_size, opencv_dictionary
from ar_markers.fonts import font_path
from core.errors import Invalid

PAGE_W, PAGE_H = 210.0, 297.0  # A4, millimetres
MARGIN = 12.0
FOOTER_H = 14.0
GAP = 12.0  # between cards: room for both cards' cut marks
CARD_MIN_W = 72.0
TITLE_H = 12.0  # two lines of title
QR_MM = 24.0
CUT_MARK = 5.0
CUT_OFFSET = 2.0
MAX_ITEMS = 500


@dataclass(frozen=True)
class SheetItem:
    """One exhibit's marker on a sheet. `url` may be relative to the sheet's base URL."""

    dictionary: str
    marker_id: int
    size_m: float
    title: str
    url: str


@dataclass(frozen=True)
class CardGeometry:
    """Millimetre sizes of one card, all derived from the marker's printed edge."""

    size: float  # black square edge
    quiet: float  # white margin around it, part of the marker
    width: float
    height: float

    @property
    def paper(self) -> float:
        return self.size + 2 * self.quiet


def card_geometry(item: SheetItem) -> CardGeometry:
    fam = check_marker(item.dictionary, item.marker_id)
    size = check_size(item.size_m) * 1000
    cell = size / fam.modules
    # One cell of quiet zone keeps a small marker's square apart from a dark table; past 12 mm
    # white only costs paper, and a capped margin lets a 15-17 cm marker still fit on A4.
    quiet = min(max(cell, 6.0), 12.0)
    paper = size + 2 * quiet
    width = max(paper, CARD_MIN_W)
    height = paper + 2 + TITLE_H + 2 + QR_MM + 2
    if width > PAGE_W - 2 * MARGIN or height > PAGE_H - 2 * MARGIN - FOOTER_H:
        raise Invalid(
            f"A {size / 10:g} cm marker with its white margin does not fit on an A4 page; "
            "choose a smaller size.",
            field="size_m",
        )
    return CardGeometry(size, quiet, width, height)


def resolve_url(url: str, base_url: str) -> str:
    """Absolute http(s) URL of the exhibit page; relative ones are joined to `base_url`."""
    if not isinstance(url, str) or not isinstance(base_url, str):
        raise Invalid("The exhibit web address must be text.", field="url")
    absolute = urljoin(base_url, url.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Invalid(
            f"The exhibit web address {absolute!r} is not a full http(s) address; "
            "set the site's public address.",
            field="url",
        )
    return absolute


def marker_cells(dictionary: str, marker_id: int) -> np.ndarray:
    """The marker's cells, black border included, as a bool grid (True = black)."""
    fam = check_marker(dictionary, marker_id)
    image = cv2.aruco.generateImageMarker(opencv_dictionary(dictionary), marker_id, fam.modules, 1)
    return image < 128


def _runs(row: Iterable[bool]) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a row: one rectangle per run, not per cell."""
    runs, start = [], None
    values = list(row)
    for i, value in enumerate([*values, False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


class _Sheet:
    """Draws cards onto an FPDF document, shelf by shelf, page by page."""

    def __init__(self, title: str) -> None:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.add_font("DejaVu", "", str(font_path()))
        pdf.add_font("DejaVu", "B", str(font_path(bold=True)))
        pdf.set_title(title)
        pdf.set_creator("smartlib")
        pdf.set_creation_date(datetime(2020, 1, 1, tzinfo=UTC))  # same input, same bytes
        self.pdf = pdf
        self.x = self.y = self.row_h = 0.0

    def place(self, card: CardGeometry) -> tuple[float, float]:
        """Top-left corner for the next card: next in the row, next row, or a new page."""
        if self.pdf.page == 0 or (
            self.x + card.width > PAGE_W - MARGIN
            and self.y + self.row_h + GAP + card.height > PAGE_H - MARGIN - FOOTER_H
        ):
            self._new_page()
        elif self.x + card.width > PAGE_W - MARGIN:
            self.x, self.y = MARGIN, self.y + self.row_h + GAP
            self.row_h = 0.0
        elif self.y + card.height > PAGE_H - MARGIN - FOOTER_H:
            self._new_page()
        origin = (self.x, self.y)
        self.x += card.width + GAP
        self.row_h = max(self.row_h, card.height)
        return origin

    def _new_page(self) -> None:
        pdf = self.pdf
        pdf.add_page()
        self.x, self.y, self.row_h = MARGIN, MARGIN, 0.0
        y = PAGE_H - MARGIN - 6
        pdf.set_font("DejaVu", "", 8)
        pdf.set_text_color(0)
        pdf.set_xy(MARGIN, y - 6)
        pdf.cell(
            PAGE_W - 2 * MARGIN,
            4,
            "Print at 100 % (actual size), not “fit to page”. Check: the bar below is 50 mm.",
        )
        pdf.set_fill_color(0)
        pdf.rect(MARGIN, y, 50.0, 1.5, style="F")
        for tick in (0.0, 49.7):  # end ticks, inside the 50 mm so the bar's length stays exact
            pdf.rect(MARGIN + tick, y - 1.5, 0.3, 1.5, style="F")

    def card(self, item: SheetItem, card: CardGeometry, url: str) -> None:
        pdf = self.pdf
        left, top = self.place(card)
        self._cut_marks(left, top, card.width, card.height)
        paper_left = left + (card.width - card.paper) / 2
        self._marker(item, paper_left + card.quiet, top + card.quiet, card.size)
        self._title(item.title, left, top + card.paper + 2, card.width)
        qr_top = top + card.paper + 2 + TITLE_H + 2
        self._qr(url, left, qr_top, QR_MM)
        pdf.set_text_color(60)
        pdf.set_font("DejaVu", "", 6.5)
        text_left = left + QR_MM + 2
        pdf.set_xy(text_left, qr_top + 1)
        pdf.multi_cell(
            card.width - QR_MM - 2,
            3,
            f"No AR on this phone? Scan the code for the exhibit page.\n{url}\n"
            f"Marker {item.dictionary} #{item.marker_id}, "
            f"{card.size / 10:g} cm black square",
            align="L",
        )

    def _marker(self, item: SheetItem, x: float, y: float, size: float) -> None:
        """The black square as one rectangle, white cells on top: its outline is exact."""
        pdf = self.pdf
        cells = marker_cells(item.dictionary, item.marker_id)
        cell = size / cells.shape[0]
        pdf.set_fill_color(0)
        pdf.rect(x, y, size, size, style="F")
        pdf.set_fill_color(255)
        for r, row in enumerate(~cells):
            for start, length in _runs(row):
                pdf.rect(x + start * cell, y + r * cell, length * cell, cell, style="F")

    def _qr(self, url: str, x: float, y: float, side: float) -> None:
        qr = segno.make(url, error="m")
        rows = [list(map(bool, row)) for row in qr.matrix_iter(scale=1, border=0)]
        # the QR's own quiet zone is the card's white: keep 4 modules of it inside `side`
        module = side / (len(rows) + 8)
        pdf = self.pdf
        pdf.set_fill_color(0)
        for r, row in enumerate(rows):
            for start, length in _runs(row):
                pdf.rect(
                    x + (4 + start) * module,
                    y + (4 + r) * module,
                    length * module,
                    module * 1.02,  # a hair of overlap so rows do not show seams on screen
                    style="F",
                )

    def _title(self, title: str, x: float, y: float, width: float) -> None:
        pdf = self.pdf
        text = unicodedata.normalize("NFC", title).strip() or "Untitled exhibit"
        pdf.set_text_color(0)
        for size in (11, 10, 9, 8):
            pdf.set_font("DejaVu", "B", size)
            lines = pdf.multi_cell(width, size * 0.45, text, dry_run=True, output="LINES")
            if len(lines) <= 2:
                break
        else:
            while len(lines) > 2 and len(text) > 1:
                text = text[: max(1, int(len(text) * 0.9))].rstrip() + "…"
                lines = pdf.multi_cell(width, size * 0.45, text, dry_run=True, output="LINES")
        pdf.set_xy(x, y)
        pdf.multi_cell(width, size * 0.45, text, align="C")

    def _cut_marks(self, x: float, y: float, w: float, h: float) -> None:
        pdf = self.pdf
        pdf.set_draw_color(0)
        pdf.set_line_width(0.2)
        for cx, sx in ((x, -1), (x + w, 1)):
            for cy, sy in ((y, -1), (y + h, 1)):
                # two short strokes on the extensions of the card's edges, off the card
                pdf.line(cx + sx * CUT_OFFSET, cy, cx + sx * (CUT_OFFSET + CUT_MARK), cy)
                pdf.line(cx, cy + sy * CUT_OFFSET, cx, cy + sy * (CUT_OFFSET + CUT_MARK))


def sheet_pdf(items: Sequence[SheetItem], base_url: str, *, title: str = "Marker sheet") -> bytes:
    """A4 PDF with one card per item, as many cards per page as fit, in the order given.

    Each card: the marker at its true printed size (size_m is the black square's edge) with its
    quiet zone, the exhibit title, a QR code to the exhibit page, and cut marks.
    """
    if not items:
        raise Invalid("Choose at least one exhibit to print a marker sheet.", field="items")
    if len(items) > MAX_ITEMS:
        raise Invalid(f"At most {MAX_ITEMS} markers fit in one sheet request.", field="items")
    cards = []
    seen: set[tuple[str, int]] = set()
    for item in items:
        key = (item.dictionary, item.marker_id)
        if key in seen:
            # two identical markers would show the visitor the same exhibit: a layout mistake
            raise Invalid(
                f"Marker {item.dictionary} #{item.marker_id} appears twice on the sheet.",
                field="items",
            )
        seen.add(key)
        if not isinstance(item.title, str) or len(item.title) > 300:
            raise Invalid("An exhibit title must be text of at most 300 characters.", field="title")
        cards.append((item, card_geometry(item), resolve_url(item.url, base_url)))
    sheet = _Sheet(title)
    for item, card, url in cards:
        sheet.card(item, card, url)
    return bytes(sheet.pdf.output())
