"""Async driver for OctoPrint's REST API and its `/sockjs/websocket` push channel.

There is no async OctoPrint client worth depending on (the bundled one is synchronous and drags
all of OctoPrint in), so this is a small client of the documented API. It is written around the
API's traps:

- a rejected key shows as 403 on GET but as 400 "CSRF validation failed" on POST;
- an upload with `print=true` while printing answers 201 with `effectivePrint: false`;
- overwriting the file being printed, `start` while printing and `cancel` while idle are 409;
- `GET /api/printer` is 409 while OctoPrint has no serial connection to its printer;
- `current` push messages can skip short states (a 1 s print may never show "Printing"),
  events do not, so both feed the snapshot.

The API key only ever travels in the `X-Api-Key` header: no log line, exception message or repr
contains it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from core.errors import Conflict, Forbidden, Invalid, Unavailable
from makerspace.drivers.base import (
    FinishedJob,
    JobOutcome,
    PrinterSnapshot,
    PrinterState,
    StartResult,
    Temperature,
)

log = logging.getLogger(__name__)

_PUSH_EVENT_STATES = {
    "OFFLINE": PrinterState.OFFLINE,
    "CLOSED": PrinterState.OFFLINE,
    "OPEN_SERIAL": PrinterState.CONNECTING,
    "DETECT_SERIAL": PrinterState.CONNECTING,
    "CONNECTING": PrinterState.CONNECTING,
    "OPERATIONAL": PrinterState.OPERATIONAL,
    "STARTING": PrinterState.STARTING,
    "PRINTING": PrinterState.PRINTING,
    "PAUSING": PrinterState.PAUSING,
    "PAUSED": PrinterState.PAUSED,
    "RESUMING": PrinterState.RESUMING,
    "CANCELLING": PrinterState.CANCELLING,
    "FINISHING": PrinterState.FINISHING,
    "ERROR": PrinterState.ERROR,
    "CLOSED_WITH_ERROR": PrinterState.ERROR,
}

_TEXT_STATES = {
    "operational": PrinterState.OPERATIONAL,
    "starting": PrinterState.STARTING,
    "printing": PrinterState.PRINTING,
    "pausing": PrinterState.PAUSING,
    "paused": PrinterState.PAUSED,
    "resuming": PrinterState.RESUMING,
    "cancelling": PrinterState.CANCELLING,
    "finishing": PrinterState.FINISHING,
    "offline": PrinterState.OFFLINE,
    "closed": PrinterState.OFFLINE,
    "connecting": PrinterState.CONNECTING,
    "opening serial connection": PrinterState.CONNECTING,
    "detecting serial connection": PrinterState.CONNECTING,
    "detecting baudrate": PrinterState.CONNECTING,
}

NOT_CONNECTED = "OctoPrint is not connected to its printer"


class KeyRejected(Forbidden):
    """OctoPrint refuses the API key: nothing will work until a librarian fixes it."""


class _PrinterDropped(Exception):
    """OctoPrint still answers but lost its printer (serial closed or firmware error)."""

    def __init__(self, snapshot: PrinterSnapshot) -> None:
        super().__init__(snapshot.error)
        self.snapshot = snapshot


_DROPPED = {PrinterState.OFFLINE, PrinterState.ERROR}


def _state_from_text(text: str) -> PrinterState:
    lowered = text.strip().lower()
    if lowered.startswith("error") or "after error" in lowered:
        return PrinterState.ERROR
    if lowered.startswith("printing"):  # "Printing from SD"
        return PrinterState.PRINTING
    return _TEXT_STATES.get(lowered, PrinterState.OFFLINE)


def _state_from_flags(text: str, flags: dict[str, Any]) -> PrinterState:
    """OctoPrint's flags are authoritative; the text only separates Starting from Printing."""
    if flags.get("error"):
        return PrinterState.ERROR
    if flags.get("closedOrError"):
        return _state_from_text(text) if text else PrinterState.OFFLINE
    for flag, state in (
        ("cancelling", PrinterState.CANCELLING),
        ("pausing", PrinterState.PAUSING),
        ("paused", PrinterState.PAUSED),
        ("resuming", PrinterState.RESUMING),
        ("finishing", PrinterState.FINISHING),
    ):
        if flags.get(flag):
            return state
    if flags.get("printing"):
        return PrinterState.STARTING if text == "Starting" else PrinterState.PRINTING
    if flags.get("operational"):
        return PrinterState.OPERATIONAL
    return _state_from_text(text)


def _temps(entry: dict[str, Any] | None) -> dict[str, Temperature]:
    if not entry:
        return {}
    temps = {}
    for heater in ("tool0", "bed"):
        reading = entry.get(heater)
        if isinstance(reading, dict):
            temps[heater] = Temperature(
                actual=_round(reading.get("actual"), 1), target=_round(reading.get("target"), 1)
            )
    return temps


def _round(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _progress_fields(progress: dict[str, Any] | None) -> tuple[float | None, int | None]:
    progress = progress or {}
    completion = _round(progress.get("completion"), 2)
    left = progress.get("printTimeLeft")
    return completion, None if left is None else int(left)


def _finished_from_rest(
    state: PrinterState, job_name: str | None, completion: float | None
) -> FinishedJob | None:
    # REST keeps no outcome; a selected file at 100 % on an idle printer can only have finished.
    if state is PrinterState.OPERATIONAL and job_name and (completion or 0.0) >= 100.0:
        return FinishedJob(job_name, JobOutcome.DONE)
    return None


class OctoPrintDriver:
    """One OctoPrint server (and the one printer behind it).

    `port` is the serial port to connect when OctoPrint has no connection ("VIRTUAL" for the
    virtual printer; None lets OctoPrint auto-detect); with `auto_connect` the push stream
    reconnects it whenever it drops, as it does the push channel itself. `throttle` multiplies
    OctoPrint's 0.5 s push interval. Back-off doubles from `backoff_min_s` to `backoff_max_s`.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        port: str | None = "VIRTUAL",
        auto_connect: bool = True,
        throttle: int = 1,
        request_timeout_s: float = 10.0,
        upload_timeout_s: float = 120.0,
        backoff_min_s: float = 0.25,
        backoff_max_s: float = 10.0,
        stale_push_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.__key = api_key
        self.port = port
        self.auto_connect = auto_connect
        self.throttle = throttle
        self.request_timeout_s = request_timeout_s
        self.upload_timeout_s = upload_timeout_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.stale_push_s = stale_push_s
        self._http: aiohttp.ClientSession | None = None
        self._dispatch_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"OctoPrintDriver({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------

    @property
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                headers={"X-Api-Key": self.__key},
                timeout=aiohttp.ClientTimeout(total=self.request_timeout_s),
            )
        return self._http

    async def _request(
        self, method: str, path: str, *, json: Any = None, data: Any = None, timeout_s: float = 0
    ) -> tuple[int, Any]:
        """One API call → (status, parsed body); connection trouble becomes `Unavailable`."""
        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        if timeout_s:
            kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout_s)
        try:
            async with self._session.request(method, self.url + path, **kwargs) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            reason = _describe(exc)
            raise Unavailable(f"OctoPrint at {self.url} does not answer ({reason})") from None
        body: Any = None
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = raw.decode(errors="replace")
        if status == 403 or (status == 400 and "CSRF" in _error_text(body)):
            raise KeyRejected(
                f"OctoPrint at {self.url} rejected the API key; enter the key again in the "
                "printer's settings"
            )
        return status, body

    # -- interface ------------------------------------------------------------------------

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Check the key and open OctoPrint's serial connection if it has none.

        Returns once the printer answers (connecting takes OctoPrint well under a second), so
        that the first push message is not a stale "Closed".
        """
        state = await self._connection_state()
        if state in (PrinterState.OFFLINE, PrinterState.ERROR):
            command: dict[str, Any] = {"command": "connect", "autoconnect": False}
            if self.port:
                command["port"] = self.port
            status, body = await self._request("POST", "/api/connection", json=command)
            if status not in (200, 204):
                raise Unavailable(
                    f"OctoPrint at {self.url} could not connect its printer: {_error_text(body)}"
                )
        deadline = time.monotonic() + timeout_s
        while state in (PrinterState.OFFLINE, PrinterState.CONNECTING, PrinterState.ERROR):
            if time.monotonic() > deadline:
                raise Unavailable(f"The printer behind {self.url} does not connect ({state})")
            await asyncio.sleep(0.05)
            state = await self._connection_state()

    async def _connection_state(self) -> PrinterState:
        status, body = await self._request("GET", "/api/connection")
        if status != 200 or not isinstance(body, dict):
            raise Unavailable(f"OctoPrint at {self.url} answered {status} to a connection query")
        return _state_from_text(str((body.get("current") or {}).get("state") or "Closed"))

    async def state(self) -> PrinterSnapshot:
        now = time.monotonic()
        try:
            (p_status, printer), (j_status, job) = await asyncio.gather(
                self._request("GET", "/api/printer"), self._request("GET", "/api/job")
            )
        except KeyRejected as exc:
            return PrinterSnapshot(PrinterState.ERROR, error=exc.message, received_at=now)
        except Unavailable as exc:
            return PrinterSnapshot(PrinterState.OFFLINE, error=exc.message, received_at=now)
        if j_status != 200:
            return PrinterSnapshot(
                PrinterState.ERROR,
                error=f"OctoPrint answered {j_status}: {_error_text(job)}",
                received_at=now,
            )
        job_name = ((job.get("job") or {}).get("file") or {}).get("name")
        completion, left = _progress_fields(job.get("progress"))
        temps: dict[str, Temperature] = {}
        error = None
        if p_status == 200:
            info = printer.get("state") or {}
            state = _state_from_flags(str(info.get("text", "")), info.get("flags") or {})
            error = info.get("error") or None
            temps = _temps(printer.get("temperature"))
        else:
            # 409: no serial connection; /api/job still names the state ("Offline", "Error: …").
            text = str(job.get("state") or "Offline")
            state = _state_from_text(text)
            error = text if state is PrinterState.ERROR else NOT_CONNECTED
        if state is not PrinterState.ERROR and state is not PrinterState.OFFLINE:
            error = None
        return PrinterSnapshot(
            state=state,
            temps=temps,
            job_name=job_name,
            progress=completion,
            print_time_left_s=left,
            error=error,
            last_finished=_finished_from_rest(state, job_name, completion),
            received_at=now,
        )

    async def current_job_name(self) -> str | None:
        snapshot = await self.state()
        _raise_for_unusable(snapshot)
        return snapshot.job_name

    async def upload_and_start(self, name: str, gcode: bytes | Path) -> StartResult:
        """Upload and start; safe to repeat after a crash.

        If the printer already prints (or paused) `name`, nothing is sent. If it finished `name`
        and still shows it, nothing is sent either: the earlier dispatch got there and the
        worker only missed the news.
        """
        # OctoPrint 1.11 answers effectivePrint: true to uploads that race a print still
        # "Starting", and may then "finish" a file it never opened (a PrintDone for nothing).
        # So: one dispatch at a time per printer (one dispatcher per deployment does the same
        # across processes), and each waits until the printer visibly took its file.
        async with self._dispatch_lock:
            before = await self.state()
            _raise_for_unusable(before)
            if before.job_name == name and before.state.busy:
                return StartResult(name, already_running=True)
            finished = before.last_finished
            if finished and finished.name == name and finished.outcome is JobOutcome.DONE:
                return StartResult(name, already_done=True)
            if before.state.busy:
                raise Conflict(f"The printer is busy with {before.job_name or 'another job'}")
            if not before.ready:
                raise Unavailable(f"The printer is not ready ({before.state.value})")

            form = aiohttp.FormData()
            # A file is read off the loop: sliced G-code can be tens of megabytes.
            payload = (
                await asyncio.to_thread(gcode.read_bytes) if isinstance(gcode, Path) else gcode
            )
            form.add_field("file", payload, filename=name, content_type="application/octet-stream")
            form.add_field("select", "true")
            form.add_field("print", "true")
            status, body = await self._request(
                "POST", "/api/files/local", data=form, timeout_s=self.upload_timeout_s
            )
            if status == 415:
                raise Invalid(f"OctoPrint does not accept {name} as G-code")
            if status == 201 and isinstance(body, dict) and body.get("effectivePrint"):
                await self._confirm_started(name)
                return StartResult(name)
            if status in (201, 409):
                # 201 with effectivePrint false: stored but not started, because something
                # else is printing. 409: that file is the one being printed. Either way, look.
                after = await self.state()
                if after.job_name == name and after.state.busy:
                    return StartResult(name, already_running=True)
                raise Conflict(
                    f"The printer did not start {name}: it is {after.state.value}"
                    + (f" with {after.job_name}" if after.job_name else "")
                )
            raise Unavailable(f"OctoPrint refused the upload ({status}: {_error_text(body)})")

    async def _confirm_started(self, name: str, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            snapshot = await self.state()
            if snapshot.job_name == name and (
                snapshot.state.busy or snapshot.last_finished is not None
            ):
                return
            if snapshot.state.busy and snapshot.job_name != name:
                raise Conflict(f"The printer started {snapshot.job_name} instead of {name}")
            if time.monotonic() > deadline:
                raise Unavailable(f"The printer accepted {name} but did not start it")
            await asyncio.sleep(0.05)

    async def pause(self) -> None:
        await self._job_command({"command": "pause", "action": "pause"}, "pause")

    async def resume(self) -> None:
        await self._job_command({"command": "pause", "action": "resume"}, "resume")

    async def cancel(self) -> None:
        await self._job_command({"command": "cancel"}, "cancel")

    async def _job_command(self, command: dict[str, str], verb: str) -> None:
        status, body = await self._request("POST", "/api/job", json=command)
        if status == 409:
            raise Conflict(f"The printer cannot {verb} now: {_error_text(body)}")
        if status not in (200, 204):
            raise Unavailable(f"OctoPrint refused to {verb} ({status}: {_error_text(body)})")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    # -- push -----------------------------------------------------------------------------

    async def updates(self) -> AsyncIterator[PrinterSnapshot]:
        backoff = self.backoff_min_s
        while True:
            reason: str
            error_state = PrinterState.OFFLINE
            try:
                async for snapshot in self._push_session():
                    backoff = self.backoff_min_s
                    yield snapshot
                reason = f"OctoPrint at {self.url} closed the push connection"
            except _PrinterDropped as exc:
                reason, error_state = exc.snapshot.error or NOT_CONNECTED, exc.snapshot.state
            except KeyRejected as exc:
                reason, error_state = exc.message, PrinterState.ERROR
            except Unavailable as exc:
                reason = exc.message
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                reason = f"OctoPrint at {self.url} does not answer ({_describe(exc)})"
            log.info("printer at %s: %s; retrying in %.2f s", self.url, reason, backoff)
            yield PrinterSnapshot(error_state, error=reason, received_at=time.monotonic())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)

    async def _push_session(self) -> AsyncIterator[PrinterSnapshot]:
        """One websocket lifetime: authenticate, subscribe, re-sync over REST, then follow."""
        await self.connect()
        status, login = await self._request("POST", "/api/login", json={"passive": True})
        if status != 200 or not isinstance(login, dict) or "session" not in login:
            raise Unavailable(f"OctoPrint at {self.url} refused a push login ({status})")
        ws_url = self.url.replace("http", "ws", 1) + "/sockjs/websocket"
        async with self._session.ws_connect(ws_url, heartbeat=self.stale_push_s) as ws:
            await ws.send_json({"auth": f"{login['name']}:{login['session']}"})
            await ws.send_json({"throttle": self.throttle})
            # Subscribed first, re-synced second: anything that happens in between still
            # arrives as a push message and is applied on top of the REST reading.
            snapshot = await self.state()
            if snapshot.state is PrinterState.OFFLINE and snapshot.error != NOT_CONNECTED:
                raise Unavailable(snapshot.error or "OctoPrint does not answer")
            yield snapshot
            while True:
                msg = await ws.receive(timeout=self.stale_push_s)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return
                if msg.type is aiohttp.WSMsgType.ERROR:
                    raise Unavailable(f"push connection to {self.url} failed")
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                received = time.monotonic()
                for kind, payload in orjson.loads(msg.data).items():
                    if kind == "reauthRequired":
                        return
                    updated = _apply_push(snapshot, kind, payload, received)
                    if updated is None:
                        continue
                    snapshot = updated
                    if self.auto_connect and snapshot.state in _DROPPED:
                        # Reconnecting the printer goes the same way as reconnecting the push
                        # channel: back off, connect, re-sync.
                        raise _PrinterDropped(snapshot)
                    yield snapshot


def _apply_push(
    snapshot: PrinterSnapshot, kind: str, payload: Any, received: float
) -> PrinterSnapshot | None:
    """Fold one push message into the last snapshot; None when it says nothing we track."""
    if kind in ("current", "history") and isinstance(payload, dict):
        state_info = payload.get("state") or {}
        state = _state_from_flags(str(state_info.get("text", "")), state_info.get("flags") or {})
        completion, left = _progress_fields(payload.get("progress"))
        temps_list = payload.get("temps") or []
        job_name = ((payload.get("job") or {}).get("file") or {}).get("name")
        error = None
        if state is PrinterState.ERROR:
            error = state_info.get("error") or state_info.get("text")
        elif state is PrinterState.OFFLINE:
            error = NOT_CONNECTED
        last_finished = snapshot.last_finished
        if state.busy and job_name and last_finished and last_finished.name == job_name:
            last_finished = None
        return replace(
            snapshot,
            state=state,
            job_name=job_name,
            progress=completion,
            print_time_left_s=left,
            temps=_temps(temps_list[-1]) if temps_list else snapshot.temps,
            error=error,
            last_finished=last_finished,
            received_at=received,
            source_time=payload.get("serverTime"),
        )
    if kind != "event" or not isinstance(payload, dict):
        return None
    event, data = payload.get("type"), payload.get("payload") or {}
    name = data.get("name") if isinstance(data, dict) else None
    if event == "PrinterStateChanged":
        state = _PUSH_EVENT_STATES.get(str(data.get("state_id")))
        if state is None:
            return None
        error = None
        if state is PrinterState.OFFLINE:
            error = NOT_CONNECTED
        elif state is PrinterState.ERROR:
            error = str(data.get("state_string") or "printer error")
        return replace(snapshot, state=state, error=error, received_at=received, source_time=None)
    if event == "PrintStarted":
        return replace(
            snapshot,
            state=PrinterState.PRINTING if not snapshot.state.busy else snapshot.state,
            job_name=name,
            progress=0.0,
            last_finished=None,
            received_at=received,
            source_time=None,
        )
    outcome = None
    reason = None
    if event == "PrintDone":
        outcome = JobOutcome.DONE
    elif event == "PrintCancelled":
        outcome = JobOutcome.CANCELLED
    elif event == "PrintFailed":
        # OctoPrint sends PrintFailed(reason="cancelled") right after PrintCancelled.
        if data.get("reason") == "cancelled":
            outcome = JobOutcome.CANCELLED
        else:
            outcome, reason = JobOutcome.FAILED, str(data.get("reason") or "print failed")
    if outcome is None or not name:
        if event == "Error" and isinstance(data, dict):
            return replace(
                snapshot,
                state=PrinterState.ERROR,
                error=str(data.get("error") or "printer error"),
                received_at=received,
                source_time=None,
            )
        return None
    return replace(
        snapshot,
        job_name=name,
        progress=100.0 if outcome is JobOutcome.DONE else snapshot.progress,
        last_finished=FinishedJob(name, outcome, reason),
        received_at=received,
        source_time=None,
    )


def _raise_for_unusable(snapshot: PrinterSnapshot) -> None:
    if snapshot.state is PrinterState.ERROR and snapshot.error and "API key" in snapshot.error:
        raise KeyRejected(snapshot.error)
    if snapshot.state is PrinterState.OFFLINE:
        raise Unavailable(snapshot.error or "The printer is offline")


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("error") or body)
    return str(body or "")


def _describe(exc: BaseException) -> str:
    # Connection errors carry host and port only; headers (and so the key) never appear.
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection refused or unreachable: {exc.os_error.strerror or exc.os_error}"
    return exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
