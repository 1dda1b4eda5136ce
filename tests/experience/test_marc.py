"""Reading MARC21 files into catalog entries (experience/marc.py)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from core.errors import Invalid
from experience.marc import (
    MARC_NS,
    BadRecord,
    CatalogEntry,
    entry_from_marcxml,
    fold,
    normalize_isbn,
    read_catalog,
    with_exhibit_links,
)
from tests.experience.marc_factory import (
    Book,
    bulk_records,
    catalog_books,
    heritage_series,
    iso2709,
    record,
    write_iso2709,
    write_marcxml,
)


def by_number(items) -> dict[str, CatalogEntry]:
    entries = [item for item in items if isinstance(item, CatalogEntry)]
    return {entry.control_number: entry for entry in entries}


@pytest.fixture(scope="module")
def hand_made() -> list[Book]:
    return catalog_books()[:3]


def test_utf8_iso2709_record_yields_every_extracted_field(tmp_path: Path, hand_made) -> None:
    path = write_iso2709(tmp_path / "books.mrc", hand_made)
    entry = by_number(read_catalog(path))["vn-0001"]

    assert entry.source == "VN-HaNL"
    assert entry.title == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert entry.authors == ("Phan, Huy Lê", "Trần, Quốc Vượng", "Smith, J.")
    # the ISBN-10 becomes its ISBN-13; the one with a wrong check digit is dropped
    assert entry.isbns == ("9780306406157",)
    assert entry.publisher == "Nhà xuất bản Giáo dục"
    assert entry.year == 2019
    assert entry.dewey == "959.701"
    assert entry.call_number == "959.7 PH-L"
    assert entry.subjects == ("Lịch sử -- Việt Nam", "Khảo cổ học")
    assert entry.languages == ("vie", "eng")
    root = etree.fromstring(entry.marcxml.encode())
    assert root.tag == f"{{{MARC_NS}}}record"
    assert root.findtext(f"{{{MARC_NS}}}controlfield[@tag='001']") == "vn-0001"


def test_aacr2_imprint_852_shelf_mark_and_corporate_author_are_read(
    tmp_path: Path, hand_made
) -> None:
    entries = by_number(read_catalog(write_iso2709(tmp_path / "books.mrc", hand_made)))

    renewal = entries["vn-0002"]
    assert renewal.publisher == "Nhà xuất bản Chính trị quốc gia"  # from 260
    assert renewal.year == 2006
    assert renewal.call_number == "320.9597 TR-G"  # from 852 $h $i
    assert renewal.isbns == ("9783161484100",)
    tea = entries["vn-0003"]
    assert tea.title == "Tea and the Mekong delta. Part 2, Trade routes"
    assert tea.authors == ("Viện Khoa học Xã hội Việt Nam",)
    assert tea.isbns == ()
    assert tea.languages == ("eng", "vie")


def test_marc8_record_arrives_as_unicode_and_says_so_in_its_leader(
    tmp_path: Path, hand_made, yaz_marcdump: str
) -> None:
    path = write_iso2709(tmp_path / "old.mrc", hand_made, marc8=True)
    assert path.read_bytes()[9:10] == b" "  # leader/09 blank: the file says MARC-8

    entries = by_number(read_catalog(path))

    assert entries["vn-0002"].title == "Đất nước đổi mới"
    assert entries["vn-0002"].authors == ("Trần, Văn Giàu",)
    assert entries["vn-0001"].title == "Lịch sử Việt Nam : từ nguồn gốc đến thế kỷ X"
    assert entries["vn-0001"].subjects[0] == "Lịch sử -- Việt Nam"
    leader = etree.fromstring(entries["vn-0002"].marcxml.encode()).findtext(f"{{{MARC_NS}}}leader")
    assert leader[9] == "a"


def test_marcxml_file_gives_the_same_entries_as_iso2709(tmp_path: Path) -> None:
    books = catalog_books()
    from_iso = by_number(read_catalog(write_iso2709(tmp_path / "all.mrc", books)))
    from_xml = by_number(read_catalog(write_marcxml(tmp_path / "all.xml", books)))

    assert len(from_xml) == len(books)
    # the MARCXML differs only in the leader's record length, which ISO 2709 fills in
    assert {k: replace(e, marcxml="") for k, e in from_xml.items()} == {
        k: replace(e, marcxml="") for k, e in from_iso.items()
    }


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("0-306-40615-2", "9780306406157"),
        ("0306406152 (pbk.)", "9780306406157"),
        ("0-8044-2957-X", "9780804429573"),
        ("0-8044-2957-x", "9780804429573"),
        ("978-3-16-148410-0", "9783161484100"),
        ("979-10-90636-07-1", "9791090636071"),
        ("0-306-40615-3", None),
        ("978-3-16-148410-1", None),
        ("12345", None),
        ("", None),
        ("(bìa cứng)", None),
    ],
)
def test_isbn_normalised_to_isbn13_digits_or_dropped(written: str, expected: str | None) -> None:
    assert normalize_isbn(written) == expected


def test_broken_record_in_the_middle_is_reported_with_its_position_and_the_rest_is_read() -> None:
    records = [iso2709([record(book)]) for book in heritage_series(5)]
    damaged = records[2][:60] + records[2][80:]  # 20 bytes lost: shorter than its leader says
    data = b"".join([records[0], records[1], damaged, records[3], records[4]])

    results = list(read_catalog(io.BytesIO(data)))

    assert [type(r).__name__ for r in results] == ["CatalogEntry"] * 2 + ["BadRecord"] + [
        "CatalogEntry"
    ] * 2
    bad = results[2]
    assert bad.position == 3
    assert "Record 3" in bad.message
    assert f"byte {len(records[0]) + len(records[1])}" in bad.message
    assert "shorter" in bad.message
    assert [r.control_number for r in results if isinstance(r, CatalogEntry)] == [
        "hue-0001",
        "hue-0002",
        "hue-0004",
        "hue-0005",
    ]


def test_damaged_leader_does_not_shift_the_records_after_it() -> None:
    records = [iso2709([record(book)]) for book in heritage_series(3)]
    garbled = b"12x4" + records[1][4:]  # the record length is no longer a number

    results = list(read_catalog(io.BytesIO(records[0] + garbled + records[2]), format="iso2709"))

    assert isinstance(results[1], BadRecord) and results[1].position == 2
    assert isinstance(results[2], CatalogEntry) and results[2].control_number == "hue-0003"


def test_invalid_utf8_in_a_utf8_record_is_reported_not_guessed() -> None:
    records = [iso2709([record(book)]) for book in heritage_series(3)]
    garbled = records[1].replace("ế".encode(), b"\xff\xfe\xfd")  # same length, not UTF-8
    assert len(garbled) == len(records[1])

    results = list(read_catalog(io.BytesIO(records[0] + garbled + records[2])))

    assert isinstance(results[1], BadRecord)
    assert "not valid UTF-8" in results[1].message
    assert [type(r) for r in results] == [CatalogEntry, BadRecord, CatalogEntry]


def test_line_breaks_and_dos_end_of_file_mark_between_records_are_not_records() -> None:
    records = [iso2709([record(book)]) for book in heritage_series(2)]

    results = list(read_catalog(io.BytesIO(records[0] + b"\r\n" + records[1] + b"\r\n\x1a")))

    assert [r.control_number for r in results] == ["hue-0001", "hue-0002"]


def test_file_that_is_not_marc_is_reported_without_reading_it_whole() -> None:
    results = list(read_catalog(io.BytesIO(b"PK\x03\x04" + b"\x00" * 400_000), format="iso2709"))

    assert len(results) == 1
    assert isinstance(results[0], BadRecord)
    assert "may not be an ISO 2709 file" in results[0].message


def test_file_cut_off_mid_record_reports_the_last_record() -> None:
    data = iso2709([record(book) for book in heritage_series(2)])

    results = list(read_catalog(io.BytesIO(data[:-40])))

    assert isinstance(results[0], CatalogEntry)
    assert isinstance(results[1], BadRecord)
    assert results[1].position == 2
    assert "ends in the middle" in results[1].message


def test_marcxml_record_with_a_broken_leader_is_reported_and_reading_continues(
    tmp_path: Path,
) -> None:
    path = write_marcxml(tmp_path / "three.xml", heritage_series(3))
    text = path.read_text(encoding="utf-8")
    second = text.index("<leader>", text.index("hue-0001"))
    path.write_text(text[:second] + "<leader>00000nam" + text[second + 32 :], encoding="utf-8")

    results = list(read_catalog(path))

    assert [type(r).__name__ for r in results] == ["CatalogEntry", "BadRecord", "CatalogEntry"]
    assert results[1].position == 2
    assert "leader" in results[1].message


def test_marcxml_syntax_error_stops_reading_and_says_from_where(tmp_path: Path) -> None:
    path = write_marcxml(tmp_path / "cut.xml", heritage_series(3))
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("hue-0003") + 20], encoding="utf-8")

    results = list(read_catalog(path))

    assert [type(r).__name__ for r in results] == ["CatalogEntry", "CatalogEntry", "BadRecord"]
    assert results[2].position == 3
    assert "not well-formed" in results[2].message


def test_reading_is_streamed_not_loaded_whole() -> None:
    data = iso2709(bulk_records(3000))
    stream = io.BytesIO(data)

    reader = read_catalog(stream)
    first = next(reader)

    assert isinstance(first, CatalogEntry)
    assert stream.tell() < len(data) / 4
    assert sum(1 for _ in reader) == 2999


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Lịch sử", "lich su"),
        ("LỊCH SỬ Việt Nam", "lich su viet nam"),
        ("Đất nước đổi mới", "dat nuoc doi moi"),
        ("Nguyễn  Đắc\tXuân", "nguyen dac xuan"),
        ("Ơn nghĩa ưu ái", "on nghia uu ai"),
        ("Søren Kierkegaard Straße", "soren kierkegaard strasse"),
        ("lich su", "lich su"),
    ],
)
def test_fold_ignores_case_and_diacritics(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_exhibit_link_added_as_856_and_read_back(tmp_path: Path) -> None:
    entry = by_number(read_catalog(write_iso2709(tmp_path / "b.mrc", catalog_books()[:1])))[
        "vn-0001"
    ]
    url = "https://museum.example/exhibits/trong-dong"

    linked = with_exhibit_links(entry.marcxml, [(url, "Trống đồng Đông Sơn in 3D")])

    again = entry_from_marcxml(linked)
    assert again.links == ((url, "Trống đồng Đông Sơn in 3D"),)
    field = etree.fromstring(linked.encode()).find(f"{{{MARC_NS}}}datafield[@tag='856']")
    assert (field.get("ind1"), field.get("ind2")) == ("4", "2")
    # the new field sits in tag order, after 852 and before nothing else
    tags = [d.get("tag") for d in etree.fromstring(linked.encode()) if d.get("tag")]
    assert tags == sorted(tags)
    assert again.title == entry.title


def test_exhibit_links_replace_earlier_ones_for_the_same_url() -> None:
    marcxml = record_xml_with_foreign_link()
    url = "https://museum.example/exhibits/42"

    once = with_exhibit_links(marcxml, [(url, "Old name")])
    twice = with_exhibit_links(once, [(url, "New name"), (url + "-b", "Second exhibit")])
    thrice = with_exhibit_links(twice, [(url, "New name"), (url + "-b", "Second exhibit")])

    assert entry_from_marcxml(twice).links == (
        ("https://library.example/ebook/1", "E-book"),
        (url, "New name"),
        (url + "-b", "Second exhibit"),
    )
    assert thrice == twice


def test_exhibit_link_without_url_is_refused() -> None:
    with pytest.raises(Invalid) as refused:
        with_exhibit_links(record_xml_with_foreign_link(), [("  ", "text")])
    assert refused.value.field == "links"


def record_xml_with_foreign_link() -> str:
    from pymarc import Field, Subfield
    from pymarc.field import Indicators

    book = Book(
        control_number="vn-0900",
        title="Gốm Chu Đậu",
        extra=(
            Field(
                tag="856",
                indicators=Indicators("4", "0"),
                subfields=[
                    Subfield("u", "https://library.example/ebook/1"),
                    Subfield("y", "E-book"),
                ],
            ),
        ),
    )
    from experience.marc import record_to_marcxml

    return record_to_marcxml(record(book))


def test_marcxml_of_a_record_escapes_markup_and_drops_control_characters(tmp_path: Path) -> None:
    book = Book(control_number="vn-0950", title='Tôm & cá <"Cà Mau">\x01', authors=("Lê, A",))
    path = tmp_path / "odd.mrc"
    path.write_bytes(iso2709([record(book)]))

    (entry,) = read_catalog(path)

    assert entry.title == 'Tôm & cá <"Cà Mau">'
    assert entry_from_marcxml(entry.marcxml).title == entry.title
