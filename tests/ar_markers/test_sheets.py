"""A printed sheet puts each marker at its configured size, readable, with a working QR code."""

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest

from ar_markers.detection import detect_markers
from ar_markers.sheets import SheetItem, sheet_pdf
from core.errors import Invalid

DPI = 300
BASE = "https://library.example.org/"


def render_pages(pdf: bytes, dpi: int = DPI) -> list[np.ndarray]:
    document = pdfium.PdfDocument(pdf)
    pages = []
    for page in document:
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        pages.append(np.array(bitmap.to_pil().convert("L")))
    return pages


def page_texts(pdf: bytes) -> list[str]:
    return [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)]


def side_mm(corners: np.ndarray, dpi: int = DPI) -> np.ndarray:
    edges = np.linalg.norm(corners - np.roll(corners, 1, axis=0), axis=1)
    return edges / dpi * 25.4


@pytest.fixture(scope="module")
def sheet() -> bytes:
    items = [
        SheetItem("aruco_4x4_50", 3, 0.10, "Trống đồng Đông Sơn", "/exhibits/trong-dong"),
        SheetItem("apriltag_36h11", 42, 0.06, "Bình gốm men lam", "exhibits/binh-gom"),
        SheetItem("aruco_4x4_50", 9, 0.05, "Sắc phong triều Nguyễn", "https://other.example/e/9"),
    ]
    return sheet_pdf(items, BASE)


def test_sheet_is_an_a4_pdf_with_cards_flowing_onto_a_second_page(sheet):
    document = pdfium.PdfDocument(sheet)
    assert len(document) == 2
    width, height = document[0].get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)


def test_printed_markers_have_their_configured_size_within_one_percent(sheet):
    expected = {("aruco_4x4_50", 3): 100.0, ("apriltag_36h11", 42): 60.0, ("aruco_4x4_50", 9): 50.0}
    measured = {}
    for page in render_pages(sheet):
        for found in detect_markers(page, ["aruco_4x4_50", "apriltag_36h11"]):
            measured[(found.dictionary, found.marker_id)] = side_mm(found.corners)
    assert set(measured) == set(expected)
    for key, size in expected.items():
        assert np.all(np.abs(measured[key] - size) <= 0.01 * size), (key, measured[key])


def test_qr_codes_open_each_exhibits_web_page(sheet):
    finder = cv2.QRCodeDetectorAruco()  # finds several codes on a page full of squares
    reader = cv2.QRCodeDetector()  # then the plain reader must decode each code on its own
    urls = set()
    for page in render_pages(sheet, dpi=150):
        ok, decoded, points, _ = finder.detectAndDecodeMulti(page)
        assert ok
        for url, quad in zip(decoded, points, strict=True):
            x0, y0 = np.maximum(quad.min(axis=0).astype(int) - 30, 0)
            x1, y1 = quad.max(axis=0).astype(int) + 30
            alone, _, _ = reader.detectAndDecode(page[y0:y1, x0:x1])
            assert alone == url
            urls.add(url)
    assert urls == {
        "https://library.example.org/exhibits/trong-dong",
        "https://library.example.org/exhibits/binh-gom",
        "https://other.example/e/9",
    }


def test_vietnamese_titles_are_embedded_as_text(sheet):
    text = "\n".join(page_texts(sheet))
    for title in ("Trống đồng Đông Sơn", "Bình gốm men lam", "Sắc phong triều Nguyễn"):
        assert title in text
    assert "100 %" in text  # the print-at-actual-size instruction


def test_a_marker_too_large_for_a4_is_refused():
    with pytest.raises(Invalid) as caught:
        sheet_pdf([SheetItem("aruco_4x4_50", 1, 0.25, "Big", "/e/1")], BASE)
    assert caught.value.field == "size_m"


def test_a_relative_url_without_a_site_address_is_refused():
    with pytest.raises(Invalid) as caught:
        sheet_pdf([SheetItem("aruco_4x4_50", 1, 0.05, "T", "/e/1")], "")
    assert caught.value.field == "url"


def test_the_same_marker_twice_on_a_sheet_is_refused():
    item = SheetItem("aruco_4x4_50", 1, 0.05, "T", "/e/1")
    with pytest.raises(Invalid):
        sheet_pdf([item, item], BASE)


def test_an_unknown_dictionary_or_empty_sheet_is_refused():
    with pytest.raises(Invalid):
        sheet_pdf([SheetItem("qr", 1, 0.05, "T", "/e/1")], BASE)
    with pytest.raises(Invalid):
        sheet_pdf([], BASE)
