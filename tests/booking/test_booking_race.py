"""Two hundred members clicking overlapping slots at the same instant: exactly one gets it."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import aiohttp
from sqlalchemy import select

from booking.models import ACTIVE_STATES, Reservation
from tests.booking.booking_api import iso, next_boundary

CONCURRENT = 200
ROUNDS = 3
MEMBERS = 8


async def test_concurrent_overlapping_requests_yield_exactly_one_booking(
    api, people, make_person, make_resource, sessions
):
    resource = await make_resource(buffer_minutes=10, max_minutes=240)
    tokens = [(await make_person("member")).token for _ in range(MEMBERS)]
    url = str(api.make_url("/api/v1/reservations"))
    # A fresh TCP connection per request, so the server sees 200 independent clients.
    connector = aiohttp.TCPConnector(force_close=True, limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        for round_index in range(ROUNDS):
            base = next_boundary(30, timedelta(days=1 + round_index))

            async def attempt(i: int, base=base) -> tuple[int, dict]:
                # Starts spread over 90 minutes, each two hours long: every pair overlaps.
                start = base + timedelta(minutes=30 * (i % 4))
                body = {
                    "resource_id": resource["id"],
                    "start": iso(start),
                    "end": iso(start + timedelta(hours=2)),
                }
                headers = {"Authorization": f"Bearer {tokens[i % MEMBERS]}"}
                async with client.post(url, json=body, headers=headers) as resp:
                    return resp.status, await resp.json()

            results = await asyncio.gather(*(attempt(i) for i in range(CONCURRENT)))
            statuses = [status for status, _ in results]
            assert statuses.count(201) == 1, sorted(set(statuses))
            assert statuses.count(409) == CONCURRENT - 1, sorted(set(statuses))
            winner = next(body for status, body in results if status == 201)
            for status, body in results:
                if status == 409:
                    message = body["error"]["message"]
                    assert "already booked" in message
                    assert winner["start"][11:16] in message  # the winner's slot, local time

    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(Reservation).where(
                    Reservation.resource_id == resource["id"],
                    Reservation.state.in_(ACTIVE_STATES),
                )
            )
        )
    assert len(rows) == ROUNDS
    rows.sort(key=lambda r: r.starts_at)
    for earlier, later in itertools.pairwise(rows):
        assert earlier.blocked_until <= later.starts_at
