"""Fixtures for the booking API tests: the real app with the booking routes, and its people."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.accounts import hash_password, issue_token
from core.database import unit_of_work
from core.models import Role, TokenKind, User
from core.settings import Settings
from tests.booking.booking_api import ALL_DAY, Person, build_app


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[TestClient]:
    """The real application on a loopback socket, with the booking routes."""
    async with TestClient(TestServer(build_app(settings), host="127.0.0.1")) as client:
        yield client


@pytest.fixture(scope="session")
def password_hash() -> str:
    # Hashed once: argon2 is slow on purpose, and these tests never sign in with a password.
    return hash_password("password123")


@pytest.fixture
def make_person(sessions, password_hash):
    """Factory: an account of the given role with a bearer token."""

    async def make(role: str = "member") -> Person:
        async with unit_of_work(sessions) as session:
            user = User(
                email=f"{role}-{uuid.uuid4().hex[:8]}@x.org",
                role_name=Role[role].name,
                password_hash=password_hash,
            )
            session.add(user)
            await session.flush()
            token = await issue_token(session, user, TokenKind.bearer, timedelta(hours=1))
        return Person(user.id, token)

    return make


@pytest.fixture
async def people(make_person) -> dict[str, Person]:
    """A librarian and two members, each with a bearer token."""
    return {
        "librarian": await make_person("librarian"),
        "ana": await make_person("member"),
        "binh": await make_person("member"),
    }


@pytest.fixture
def make_resource(api, people):
    """Factory: a resource created through the API by the librarian (open all day by default)."""

    async def make(**fields: Any) -> dict[str, Any]:
        body = {"type": "printer", "name": "Prusa MK4 #2", "opening_hours": ALL_DAY, **fields}
        resp = await api.post("/api/v1/resources", json=body, headers=people["librarian"].headers)
        assert resp.status == 201, await resp.text()
        return await resp.json()

    return make


@pytest.fixture
def book(api):
    """Factory: POST /reservations as `person`; returns (status, body)."""

    async def post(person: Person, resource: dict, start, end=None, **extra: Any):
        body: dict[str, Any] = {"resource_id": resource["id"], "start": start.isoformat()}
        if end is not None:
            body["end"] = end.isoformat()
        body.update(extra)
        resp = await api.post("/api/v1/reservations", json=body, headers=person.headers)
        return resp.status, await resp.json()

    return post
