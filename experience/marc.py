"""MARC21 records in, catalog entries out: the part of the catalog link that needs no database.

Libraries exchange MARC21 as ISO 2709 files (``.mrc``, UTF-8 or the older MARC-8) and as MARCXML;
SRU servers answer with MARCXML. Everything here turns either form into a `CatalogEntry` holding
the few fields the product shows (title, authors, ISBN, call number ...) plus the full record as
MARCXML, so a record can be handed back to the library unchanged except for the links we add.

Files are read as a stream, one record at a time, because a library's export easily holds
hundreds of thousands of records. A record that cannot be read becomes a `BadRecord` naming its
position, and reading goes on: one damaged record must not cost the librarian the whole file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import pymarc
from lxml import etree
from pymarc import Field, Leader, Record, Subfield
from pymarc.field import Indicators

from core.errors import Invalid

MARC_NS = "http://www.loc.gov/MARC21/slim"
_M = f"{{{MARC_NS}}}"

RECORD_TERMINATOR = b"\x1d"
MAX_RECORD_LENGTH = 99_999
# blank lines and the DOS end-of-file mark some old systems leave after the last record
_TRAILING_JUNK = b" \r\n\t\x1a"
_READ_SIZE = 1 << 16

Format = Literal["iso2709", "marcxml"]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """What the product keeps of one bibliographic record.

    `control_number` (001) and `source` (003) together identify the record across re-imports;
    `marcxml` is the whole record (text already converted to Unicode) so nothing the library
    catalogued is lost by importing it.
    """

    control_number: str | None
    source: str | None
    title: str
    authors: tuple[str, ...]
    isbns: tuple[str, ...]
    publisher: str | None
    year: int | None
    dewey: str | None
    call_number: str | None
    subjects: tuple[str, ...]
    languages: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    marcxml: str

    @property
    def isbn(self) -> str | None:
        return self.isbns[0] if self.isbns else None

    @property
    def author(self) -> str | None:
        return self.authors[0] if self.authors else None

    @property
    def language(self) -> str | None:
        return self.languages[0] if self.languages else None


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record that could not be read; `position` counts records in the file from 1."""

    position: int
    message: str


# --- reading files ---------------------------------------------------------------------------


def read_catalog(
    source: str | Path | BinaryIO, *, format: Format | None = None
) -> Iterator[CatalogEntry | BadRecord]:
    """Yield one entry (or one `BadRecord`) per record of an ISO 2709 or MARCXML file.

    The format is taken from `format`, else guessed from the first byte: MARCXML starts with
    ``<``, ISO 2709 with the digits of the record length. Memory stays flat whatever the size
    of the file.
    """
    if isinstance(source, str | Path):
        with Path(source).open("rb") as stream:
            yield from read_catalog(stream, format=format)
        return
    if format is None:
        format = _sniff_format(source)
    if format == "marcxml":
        yield from _read_marcxml(source)
    else:
        yield from _read_iso2709(source)


def _sniff_format(stream: BinaryIO) -> Format:
    start = stream.tell()
    head = stream.read(512)
    stream.seek(start)
    # a UTF-8 byte order mark or blank lines may precede the XML declaration
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return "marcxml" if head.startswith(b"<") else "iso2709"


def _iso2709_chunks(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Split the stream at record terminators, yielding (byte offset, record bytes).

    Splitting on the terminator rather than trusting each leader's length means a record whose
    leader is damaged does not shift every record after it. A stretch longer than any record
    can be (the leader has five digits for the length) is handed on cut short, so a file that
    is not MARC at all is reported instead of being read into memory.
    """
    buffer = b""
    offset = 0
    skipping = False
    while block := stream.read(_READ_SIZE):
        buffer += block
        *complete, buffer = buffer.split(RECORD_TERMINATOR)
        for chunk in complete:
            if not skipping:
                yield offset, chunk + RECORD_TERMINATOR
            skipping = False
            offset += len(chunk) + 1
        if len(buffer) > MAX_RECORD_LENGTH and not skipping:
            yield offset, buffer[:MAX_RECORD_LENGTH]
            skipping = True
    if buffer.strip(_TRAILING_JUNK) and not skipping:
        yield offset, buffer


def _read_iso2709(stream: BinaryIO) -> Iterator[CatalogEntry | BadRecord]:
    position = 0
    for offset, chunk in _iso2709_chunks(stream):
        # exports often put a line break between records; it belongs to no record
        stripped = chunk.lstrip(b"\r\n ")
        offset += len(chunk) - len(stripped)
        if stripped == RECORD_TERMINATOR:
            continue
        position += 1
        if not stripped.endswith(RECORD_TERMINATOR):
            problem = (
                f"no end of record within {MAX_RECORD_LENGTH:,} bytes (the most a MARC record "
                "can hold), so this may not be an ISO 2709 file"
                if len(stripped) >= MAX_RECORD_LENGTH
                else "the file ends in the middle of this record"
            )
            yield BadRecord(
                position, f"Record {position} (byte {offset}): {problem}; it was skipped."
            )
            continue
        try:
            record = Record(data=stripped, to_unicode=True, utf8_handling="strict")
        except Exception as exc:  # pymarc raises many kinds; each means this record is unreadable
            yield BadRecord(
                position,
                f"Record {position} (byte {offset}): {_iso2709_problem(exc)}; it was skipped.",
            )
            continue
        try:
            yield entry_from_record(record)
        except Invalid as exc:
            yield BadRecord(position, f"Record {position} (byte {offset}): {exc.message}")


def _iso2709_problem(exc: Exception) -> str:
    match exc:
        case pymarc.exceptions.RecordLeaderInvalid():
            return "its leader (the first 24 characters) is incomplete"
        case pymarc.exceptions.BaseAddressNotFound() | pymarc.exceptions.BaseAddressInvalid():
            return "its leader points the data outside the record"
        case pymarc.exceptions.TruncatedRecord() | pymarc.exceptions.RecordLengthInvalid():
            return "it is shorter than its leader says, so part of it is missing"
        case pymarc.exceptions.RecordDirectoryInvalid():
            return "its directory of fields is damaged"
        case UnicodeDecodeError():
            return "its leader says UTF-8 but the text is not valid UTF-8"
        case ValueError():
            return "its leader or directory holds something other than the expected digits"
        case _:
            return f"it could not be read ({exc})"


def _read_marcxml(stream: BinaryIO) -> Iterator[CatalogEntry | BadRecord]:
    position = 0
    events = etree.iterparse(
        stream,
        events=("end",),
        tag=(f"{_M}record", "record"),
        resolve_entities=False,
        no_network=True,
        huge_tree=True,
    )
    try:
        for _, element in events:
            position += 1
            try:
                yield entry_from_record(record_from_element(element))
            except Invalid as exc:
                yield BadRecord(position, f"Record {position}: {exc.message}; it was skipped.")
            # drop what was read so memory does not grow with the file
            element.clear(keep_tail=True)
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        # XML cannot be resynchronised after a syntax error: report where reading stopped
        yield BadRecord(
            position + 1,
            f"Record {position + 1} and after: the file is not well-formed XML from line "
            f"{exc.lineno} ({exc.msg}); reading stopped there.",
        )


# --- MARCXML <-> pymarc ----------------------------------------------------------------------


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def record_from_element(element: etree._Element) -> Record:
    """A pymarc record from one MARCXML ``<record>`` element (with or without namespace)."""
    leader: str | None = None
    fields: list[Field] = []
    for child in element:
        name = _local(child.tag)
        if name == "leader":
            leader = child.text or ""
        elif name == "controlfield":
            tag = child.get("tag", "")
            _check_tag(tag)
            fields.append(Field(tag=tag, data=_nfc(child.text or "")))
        elif name == "datafield":
            tag = child.get("tag", "")
            _check_tag(tag)
            subfields = [
                Subfield(code=sub.get("code", ""), value=_nfc(sub.text or ""))
                for sub in child
                if _local(sub.tag) == "subfield"
            ]
            indicators = Indicators(child.get("ind1", " ") or " ", child.get("ind2", " ") or " ")
            fields.append(Field(tag=tag, indicators=indicators, subfields=subfields))
    if leader is None or len(leader) != 24:
        raise Invalid("its leader is missing or not 24 characters long", field="leader")
    record = Record(leader=leader)
    record.add_field(*fields)
    return record


def _nfc(text: str) -> str:
    # some systems (yaz among them) write decomposed Unicode; compare and show composed text
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _check_tag(tag: str) -> None:
    if len(tag) != 3 or not tag.isalnum():
        raise Invalid(f"it has a field with the tag {tag!r}, which is not three characters")


def record_to_marcxml(record: Record) -> str:
    """One ``<record>`` in the MARC21 slim namespace, as text.

    Written as strings rather than through an element tree: this runs once per imported
    record and is several times faster this way.
    """
    parts = [f'<record xmlns="{MARC_NS}"><leader>{_text(str(record.leader))}</leader>']
    for field in record.fields:
        if field.is_control_field():
            parts.append(
                f'<controlfield tag="{_attr(field.tag)}">{_text(field.data or "")}</controlfield>'
            )
            continue
        parts.append(
            f'<datafield tag="{_attr(field.tag)}" ind1="{_attr(field.indicator1 or " ")}" '
            f'ind2="{_attr(field.indicator2 or " ")}">'
        )
        parts.extend(
            f'<subfield code="{_attr(sub.code)}">{_text(sub.value)}</subfield>'
            for sub in field.subfields
        )
        parts.append("</datafield>")
    parts.append("</record>")
    return "".join(parts)


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
# one search decides: most values need no escaping, and this runs for every subfield
_NEEDS_ESCAPE = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f]').search


def _text(text: str) -> str:
    if _NEEDS_ESCAPE(text) is None:
        return text
    # control characters do occur in old MARC data and XML 1.0 cannot carry them
    text = _XML_UNSAFE.sub("", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


_attr = _text


def entry_from_marcxml(marcxml: str | bytes | etree._Element) -> CatalogEntry:
    """The entry for one MARCXML record given as text or as a parsed element."""
    element = marcxml if isinstance(marcxml, etree._Element) else _parse_xml(marcxml)
    if _local(element.tag) != "record":
        found = element.find(f".//{_M}record")
        if found is None:
            raise Invalid("This is not a MARCXML record: no <record> element.", field="marcxml")
        element = found
    return entry_from_record(record_from_element(element))


def _parse_xml(text: str | bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise Invalid(f"The MARCXML is not well-formed XML ({exc.msg}).", field="marcxml") from exc


# --- extraction ------------------------------------------------------------------------------


def entry_from_record(record: Record) -> CatalogEntry:
    """Extract the shown fields; the record's text must already be Unicode."""
    if record.leader[9] != "a":
        # the text was converted from MARC-8 while reading: say so, or the next reader of the
        # stored MARCXML would convert it a second time
        record.leader = Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    _drop_control_characters(record)
    fixed = _control(record, "008")
    return CatalogEntry(
        control_number=_control(record, "001") or None,
        source=_control(record, "003") or None,
        title=_title(record),
        authors=_authors(record),
        isbns=_unique(
            isbn
            for field in record.get_fields("020")
            for value in field.get_subfields("a")
            if (isbn := normalize_isbn(value))
        ),
        publisher=_publisher(record),
        year=_year(record, fixed),
        dewey=_dewey(record),
        call_number=_call_number(record),
        subjects=_unique(_subject(field) for field in record.get_fields("650")),
        languages=_languages(record, fixed),
        links=tuple(
            (url.strip(), " ".join(field.get_subfields("y")).strip())
            for field in record.get_fields("856")
            for url in field.get_subfields("u")[:1]
        ),
        marcxml=record_to_marcxml(record),
    )


def _drop_control_characters(record: Record) -> None:
    # old MARC data holds stray control characters; they would show up in titles and XML 1.0
    # cannot carry them at all
    for field in record.fields:
        if field.is_control_field():
            if field.data and _XML_UNSAFE.search(field.data):
                field.data = _XML_UNSAFE.sub("", field.data)
        elif any(_XML_UNSAFE.search(sub.value) for sub in field.subfields):
            field.subfields = [
                Subfield(sub.code, _XML_UNSAFE.sub("", sub.value)) for sub in field.subfields
            ]


def _control(record: Record, tag: str) -> str:
    field = record.get(tag)
    return (field.data or "").strip() if field is not None and field.is_control_field() else ""


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


_TITLE_CODES = ("a", "b", "n", "p")
_ISBD_END = re.compile(r"[\s/:;,=]+$")


def _trim_isbd(text: str) -> str:
    """Drop the punctuation ISBD puts before the next element (" /", " :", ",", a final ".")."""
    text = _ISBD_END.sub("", text.strip())
    if text.endswith(".") and not text.endswith(".."):
        text = _ISBD_END.sub("", text[:-1])
    return text


def _title(record: Record) -> str:
    field = record.get("245")
    if field is None:
        return ""
    parts = [
        sub.value.strip()
        for sub in field.subfields
        if sub.code in _TITLE_CODES and sub.value.strip()
    ]
    return _trim_isbd(" ".join(parts))


def _name(text: str) -> str:
    text = text.strip().rstrip(",").rstrip()
    # keep the full stop of an initial ("Smith, J."), drop the one that ends the field
    if text.endswith(".") and not re.search(r"(^|[\s.])\w\.$", text):
        text = text[:-1].rstrip()
    return text.rstrip(",").rstrip()


def _authors(record: Record) -> tuple[str, ...]:
    names = []
    for field in record.get_fields("100", "110", "700", "710"):
        parts = field.get_subfields("a")
        if field.tag in ("110", "710"):
            parts += field.get_subfields("b")
        names.append(_name(" ".join(p.strip() for p in parts)))
    return _unique(names)


def _publication(record: Record) -> list[Field]:
    """260s and 264s, the 264 naming the publisher (second indicator 1) first."""
    fields = record.get_fields("264", "260")
    return sorted(fields, key=lambda f: 0 if f.tag == "264" and f.indicator2 == "1" else 1)


def _publisher(record: Record) -> str | None:
    for field in _publication(record):
        for name in field.get_subfields("b"):
            if trimmed := _trim_isbd(name).strip("[] "):
                return trimmed
    return None


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def _year(record: Record, fixed: str) -> int | None:
    # 008/07-10 is coded data; 260/264 $c is transcribed text ("c2019.", "[2019?]")
    date1 = fixed[7:11]
    if len(date1) == 4 and date1.isdigit():
        return int(date1)
    for field in _publication(record):
        for text in field.get_subfields("c"):
            if found := _YEAR.search(text):
                return int(found.group(1))
    return None


def _dewey(record: Record) -> str | None:
    for field in record.get_fields("082"):
        for number in field.get_subfields("a"):
            # slashes and primes only mark where the number may be cut
            if cleaned := number.replace("/", "").replace("'", "").strip():
                return cleaned
    return None


def _call_number(record: Record) -> str | None:
    for field in record.get_fields("090"):
        if parts := [p.strip() for p in field.get_subfields("a", "b") if p.strip()]:
            return " ".join(parts)
    for field in record.get_fields("852"):
        if parts := [p.strip() for p in field.get_subfields("k", "h", "i", "m") if p.strip()]:
            return " ".join(parts)
    return None


def _subject(field: Field) -> str:
    parts = [_trim_isbd(p) for p in field.get_subfields("a", "x", "y", "z")]
    return " -- ".join(p for p in parts if p)


def _languages(record: Record, fixed: str) -> tuple[str, ...]:
    codes = []
    coded = fixed[35:38]
    if len(coded) == 3 and coded.isalpha():
        codes.append(coded.lower())
    for field in record.get_fields("041"):
        for value in field.get_subfields("a"):
            value = value.strip().lower()
            # older records run several codes together ("engvie")
            if len(value) % 3 == 0 and value.isalpha():
                codes.extend(value[i : i + 3] for i in range(0, len(value), 3))
    return _unique(codes)


# --- ISBN ------------------------------------------------------------------------------------


def normalize_isbn(text: str) -> str | None:
    """The ISBN-13 digits for an ISBN written any usual way, or None when it is not valid.

    ISBN-10s become ISBN-13s (978 prefix, check digit recomputed), so one book has one key
    whichever form the cataloguer typed. Qualifiers such as "(pbk.)" are ignored.
    """
    match = re.match(r"\s*([0-9][0-9\-\s]*[0-9Xx]?)", text)
    if match is None:
        return None
    digits = re.sub(r"[\s\-]", "", match.group(1)).upper()
    if len(digits) == 10 and digits[:9].isdigit():
        if _isbn10_check(digits[:9]) != digits[9]:
            return None
        core = "978" + digits[:9]
        return core + _isbn13_check(core)
    if len(digits) == 13 and digits.isdigit() and digits[:3] in ("978", "979"):
        return digits if _isbn13_check(digits[:12]) == digits[12] else None
    return None


def _isbn10_check(first9: str) -> str:
    total = sum((10 - i) * int(d) for i, d in enumerate(first9))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


def _isbn13_check(first12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


# --- search folding --------------------------------------------------------------------------

# letters that are not a base letter plus a combining mark, so decomposition leaves them alone
_FOLD_LETTERS = str.maketrans(
    {
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "ø": "o",
        "Ø": "o",
        "ł": "l",
        "Ł": "l",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
    }
)


def fold(text: str) -> str:
    """Text reduced for case- and diacritic-insensitive matching: "Lịch sử" -> "lich su".

    Readers type Vietnamese without its tone marks as often as with them, so stored text and
    queries are both folded before they are compared. Runs of white space become one space.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD_LETTERS))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


# --- links back to exhibits ------------------------------------------------------------------


def with_exhibit_links(marcxml: str, links: Sequence[tuple[str, str]]) -> str:
    """The record with an 856 (ind1 4, ind2 2, $u url, $y text) for each exhibit link.

    An 856 already holding one of these URLs is replaced rather than repeated, so exporting a
    record again after its exhibit was renamed gives the library one current link, not two.
    """
    for url, _ in links:
        if not url.strip():
            raise Invalid("An exhibit link needs a URL.", field="links")
    root = _parse_xml(marcxml)
    records = [root] if _local(root.tag) == "record" else root.iter(f"{_M}record", "record")
    for record in list(records):
        _replace_links(record, [(url.strip(), text.strip()) for url, text in links])
    return etree.tostring(root, encoding="unicode")


def _replace_links(record: etree._Element, links: list[tuple[str, str]]) -> None:
    prefix = f"{{{etree.QName(record).namespace}}}" if etree.QName(record).namespace else ""
    urls = {url for url, _ in links}
    for datafield in record.findall(f"{prefix}datafield[@tag='856']"):
        held = {
            (sub.text or "").strip()
            for sub in datafield.findall(f"{prefix}subfield")
            if sub.get("code") == "u"
        }
        if held & urls:
            record.remove(datafield)
    # fields stay in tag order: the new 856s go after the last field tagged 856 or lower
    anchor_index = 0
    for index, child in enumerate(record):
        if _local(child.tag) in ("leader", "controlfield") or (
            _local(child.tag) == "datafield" and child.get("tag", "") <= "856"
        ):
            anchor_index = index + 1
    for offset, (url, text) in enumerate(links):
        datafield = etree.Element(f"{prefix}datafield", tag="856", ind1="4", ind2="2")
        etree.SubElement(datafield, f"{prefix}subfield", code="u").text = url
        if text:
            etree.SubElement(datafield, f"{prefix}subfield", code="y").text = text
        record.insert(anchor_index + offset, datafield)
