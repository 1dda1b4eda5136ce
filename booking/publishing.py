"""Events that are announced only once the transaction that caused them has committed.

A slot offered to the next member on the waitlist must not be announced when the cancellation
that freed it is rolled back, and must not reach the member before the freed slot is visible to
their booking request. So domain functions queue their events on the session, and the queue is
published when the session's outermost transaction commits (and dropped when it rolls back).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.events import EventBus

_QUEUE = "booking.pending_events"
# Publishing runs as tasks after the commit; they are kept here so none is collected mid-flight.
_RUNNING: set[asyncio.Task[None]] = set()


def publish_after_commit(
    session: AsyncSession, bus: EventBus, topic: str, payload: dict[str, Any]
) -> None:
    sync_session = session.sync_session
    queue = sync_session.info.setdefault(_QUEUE, [])
    if not event.contains(sync_session, "after_commit", _publish_queued):
        event.listen(sync_session, "after_commit", _publish_queued)
        event.listen(sync_session, "after_soft_rollback", _drop_queued)
    queue.append((bus, topic, payload))


def _publish_queued(sync_session: Session) -> None:
    queue = sync_session.info.pop(_QUEUE, [])
    if not queue:
        return
    loop = asyncio.get_running_loop()
    for bus, topic, payload in queue:
        task = loop.create_task(bus.publish(topic, payload))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)


def _drop_queued(sync_session: Session, previous_transaction: object) -> None:
    if sync_session.in_transaction():
        # A savepoint rolled back; the outer transaction (and its events) may still commit.
        return
    sync_session.info.pop(_QUEUE, None)
