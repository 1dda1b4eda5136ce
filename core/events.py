"""In-process event bus: domain code announces what happened, the edges decide who hears it.

Domain services publish plain dicts on named topics ("exhibit.changed", "job.progress"); the
`web/` edge subscribes and turns them into Socket.IO emits, so no domain package needs to know
that tablets exist. A failing subscriber is logged and never breaks the publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Listen to `topic` ("*" for every topic); returns the function that stops listening."""
        self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers[topic]:
                self._handlers[topic].remove(handler)

        return unsubscribe

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        handlers = [*self._handlers.get(topic, ()), *self._handlers.get("*", ())]
        if not handlers:
            return
        results = await asyncio.gather(
            *(handler(topic, payload) for handler in handlers), return_exceptions=True
        )
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, Exception):
                log.error("event handler %r failed on %s", handler, topic, exc_info=result)
