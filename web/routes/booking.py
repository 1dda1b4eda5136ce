"""Makerspace booking over REST: resources, certifications, reservations, waitlist, feeds."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from booking import certifications, feeds, reservations, resources, waitlist
from booking.availability import FreeInterval
from booking.policy import BookingPolicy
from booking.reservations import BookingRequest, JobEstimator, reservation_view
from booking.resources import local_iso, policy_of, resource_view
from booking.schemas import (
    CertificationIn,
    DecisionIn,
    ReservationIn,
    ReservationMoveIn,
    WaitlistIn,
)
from core.database import unit_of_work, utcnow
from core.errors import Forbidden, Invalid
from core.models import Role
from web.auth import current_user, require
from web.bodies import parse_json
from web.errors import json_response
from web.keys import EVENTS, SESSIONS, SETTINGS
from web.params import path_id

routes = web.RouteTableDef()

# The print farm registers its estimate lookup here; until then print-sized slots are refused.
JOB_ESTIMATOR = web.AppKey("booking_job_estimator", JobEstimator)
STAFF = reservations.STAFF
ICS = "text/calendar"


class AnyObject(BaseModel):
    """A JSON object taken as it is; the resource rules are checked by `parse_policy`."""

    model_config = ConfigDict(extra="allow")


def _limit(request: web.Request, default: int = 50) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise Invalid("limit must be a whole number from 1 to 200.", field="limit")
    return int(raw)


def _optional_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise Invalid(f"{name} must be a number.", field=name)
    return int(raw)


def _instant(request: web.Request, name: str) -> datetime:
    raw = request.query.get(name)
    if not raw:
        raise Invalid(f"Give '{name}' as ISO 8601 with an offset.", field=name)
    # An unencoded '+' of the offset arrives as a space.
    raw = raw.replace(" ", "+")
    try:
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"'{raw}' is not an ISO 8601 time.", field=name) from None
    if instant.tzinfo is None:
        raise Invalid(f"'{name}' needs a UTC offset, e.g. +07:00.", field=name)
    return instant


def _page(items: list[dict[str, object]], total: int, cursor: str | None) -> web.Response:
    return json_response({"items": items, "total": total, "next": cursor})


# Resources


@routes.post("/api/v1/resources")
async def create_resource(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    body = await parse_json(request, AnyObject)
    async with unit_of_work(request.app[SESSIONS]) as session:
        resource = await resources.create_resource(session, body.model_extra or {})
    return json_response(resource_view(resource), status=201)


@routes.get("/api/v1/resources")
async def list_resources(request: web.Request) -> web.Response:
    await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        page = await resources.list_resources(
            session,
            type=request.query.get("type"),
            limit=_limit(request),
            after=request.query.get("after"),
        )
    return _page([resource_view(r) for r in page.items], page.total, page.next)


@routes.get(r"/api/v1/resources/{id:\d+}")
async def get_resource(request: web.Request) -> web.Response:
    await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        resource = await resources.get_resource(session, path_id(request))
    return json_response(resource_view(resource))


@routes.patch(r"/api/v1/resources/{id:\d+}")
async def update_resource(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    body = await parse_json(request, AnyObject)
    async with unit_of_work(request.app[SESSIONS]) as session:
        resource = await resources.update_resource(
            session, path_id(request), body.model_extra or {}
        )
    return json_response(resource_view(resource))


@routes.delete(r"/api/v1/resources/{id:\d+}")
async def delete_resource(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await resources.delete_resource(session, path_id(request), utcnow())
    return web.Response(status=204)


def _free_view(policy: BookingPolicy, interval: FreeInterval) -> dict[str, object]:
    return {
        "start": local_iso(policy, interval.start),
        "end": local_iso(policy, interval.end),
        "longest_minutes": interval.longest_minutes,
    }


@routes.get(r"/api/v1/resources/{id:\d+}/availability")
async def availability(request: web.Request) -> web.Response:
    user = await current_user(request)
    async with request.app[SESSIONS]() as session:
        resource, free = await reservations.availability(
            session,
            path_id(request),
            _instant(request, "from"),
            _instant(request, "to"),
            now=utcnow(),
            member=user,
        )
    policy = policy_of(resource)
    items = [_free_view(policy, interval) for interval in free]
    return json_response(
        {"items": items, "total": len(items), "next": None, "timezone": policy.timezone}
    )


@routes.get(r"/api/v1/resources/{id:\d+}/reservations.ics")
async def resource_feed(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        token = request.query.get("token")
        # Calendar apps send no headers: staff may subscribe with their own feed token.
        actor = await feeds.feed_user(session, token) if token else await require(request, STAFF)
        body = await feeds.resource_feed(session, actor, path_id(request), now=utcnow())
    return web.Response(body=body, content_type=ICS, charset="utf-8")


# Certifications


@routes.post(r"/api/v1/users/{id:\d+}/certifications")
async def grant_certification(request: web.Request) -> web.Response:
    librarian = await require(request, Role.librarian)
    body = await parse_json(request, CertificationIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        granted = await certifications.grant_certification(
            session, librarian, path_id(request), body.type, body.expires_at
        )
    return json_response(certifications.certification_view(granted), status=201)


@routes.get(r"/api/v1/users/{id:\d+}/certifications")
async def list_certifications(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    user_id = path_id(request)
    if user_id != user.id and user.role < Role.librarian:
        raise Forbidden("Members can only see their own trainings.")
    async with request.app[SESSIONS]() as session:
        held = await certifications.list_certifications(session, user_id)
    items = [certifications.certification_view(c) for c in held]
    return _page(items, len(items), None)


@routes.delete(r"/api/v1/users/{id:\d+}/certifications/{type}")
async def revoke_certification(request: web.Request) -> web.Response:
    await require(request, Role.librarian)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await certifications.revoke_certification(
            session, path_id(request), request.match_info["type"]
        )
    return web.Response(status=204)


# Reservations


@routes.post("/api/v1/reservations")
async def create_reservation(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    body = await parse_json(request, ReservationIn)
    booking = BookingRequest(
        resource_id=body.resource_id,
        start=body.start,
        end=body.end,
        duration_from_job=body.job_id,
        user_id=body.user_id,
        override_reason=body.override_reason,
    )
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.create_reservation(
            session, user, booking, now=utcnow(), estimator=request.app.get(JOB_ESTIMATOR)
        )
    return json_response(reservation_view(reservation, resource), status=201)


@routes.get("/api/v1/reservations")
async def list_reservations(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        page = await reservations.list_reservations(
            session,
            user,
            resource_id=_optional_int(request, "resource_id"),
            user_id=_optional_int(request, "user_id"),
            state=request.query.get("state"),
            limit=_limit(request),
            after=request.query.get("after"),
        )
    return _page([reservation_view(r, res) for r, res in page.items], page.total, page.next)


@routes.get(r"/api/v1/reservations/{id:\d+}")
async def get_reservation(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        reservation, resource = await reservations.get_reservation(session, user, path_id(request))
    return json_response(reservation_view(reservation, resource))


@routes.patch(r"/api/v1/reservations/{id:\d+}")
async def move_reservation(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    body = await parse_json(request, ReservationMoveIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.move_reservation(
            session,
            request.app[EVENTS],
            user,
            path_id(request),
            body.start,
            body.end,
            now=utcnow(),
            override_reason=body.override_reason,
        )
    return json_response(reservation_view(reservation, resource))


@routes.delete(r"/api/v1/reservations/{id:\d+}")
async def cancel_reservation(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.cancel_reservation(
            session, request.app[EVENTS], user, path_id(request), now=utcnow()
        )
    return json_response(reservation_view(reservation, resource))


@routes.post(r"/api/v1/reservations/{id:\d+}/approve")
async def approve_reservation(request: web.Request) -> web.Response:
    user = await require(request, STAFF)
    body = await _decision(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.approve_reservation(
            session, user, path_id(request), body.note
        )
    return json_response(reservation_view(reservation, resource))


@routes.post(r"/api/v1/reservations/{id:\d+}/deny")
async def deny_reservation(request: web.Request) -> web.Response:
    user = await require(request, STAFF)
    body = await _decision(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.deny_reservation(
            session, request.app[EVENTS], user, path_id(request), body.note, now=utcnow()
        )
    return json_response(reservation_view(reservation, resource))


async def _decision(request: web.Request) -> DecisionIn:
    # The note is optional, and so is the body that would carry it.
    if not request.can_read_body:
        return DecisionIn()
    return await parse_json(request, DecisionIn)


@routes.post(r"/api/v1/reservations/{id:\d+}/check-in")
async def check_in(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        reservation, resource = await reservations.check_in(
            session, user, path_id(request), now=utcnow()
        )
    return json_response(reservation_view(reservation, resource))


# Waitlist


@routes.post("/api/v1/waitlist")
async def join_waitlist(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    body = await parse_json(request, WaitlistIn)
    async with unit_of_work(request.app[SESSIONS]) as session:
        entry = await waitlist.join_waitlist(
            session, user, body.resource_id, body.start, body.end, utcnow()
        )
        resource = await resources.get_resource(session, entry.resource_id)
    return json_response(waitlist.entry_view(entry, resource), status=201)


@routes.get("/api/v1/waitlist")
async def my_waitlist(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with request.app[SESSIONS]() as session:
        rows = await waitlist.my_waitlist(session, user)
    items = [waitlist.entry_view(entry, resource) for entry, resource in rows]
    return _page(items, len(items), None)


@routes.delete(r"/api/v1/waitlist/{id:\d+}")
async def leave_waitlist(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await waitlist.leave_waitlist(session, user, path_id(request))
    return web.Response(status=204)


# Calendar feeds


@routes.post("/api/v1/users/me/feed-token")
async def create_feed_token(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        token = await feeds.create_feed_token(session, user)
    base = request.app[SETTINGS].public_url.rstrip("/")
    url = f"{base}/api/v1/users/me/reservations.ics?token={token}"
    return json_response({"token": token, "url": url}, status=201)


@routes.delete("/api/v1/users/me/feed-token")
async def revoke_feed_token(request: web.Request) -> web.Response:
    user = await require(request, Role.member)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await feeds.revoke_feed_tokens(session, user)
    return web.Response(status=204)


@routes.get("/api/v1/users/me/reservations.ics")
async def member_feed(request: web.Request) -> web.Response:
    token = request.query.get("token", "")
    async with request.app[SESSIONS]() as session:
        body = await feeds.member_feed(session, token, now=utcnow())
    return web.Response(
        body=body,
        content_type=ICS,
        charset="utf-8",
        # The URL holds a secret: keep it out of shared caches and referrers.
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
