"""Live look-ups in a library's catalog over SRU 1.2 (Search/Retrieve via URL).

Koha, Zebra and most library systems answer SRU ``searchRetrieve`` requests with CQL queries and
MARCXML records. There is no maintained async SRU client, so this is a small one on aiohttp and
lxml. It turns everything a catalog server can do wrong into the product's own errors:

- SRU diagnostics (bad CQL, an index the server lacks ...) become `Invalid` naming the query;
- a wrong database path (servers answer an HTML 404, not a diagnostic) becomes `NotFound`;
- silence, refused connections and server errors become `Unavailable`, after a few retries with
  growing pauses, bounded so a librarian waits seconds, not minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import quote

import aiohttp
from lxml import etree

from core.errors import DomainError, Invalid, NotFound, Unavailable
from experience.marc import BadRecord, CatalogEntry, entry_from_marcxml

SRU_NS = "http://www.loc.gov/zing/srw/"
DIAG_NS = "http://www.loc.gov/zing/srw/diagnostic/"
_S = f"{{{SRU_NS}}}"
_D = f"{{{DIAG_NS}}}"

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class SruSource:
    """A configured catalog: `name` is what librarians see, `database` the path on the server."""

    name: str
    base_url: str
    database: str

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise Invalid(
                f"The address of the catalog '{self.name}' must start with http:// or https://.",
                field="base_url",
            )
        if not self.database.strip("/ "):
            raise Invalid(
                f"The catalog '{self.name}' needs a database name (Koha: biblios, Zebra: Default).",
                field="database",
            )

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{quote(self.database.strip('/'))}"


@dataclass(frozen=True, slots=True)
class SruPage:
    """One page of results. `next_start` is where the following page begins, None at the end.

    `problems` holds the records of this page that could not be read (the server sent a
    per-record diagnostic, or MARCXML we cannot make sense of); the rest of the page is usable.
    """

    total: int
    records: list[CatalogEntry]
    next_start: int | None
    problems: list[BadRecord] = field(default_factory=list)


class SruClient:
    """Talks SRU to any number of catalogs over one aiohttp session.

    Pass a session to share its connection pool (kept-alive connections make a Zebra query
    cost well under a millisecond); otherwise the client opens its own on first use. Either
    way whoever created the client closes it (`await client.close()` or ``async with``); a
    session passed in is left open for its owner.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 2.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._session = session
        self._owns_session = session is None
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff

    async def __aenter__(self) -> SruClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        # created lazily: an aiohttp session must be made while the event loop runs
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def search(
        self,
        source: SruSource,
        cql: str,
        *,
        start: int = 1,
        maximum: int = 20,
        # per attempt, not overall: an outer asyncio.timeout would cut the retries short
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> SruPage:
        """One page of the records matching `cql`, from position `start` (counted from 1).

        `timeout` (seconds) bounds each attempt; the client's default applies when it is None.
        """
        if not cql.strip():
            raise Invalid("Type something to search the catalog for.", field="query")
        if start < 1:
            raise Invalid("Results are counted from 1.", field="start")
        if not 0 <= maximum <= MAX_PAGE:
            raise Invalid(f"A page holds between 0 and {MAX_PAGE} records.", field="maximum")
        params = {
            "version": "1.2",
            "operation": "searchRetrieve",
            "query": cql,
            "startRecord": str(start),
            # without maximumRecords Zebra counts the hits but sends no records
            "maximumRecords": str(maximum),
            "recordSchema": "marcxml",
            "recordPacking": "xml",
        }
        status, body = await self._get(source, params, self.timeout if timeout is None else timeout)
        return _read_response(source, cql, start, status, body)

    async def records(
        self, source: SruSource, cql: str, *, page_size: int = 50, limit: int | None = None
    ) -> AsyncIterator[CatalogEntry]:
        """Every matching record (up to `limit`), fetched page by page."""
        start: int | None = 1
        seen = 0
        while start is not None and (limit is None or seen < limit):
            size = page_size if limit is None else min(page_size, limit - seen)
            page = await self.search(source, cql, start=start, maximum=size)
            for entry in page.records:
                yield entry
            seen += len(page.records) + len(page.problems)
            start = page.next_start

    async def _get(
        self, source: SruSource, params: dict[str, str], per_attempt: float
    ) -> tuple[int, bytes]:
        session = self._http()
        problem = "did not answer"
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))
            try:
                async with session.get(
                    source.url, params=params, timeout=aiohttp.ClientTimeout(total=per_attempt)
                ) as response:
                    body = await response.read()
            except TimeoutError:
                problem = f"did not answer within {per_attempt:g} s"
                continue
            except aiohttp.ClientConnectorError:
                problem = "refused the connection or could not be reached"
                continue
            except aiohttp.ClientError as exc:
                problem = f"broke off the connection ({type(exc).__name__})"
                continue
            if response.status >= 500:
                # a server error may be passing (restart, overload): worth another try
                problem = f"answered with a server error (HTTP {response.status})"
                continue
            return response.status, body
        tries = "once" if self.attempts == 1 else f"{self.attempts} times"
        raise Unavailable(
            f"The catalog '{source.name}' ({source.url}) {problem}; tried {tries}. "
            "Try again later, or check the catalog's address in the settings."
        )


async def search(
    client: SruClient | aiohttp.ClientSession,
    source: SruSource,
    cql: str,
    *,
    start: int = 1,
    maximum: int = 20,
    timeout: float | None = None,  # noqa: ASYNC109 - per attempt, see SruClient.search
) -> SruPage:
    """One page of results; a bare aiohttp session is wrapped in a client for the call."""
    sru = client if isinstance(client, SruClient) else SruClient(client)
    return await sru.search(source, cql, start=start, maximum=maximum, timeout=timeout)


# --- reading the answer ----------------------------------------------------------------------


def _read_response(source: SruSource, cql: str, start: int, status: int, body: bytes) -> SruPage:
    root = _parse(body)
    if root is None or etree.QName(root).localname != "searchRetrieveResponse":
        if status == 404:
            raise NotFound(
                f"The catalog server {source.base_url} has no database '{source.database}' "
                f"(HTTP 404). Check the database name configured for '{source.name}'.",
                field="database",
            )
        raise Unavailable(
            f"The catalog '{source.name}' ({source.url}) did not answer as an SRU server "
            f"(HTTP {status}). Check the catalog's address in the settings."
        )
    diagnostic = root.find(f"{_S}diagnostics/{_D}diagnostic")
    if diagnostic is not None:
        raise _diagnostic_error(source, cql, start, diagnostic)
    total_text = root.findtext(f"{_S}numberOfRecords")
    if total_text is None or not total_text.strip().isdigit():
        raise Unavailable(
            f"The catalog '{source.name}' answered without saying how many records match."
        )
    total = int(total_text)
    entries: list[CatalogEntry] = []
    problems: list[BadRecord] = []
    returned = 0
    for record in root.iterfind(f"{_S}records/{_S}record"):
        returned += 1
        position = _int(record.findtext(f"{_S}recordPosition"), start + returned - 1)
        try:
            entries.append(_entry(record))
        except Invalid as exc:
            problems.append(BadRecord(position, f"Record {position}: {exc.message}"))
    # servers such as Zebra never send nextRecordPosition; the count tells where the next page is
    following = start + returned
    next_start = _int(root.findtext(f"{_S}nextRecordPosition"), 0) or (
        following if returned and following <= total else None
    )
    return SruPage(total=total, records=entries, next_start=next_start, problems=problems)


def _parse(body: bytes) -> etree._Element | None:
    # Zebra sends text/xml without a charset: give lxml the bytes so the XML declaration decides
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return None


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.strip().isdigit() else default


def _entry(record: etree._Element) -> CatalogEntry:
    schema = record.findtext(f"{_S}recordSchema") or ""
    data = record.find(f"{_S}recordData")
    if data is None:
        raise Invalid("the catalog sent it without data")
    if "diagnostic" in schema:
        message = data.findtext(f".//{_D}message") or "no reason given"
        details = data.findtext(f".//{_D}details")
        raise Invalid(
            f"the catalog could not send it ({message}{f': {details}' if details else ''})"
        )
    if (record.findtext(f"{_S}recordPacking") or "xml") == "string":
        return entry_from_marcxml(data.text or "")
    content = next(iter(data), None)
    if content is None:
        raise Invalid("the catalog sent it empty")
    return entry_from_marcxml(content)


def _diagnostic_error(
    source: SruSource, cql: str, start: int, diagnostic: etree._Element
) -> DomainError:
    uri = (diagnostic.findtext(f"{_D}uri") or "").strip()
    message = (diagnostic.findtext(f"{_D}message") or "").strip()
    details = (diagnostic.findtext(f"{_D}details") or "").strip()
    said = message + (f": {details}" if details else "") or uri
    prefix = "info:srw/diagnostic/1/"
    number = (
        int(uri[len(prefix) :]) if uri.startswith(prefix) and uri[len(prefix) :].isdigit() else 0
    )
    name = source.name
    if number == 10:
        return Invalid(
            f"The catalog '{name}' could not understand the search \"{cql}\": it is not valid "
            'CQL. Put phrases in double quotes, e.g. title="lịch sử".',
            field="query",
        )
    if number == 16:
        return Invalid(
            f"The catalog '{name}' cannot search by an index used in \"{cql}\" ({said}).",
            field="query",
        )
    if 11 <= number <= 48:
        return Invalid(
            f"The catalog '{name}' does not support part of the search \"{cql}\" ({said}).",
            field="query",
        )
    if number == 61:
        return Invalid(f"There are fewer results than position {start} in '{name}'.", field="start")
    if 50 <= number <= 65:
        return Invalid(f"The catalog '{name}' could not return these results ({said}).")
    if 66 <= number <= 72:
        return Unavailable(f"The catalog '{name}' does not offer its records as MARCXML ({said}).")
    if number == 235:
        return NotFound(
            f"The catalog server {source.base_url} has no database '{source.database}' ({said}).",
            field="database",
        )
    return Unavailable(f"The catalog '{name}' refused the search ({said or 'no reason given'}).")
