"""MARC21 records made up for the tests and the benchmark.

The books are invented but shaped like a Vietnamese public library's catalog: titles with
tone marks and đ, several authors, ISBN-10s and ISBN-13s written with hyphens and
qualifiers, AACR2 (260) and RDA (264) imprints, and records in MARC-8 as old exports have them.
MARC-8 is written by yaz-marcdump, a real encoder, not by code of ours that could share a
misunderstanding with the reader under test.
"""

from __future__ import annotations

import random
import subprocess
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pymarc import Field, Record, Subfield
from pymarc.field import Indicators

SOURCE = "VN-HaNL"


@dataclass(frozen=True)
class Book:
    control_number: str
    title: str
    subtitle: str = ""
    part_number: str = ""
    part_name: str = ""
    authors: tuple[str, ...] = ()
    corporate: str = ""
    isbns: tuple[str, ...] = ()
    publisher: str = "Nhà xuất bản Giáo dục"
    place: str = "Hà Nội"
    year: int = 2019
    rda_imprint: bool = True
    dewey: str = ""
    call_number: tuple[str, str] | None = None
    shelf_852: tuple[str, str] | None = None
    subjects: tuple[tuple[str, ...], ...] = ()
    language: str = "vie"
    other_languages: str = ""
    marc8: bool = False
    extra: tuple[Field, ...] = field(default=())


def isbn10(n: int) -> str:
    """A valid, hyphenated ISBN-10 in the Vietnamese group (604 is an ISBN-13 prefix, 0 here)."""
    body = f"0{n:08d}"
    total = sum((10 - i) * int(d) for i, d in enumerate(body))
    check = (11 - total % 11) % 11
    return f"{body[0]}-{body[1:4]}-{body[4:9]}-{'X' if check == 10 else check}"


def isbn13(n: int) -> str:
    """A valid, hyphenated ISBN-13 with the Vietnamese 978-604 prefix."""
    body = f"978604{n:06d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return f"{body[:3]}-{body[3:6]}-{body[6:8]}-{body[8:12]}-{(10 - total % 10) % 10}"


def record(book: Book) -> Record:
    """The MARC21 bibliographic record of `book`, punctuated the way cataloguers do (ISBD)."""
    rec = Record(leader="00000nam a22000007i 4500")
    rec.add_field(Field(tag="001", data=book.control_number))
    rec.add_field(Field(tag="003", data=SOURCE))
    date1 = str(book.year)
    fixed = f"200101s{date1}    vm a          000 0 {book.language} d"
    rec.add_field(Field(tag="008", data=fixed))
    for isbn in book.isbns:
        rec.add_field(_data("020", "  ", [("a", isbn)]))
    if book.other_languages:
        rec.add_field(_data("041", "0 ", [("a", book.other_languages)]))
    if book.dewey:
        rec.add_field(_data("082", "04", [("a", book.dewey), ("2", "23")]))
    if book.call_number:
        rec.add_field(_data("090", "  ", [("a", book.call_number[0]), ("b", book.call_number[1])]))
    if book.authors:
        rec.add_field(_data("100", "1 ", [("a", book.authors[0] + ","), ("e", "tác giả.")]))
    elif book.corporate:
        rec.add_field(_data("110", "2 ", [("a", book.corporate + ".")]))
    title = [("a", book.title + (" :" if book.subtitle else " /"))]
    if book.subtitle:
        title.append(("b", book.subtitle + " /"))
    if book.part_number:
        title[-1] = (title[-1][0], title[-1][1].removesuffix(" /") + ".")
        title.append(("n", book.part_number + ","))
        title.append(("p", book.part_name + " /"))
    title.append(("c", "; ".join(book.authors) or book.corporate))
    rec.add_field(_data("245", "10", title))
    imprint = [("a", book.place + " :"), ("b", book.publisher + ","), ("c", f"{book.year}.")]
    rec.add_field(_data("264" if book.rda_imprint else "260", " 1", imprint))
    rec.add_field(_data("300", "  ", [("a", "320 tr. ;"), ("c", "24 cm.")]))
    for subject in book.subjects:
        parts = [("a", subject[0])] + [("x", s) for s in subject[1:]]
        parts[-1] = (parts[-1][0], parts[-1][1] + ".")
        rec.add_field(_data("650", " 7", [*parts, ("2", "vnlsh")]))
    for author in book.authors[1:]:
        ending = "" if author.endswith(".") else "."
        rec.add_field(_data("700", "1 ", [("a", author + ending), ("e", "tác giả.")]))
    if book.shelf_852:
        rec.add_field(_data("852", "8 ", [("h", book.shelf_852[0]), ("i", book.shelf_852[1])]))
    for extra in book.extra:
        rec.add_field(extra)
    return rec


def _data(tag: str, indicators: str, subfields: list[tuple[str, str]]) -> Field:
    return Field(
        tag=tag,
        indicators=Indicators(indicators[0], indicators[1]),
        subfields=[Subfield(code, value) for code, value in subfields],
    )


def heritage_series(count: int, *, first: int = 1) -> list[Book]:
    """A run of volumes sharing a title word and a subject, enough to need several pages."""
    books = []
    for n in range(first, first + count):
        books.append(
            Book(
                control_number=f"hue-{n:04d}",
                title=f"Di sản văn hoá Huế, tập {n}",
                authors=("Nguyễn, Đắc Xuân", f"Lê, Văn Hảo {n}"),
                isbns=(isbn13(1000 + n),) if n % 2 else (isbn10(2000 + n),),
                year=2000 + n % 20,
                rda_imprint=bool(n % 2),
                dewey="959.749",
                call_number=("959.749", f"NG-X {n}"),
                subjects=(("Di sản văn hóa", "Huế"),),
                marc8=n % 3 == 0,
            )
        )
    return books


def catalog_books() -> list[Book]:
    """The small catalog the tests search: a few hand-made books plus a 23-volume series."""
    return [
        Book(
            control_number="vn-0001",
            title="Lịch sử Việt Nam",
            subtitle="từ nguồn gốc đến thế kỷ X",
            authors=("Phan, Huy Lê", "Trần, Quốc Vượng", "Smith, J."),
            isbns=("0-306-40615-2 (bìa mềm)", "0-306-40615-3"),
            year=2019,
            dewey="959.7/01",
            call_number=("959.7", "PH-L"),
            subjects=(("Lịch sử", "Việt Nam"), ("Khảo cổ học",)),
            other_languages="vieeng",
        ),
        Book(
            control_number="vn-0002",
            title="Đất nước đổi mới",
            authors=("Trần, Văn Giàu",),
            isbns=("978-3-16-148410-0",),
            publisher="Nhà xuất bản Chính trị quốc gia",
            year=2006,
            rda_imprint=False,
            dewey="320.9597",
            shelf_852=("320.9597", "TR-G"),
            subjects=(("Chính trị", "Việt Nam", "Lịch sử"),),
            marc8=True,
        ),
        Book(
            control_number="vn-0003",
            title="Tea and the Mekong delta",
            part_number="Part 2",
            part_name="Trade routes",
            corporate="Viện Khoa học Xã hội Việt Nam",
            isbns=("960-425-059-1",),  # a check digit that does not add up
            publisher="Social Sciences Publishing House",
            place="Ho Chi Minh City",
            year=1998,
            subjects=(("Tea trade",),),
            language="eng",
            other_languages="engvie",
        ),
        *heritage_series(23),
    ]


def nfd_for_marc8(text: str) -> str:
    """Decompose the way MARC-8 spells Vietnamese: ư and ơ stay letters, tone marks combine.

    MARC-8 has the letters ư and ơ but no combining horn, so decomposing them entirely would
    lose the horn in the encoder.
    """
    text = unicodedata.normalize("NFD", text)
    for letter in ("ư", "ơ", "Ư", "Ơ"):
        text = text.replace(unicodedata.normalize("NFD", letter), letter)
    return text


def iso2709(records: Iterable[Record]) -> bytes:
    return b"".join(rec.as_marc() for rec in records)


def write_iso2709(path: Path, books: Iterable[Book], *, marc8: bool = False) -> Path:
    """Write `books` as ISO 2709, in UTF-8 or (through yaz-marcdump) in MARC-8."""
    books = list(books)
    if not marc8:
        path.write_bytes(iso2709(record(b) for b in books))
        return path
    utf8 = path.with_suffix(".utf8.mrc")
    utf8.write_bytes(iso2709(_decomposed(record(b)) for b in books))
    with path.open("wb") as out:
        subprocess.run(
            ["yaz-marcdump", "-i", "marc", "-o", "marc", "-f", "utf-8", "-t", "marc8",
             "-l", "9=32", str(utf8)],
            stdout=out,
            check=True,
        )  # fmt: skip
    utf8.unlink()
    return path


def _decomposed(rec: Record) -> Record:
    for fld in rec.fields:
        if not fld.is_control_field():
            fld.subfields = [Subfield(s.code, nfd_for_marc8(s.value)) for s in fld.subfields]
    return rec


def write_marcxml(path: Path, books: Iterable[Book]) -> Path:
    """Write `books` as a MARCXML <collection> (always UTF-8, as MARCXML is)."""
    from experience.marc import record_to_marcxml

    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for book in books:
            out.write(record_to_marcxml(record(book)) + "\n")
        out.write("</collection>\n")
    return path


_WORDS = [
    "lịch",
    "sử",
    "văn",
    "hoá",
    "di",
    "sản",
    "đất",
    "nước",
    "người",
    "Việt",
    "kinh",
    "thành",
    "cố",
    "đô",
    "làng",
    "nghề",
    "gốm",
    "sứ",
    "tranh",
    "Đông",
    "Hồ",
    "áo",
    "dài",
    "chèo",
    "tuồng",
    "ca",
    "trù",
    "nhã",
    "nhạc",
    "cung",
    "đình",
    "Huế",
    "Hội",
    "An",
    "Thăng",
    "Long",
]


def bulk_records(count: int, *, seed: int = 7) -> Iterator[Record]:
    """`count` varied records for the benchmark, made one at a time (never all in memory)."""
    rng = random.Random(seed)
    for n in range(count):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 6)))
        authors = tuple(
            f"{rng.choice(['Nguyễn', 'Trần', 'Lê', 'Phạm'])}, {rng.choice(_WORDS).title()}"
            for _ in range(rng.randint(1, 3))
        )
        yield record(
            Book(
                control_number=f"bulk-{n:07d}",
                title=words.capitalize(),
                subtitle=rng.choice(["", "nghiên cứu", "tuyển tập"]),
                authors=authors,
                isbns=(isbn13(n % 1_000_000),) if n % 2 else (isbn10(n % 100_000_000),),
                year=1950 + n % 75,
                rda_imprint=bool(n % 2),
                dewey=f"9{n % 100:02d}.{n % 7}",
                call_number=(f"9{n % 100:02d}", f"X-{n}"),
                subjects=((rng.choice(_WORDS), rng.choice(_WORDS)),),
            )
        )
