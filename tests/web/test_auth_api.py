from datetime import timedelta

from core.accounts import issue_token
from core.database import unit_of_work
from core.models import TokenKind


def _assert_error(body: dict, code: str) -> None:
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert "Traceback" not in body["error"]["message"]


async def test_wrong_password_is_401_with_the_error_shape(client, make_user):
    await make_user("member", email="an@x.org")
    resp = await client.post("/api/v1/auth/login", json={"email": "an@x.org", "password": "nope"})
    assert resp.status == 401
    _assert_error(await resp.json(), "unauthorized")


async def test_login_token_reaches_me_and_garbage_is_refused(client, make_user):
    await make_user("docent", email="minh@x.org", password="password123")
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "minh@x.org", "password": "password123"}
    )
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["role"] == "docent"
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status == 200 and (await me.json())["email"] == "minh@x.org"
    for header in ("Bearer garbage", "Bearer " + "x" * 500, "Basic abc"):
        bad = await client.get("/api/v1/users/me", headers={"Authorization": header})
        assert bad.status == 401
        _assert_error(await bad.json(), "unauthorized")


async def test_expired_token_is_401(client, make_user, sessions):
    user, _ = await make_user("member")
    async with unit_of_work(sessions) as session:
        raw = await issue_token(session, user, TokenKind.bearer, timedelta(seconds=-5))
    resp = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {raw}"})
    assert resp.status == 401
    assert "expired" in (await resp.json())["error"]["message"]


async def test_cookie_session_is_httponly_and_changes_need_csrf(client, make_user):
    await make_user("member", email="binh@x.org")
    resp = await client.post(
        "/api/v1/auth/login", json={"email": "binh@x.org", "password": "password123"}
    )
    cookie = resp.cookies["smartlib_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await client.get("/api/v1/users/me")).status == 200  # the cookie jar sends it
    refused = await client.post("/api/v1/auth/logout")
    assert refused.status == 403
    _assert_error(await refused.json(), "forbidden")
    csrf = resp.cookies["smartlib_csrf"].value
    done = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert done.status == 204
    client.session.cookie_jar.update_cookies({"smartlib_session": cookie.value})
    assert (await client.get("/api/v1/users/me")).status == 401


async def test_malformed_and_oversized_bodies(client):
    bad_json = await client.post(
        "/api/v1/auth/login", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status == 422
    _assert_error(await bad_json.json(), "invalid")
    missing = await client.post("/api/v1/auth/login", json={"email": "a@b.org"})
    assert missing.status == 422
    assert (await missing.json())["error"]["field"] == "password"
    huge = await client.post(
        "/api/v1/auth/login", data=b"x" * (2 << 20), headers={"Content-Type": "application/json"}
    )
    assert huge.status == 413
    _assert_error(await huge.json(), "too_large")


async def test_unknown_route_and_health_and_metrics(client):
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status == 404
    _assert_error(await missing.json(), "not_found")
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["database"] == "ok"
    metrics = await (await client.get("/metrics")).text()
    assert 'smartlib_http_requests_total{method="GET",route="/healthz",status="200"} 1' in metrics
    assert 'route="unmatched",status="404"' in metrics or 'status="404"' in metrics
    assert "smartlib_http_request_seconds_bucket" in metrics


async def test_exhibit_list_shows_published_only_with_cursor(client, make_exhibit):
    await make_exhibit("drum", 7)
    await make_exhibit("stele", 12)
    await make_exhibit("hidden", 13, published=False)
    first = await (await client.get("/api/v1/exhibits?limit=1")).json()
    assert first["total"] == 2 and len(first["items"]) == 1 and first["next"]
    assert first["items"][0]["marker"] == {"dictionary": "aruco_4x4_50", "id": 7, "size_m": 0.15}
    second = await (await client.get(f"/api/v1/exhibits?limit=1&after={first['next']}")).json()
    assert [e["slug"] for e in second["items"]] == ["stele"] and second["next"] is None
    bad = await client.get("/api/v1/exhibits?limit=0")
    assert bad.status == 422


async def test_oversized_ids_in_paths_are_refused_not_sent_to_the_database(client, make_user):
    _, token = await make_user("librarian")
    huge = "9" * 30
    for path in (
        f"/api/v1/reservations/{huge}",
        f"/api/v1/resources/{huge}",
        f"/api/v1/print-jobs/{huge}",
        f"/api/v1/printers/{huge}",
        f"/api/v1/exhibits/{huge}",
        f"/api/v1/tours/{huge}",
    ):
        resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 422, path
        _assert_error(await resp.json(), "invalid")
