"""One coordinator per printer: the only thing in the farm that talks to a printer driver.

Modelled on Home Assistant's update coordinator. It follows the driver's push stream (which
already reconnects with back-off and re-syncs over REST after each reconnect), falls back to a
REST poll when the stream goes quiet, and turns every failure into a snapshot that says
offline/error with a reason. Listeners (the dispatcher, the Socket.IO edge) are told only when
the snapshot changed; a listener that raises is logged and never stops the others or the
coordinator. Commands go through the coordinator too, so nobody else holds a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from makerspace.drivers.base import PrinterDriver, PrinterSnapshot, PrinterState, StartResult

log = logging.getLogger(__name__)

Listener = Callable[[PrinterSnapshot], Awaitable[None]]


class PrinterCoordinator:
    """Owns `driver`; `printer_id` is only used to label log lines and for the caller's benefit.

    `stale_after_s`: with no news from the push stream for this long, poll over REST (a push
    channel can stay open while delivering nothing). `restart_backoff_*`: delays before the
    push stream is restarted if the driver itself breaks (a bug, not a printer problem).
    """

    def __init__(
        self,
        printer_id: int | str,
        driver: PrinterDriver,
        *,
        stale_after_s: float = 5.0,
        restart_backoff_min_s: float = 0.5,
        restart_backoff_max_s: float = 30.0,
    ) -> None:
        self.printer_id = printer_id
        self.driver = driver
        self.stale_after_s = stale_after_s
        self.restart_backoff_min_s = restart_backoff_min_s
        self.restart_backoff_max_s = restart_backoff_max_s
        self._snapshot = PrinterSnapshot(PrinterState.CONNECTING, received_at=time.monotonic())
        self._listeners: list[Listener] = []
        self._changed = asyncio.Condition()
        # Listeners are called from their own task, in order, so that a listener may call
        # back into the coordinator (a dispatcher starting the next job) without deadlock.
        self._outbox: asyncio.Queue[PrinterSnapshot] = asyncio.Queue()
        self._last_news = time.monotonic()
        self._readings = 0
        self._followers: list[asyncio.Task[None]] = []
        self._notifier: asyncio.Task[None] | None = None

    @property
    def snapshot(self) -> PrinterSnapshot:
        return self._snapshot

    @property
    def readings(self) -> int:
        """How many readings arrived, changed or not (for health checks and metrics)."""
        return self._readings

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(snapshot)` on every change; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    async def start(self) -> None:
        if self._notifier is not None:
            return
        label = f"printer-{self.printer_id}"
        self._followers = [
            asyncio.create_task(self._follow_push(), name=f"{label}-push"),
            asyncio.create_task(self._watch_staleness(), name=f"{label}-poll"),
        ]
        self._notifier = asyncio.create_task(self._notify(), name=f"{label}-notify")

    async def stop(self) -> None:
        """Stop following the printer; changes already seen still reach the listeners."""
        followers, self._followers = self._followers, []
        notifier, self._notifier = self._notifier, None
        for task in followers:
            task.cancel()
        for task in followers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if notifier is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), 5.0)
            notifier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await notifier
        await self.driver.close()

    async def __aenter__(self) -> PrinterCoordinator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for(
        self, predicate: Callable[[PrinterSnapshot], bool], timeout_s: float
    ) -> PrinterSnapshot:
        """Wait until the current snapshot satisfies `predicate`; TimeoutError otherwise."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self._snapshot))
            return self._snapshot

    async def refresh(self) -> PrinterSnapshot:
        """Re-read the printer over REST now and publish what it says."""
        await self._publish(self._keep_outcome(await self._safe_state()))
        return self._snapshot

    # Commands: the driver raises core.errors with printer-specific wording; a refresh after
    # each makes listeners see the consequence without waiting for the next push.

    async def upload_and_start(self, name: str, gcode: bytes | Path) -> StartResult:
        result = await self.driver.upload_and_start(name, gcode)
        await self.refresh()
        return result

    async def pause(self) -> None:
        await self.driver.pause()
        await self.refresh()

    async def resume(self) -> None:
        await self.driver.resume()
        await self.refresh()

    async def cancel(self) -> None:
        await self.driver.cancel()
        await self.refresh()

    # -- internals ------------------------------------------------------------------------

    def _keep_outcome(self, reading: PrinterSnapshot) -> PrinterSnapshot:
        """A REST reading cannot tell a cancelled print from an abandoned one; push could.

        Keep what push said about the last print while the printer still shows that file,
        or listeners would see the outcome vanish and come back with the next push message.
        """
        known = self._snapshot.last_finished
        if (
            reading.last_finished is None
            and known is not None
            and reading.job_name == known.name
            and not reading.state.busy
        ):
            return replace(reading, last_finished=known)
        return reading

    async def _publish(self, snapshot: PrinterSnapshot) -> None:
        self._last_news = time.monotonic()
        self._readings += 1
        if snapshot == self._snapshot:
            return
        self._snapshot = snapshot
        self._outbox.put_nowait(snapshot)
        async with self._changed:
            self._changed.notify_all()

    async def _notify(self) -> None:
        while True:
            snapshot = await self._outbox.get()
            for listener in list(self._listeners):
                try:
                    await listener(snapshot)
                except Exception:
                    log.exception("printer %s: a listener failed", self.printer_id)
            self._outbox.task_done()

    async def _safe_state(self) -> PrinterSnapshot:
        try:
            return await self.driver.state()
        except Exception as exc:  # the driver promises not to raise; a bug must not kill us
            log.exception("printer %s: reading its state failed", self.printer_id)
            return PrinterSnapshot(PrinterState.ERROR, error=f"printer driver failed: {exc}")

    async def _follow_push(self) -> None:
        backoff = self.restart_backoff_min_s
        while True:
            try:
                async for snapshot in self.driver.updates():
                    backoff = self.restart_backoff_min_s
                    await self._publish(snapshot)
                reason = "printer driver stopped its update stream"
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("printer %s: update stream failed", self.printer_id)
                reason = f"printer driver failed: {exc}"
            await self._publish(
                PrinterSnapshot(PrinterState.ERROR, error=reason, received_at=time.monotonic())
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.restart_backoff_max_s)

    async def _watch_staleness(self) -> None:
        while True:
            quiet_for = time.monotonic() - self._last_news
            if quiet_for < self.stale_after_s:
                await asyncio.sleep(self.stale_after_s - quiet_for)
                continue
            # Only while the stream claims the printer is there: when it is offline the
            # stream is already retrying, and a poll would just repeat its answer.
            if self._snapshot.online:
                await self._publish(self._keep_outcome(await self._safe_state()))
            else:
                self._last_news = time.monotonic()
