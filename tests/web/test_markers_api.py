import cv2
import numpy as np
import pypdfium2


def _detect(gray: np.ndarray) -> list[int]:
    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    _corners, ids, _rejected = cv2.aruco.ArucoDetector(dictionary).detectMarkers(gray)
    return [] if ids is None else sorted(int(i) for i in ids.ravel())


def _pdf_pages(data: bytes, dpi: int = 150) -> list[np.ndarray]:
    pdf = pypdfium2.PdfDocument(data)
    pages = []
    for page in pdf:
        image = page.render(scale=dpi / 72).to_pil().convert("L")
        pages.append(np.asarray(image))
    return pages


async def test_marker_png_and_pdf_show_the_exhibits_marker(client, make_exhibit):
    exhibit = await make_exhibit("drum", 23)
    png = await client.get(f"/api/v1/exhibits/{exhibit.id}/marker.png")
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(await png.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert _detect(image) == [23]
    pdf = await client.get(f"/api/v1/exhibits/{exhibit.id}/marker.pdf")
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
    pages = _pdf_pages(await pdf.read())
    assert len(pages) == 1 and _detect(pages[0]) == [23]


async def test_unpublished_markers_are_hidden_from_visitors(client, make_exhibit, make_user):
    exhibit = await make_exhibit("secret", 5, published=False)
    assert (await client.get(f"/api/v1/exhibits/{exhibit.id}/marker.png")).status == 404
    _, token = await make_user("librarian")
    staff = await client.get(
        f"/api/v1/exhibits/{exhibit.id}/marker.png", headers={"Authorization": f"Bearer {token}"}
    )
    assert staff.status == 200
    assert (await client.get("/api/v1/exhibits/abc/marker.pdf")).status == 422


async def test_sheet_of_all_published_markers_is_for_librarians(client, make_exhibit, make_user):
    await make_exhibit("drum", 7)
    await make_exhibit("stele", 12)
    await make_exhibit("hidden", 13, published=False)
    assert (await client.get("/api/v1/markers/sheet.pdf")).status == 401
    _, token = await make_user("librarian")
    sheet = await client.get(
        "/api/v1/markers/sheet.pdf", headers={"Authorization": f"Bearer {token}"}
    )
    found = sorted(i for page in _pdf_pages(await sheet.read()) for i in _detect(page))
    assert found == [7, 12]
