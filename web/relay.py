"""Domain events to Socket.IO emits: the one place that knows which room hears what.

Domain code publishes on the event bus; this table turns those events into emits. It works the
same in a `serve` process (emitting through its Socket.IO server) and in a separate worker
(emitting through a write-only Redis manager that reaches every server process).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.events import EventBus

Emit = Callable[..., Awaitable[Any]]
Rooms = Callable[[dict[str, Any]], list[str]]

STAFF_ROOM = "staff"

# topic -> (namespace, event, rooms for a payload)
RELAYS: dict[str, tuple[str, str, Rooms]] = {
    "asset.progress": ("/visit", "asset", lambda _payload: [STAFF_ROOM]),
    # The print farm (web/print_farm.py): a job to its owner and staff, printers to staff.
    "job.update": (
        "/makerspace",
        "job",
        lambda payload: [f"user:{payload['user_id']}", STAFF_ROOM],
    ),
    "printer.update": ("/makerspace", "printer", lambda _payload: [STAFF_ROOM]),
}


def relay_events(bus: EventBus, emit: Emit) -> Callable[[], None]:
    """Subscribe the relays; returns the function that removes them."""
    removers = []
    for topic, (namespace, event, rooms) in RELAYS.items():

        async def forward(
            _topic: str,
            payload: dict[str, Any],
            *,
            namespace: str = namespace,
            event: str = event,
            rooms: Rooms = rooms,
        ) -> None:
            await emit(event, payload, namespace=namespace, room=rooms(payload))

        removers.append(bus.subscribe(topic, forward))

    def remove_all() -> None:
        for remove in removers:
            remove()

    return remove_all
