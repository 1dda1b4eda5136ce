"""Socket.IO across processes: python-socketio's Redis manager, made to notice when it goes deaf,
and carrying the application's own cross-process events.

Two things the stock `AsyncRedisManager` does not do:

- A listener whose Redis connection was dropped can end up never re-subscribing, and with
  logging off nothing says so (python-socketio issue #1581): the process keeps serving its
  tablets but no longer hears emits from other processes. Every process here publishes a
  heartbeat on the channel; a process that stops hearing even its own heartbeats while Redis
  accepts publishes restarts its listener.
- Manifest caches and presence counts live in each process; changes are shared as
  `smartlib` messages on the same channel, delivered to a local callback.

When Redis is down, emits still reach the tablets connected to this process (the manager
delivers locally before publishing); other processes catch up when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import socketio

log = logging.getLogger(__name__)

# Our messages, as python-socketio's json and as orjson write them.
_PREFIXES = (b'{"method": "smartlib"', b'{"method":"smartlib"')
Receiver = Callable[[str, dict[str, Any], str], Awaitable[None]]


class SharedRedisManager(socketio.AsyncRedisManager):
    name = "smartlib-redis"

    def __init__(
        self, url: str, *, heartbeat_s: float = 1.0, deaf_after_s: float = 4.0, **kwargs: Any
    ) -> None:
        super().__init__(url, **kwargs)
        self.heartbeat_s = heartbeat_s
        self.deaf_after_s = deaf_after_s
        self.last_heard = time.monotonic()
        self.restarts = 0
        self._receiver: Receiver | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def on_shared(self, receiver: Receiver) -> None:
        """Call `receiver(topic, payload, host_id)` for what other processes share."""
        self._receiver = receiver

    def initialize(self) -> None:
        super().initialize()
        if not self.write_only:
            self._watchdog = asyncio.ensure_future(self._watch())

    async def close(self) -> None:
        for task in (self._watchdog, getattr(self, "thread", None)):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    async def share(self, topic: str, payload: dict[str, Any]) -> None:
        """Send an application event to every other process (best effort)."""
        await self._publish(
            {"method": "smartlib", "topic": topic, "payload": payload, "host_id": self.host_id}
        )

    async def _listen(self) -> AsyncIterator[Any]:
        async for raw in super()._listen():
            self.last_heard = time.monotonic()
            if isinstance(raw, bytes) and raw.startswith(_PREFIXES):
                await self._deliver(raw)
                continue
            yield raw

    async def _deliver(self, raw: bytes) -> None:
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return
        if message.get("host_id") == self.host_id or self._receiver is None:
            return
        try:
            await self._receiver(
                str(message.get("topic")), message.get("payload") or {}, str(message.get("host_id"))
            )
        except Exception:
            log.exception("shared event %s failed", message.get("topic"))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            published = await self._heartbeat()
            silent = time.monotonic() - self.last_heard
            if published and silent > self.deaf_after_s:
                log.warning(
                    "Socket.IO Redis listener heard nothing for %.1f s; restarting it", silent
                )
                self.restarts += 1
                thread = getattr(self, "thread", None)
                if thread is not None:
                    thread.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await thread
                self.connected = False
                self.last_heard = time.monotonic()
                self.thread = self.server.start_background_task(self._thread)

    async def _heartbeat(self) -> bool:
        """Publish a heartbeat; True when Redis took it."""
        try:
            if not self.connected:
                self._redis_connect()
            await self.redis.publish(
                self.channel,
                orjson.dumps(
                    {
                        "method": "smartlib",
                        "topic": "heartbeat",
                        "payload": {},
                        "host_id": self.host_id,
                    }
                ),
            )
            return True
        except Exception:
            self.connected = False
            return False
