"""The app-level guard: every route needs a caller (iterating the URL map, so routes added later
are covered), CSRF on session requests, tokens bypass CSRF, admin-only views, write limits, audit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.auth.guard import AUTH_KEY, OPEN_ENDPOINTS
from tests.cloud.api_support import authed_client, csrf_of, login_client, make_service

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture()
def app(tmp_path: Path):
    service, _ = make_service(tmp_path)
    return create_app(service=service, settings=service.settings)


def _routes(app) -> list[tuple[str, str, str]]:
    """(method, concrete path, endpoint) of every rule in the URL map."""
    out = []
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "x1" if m.group(1) != "filename" else "style.css", rule.rule)
        for method in sorted((rule.methods or set()) & set(METHODS)):
            out.append((method, path, rule.endpoint))
    return out


def test_every_route_refuses_an_anonymous_caller(app) -> None:
    client = app.test_client()
    checked = 0
    for method, path, endpoint in _routes(app):
        if endpoint in OPEN_ENDPOINTS:
            continue
        response = client.open(path, method=method)
        assert response.status_code in (401, 403) or (
            response.status_code == 302 and "/login" in response.headers["Location"]
        ), (method, path, response.status_code)
        if path.startswith("/api/"):
            assert response.status_code == 401 and response.is_json, (method, path)
            assert response.get_json()["error"]["code"] == "unauthenticated"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 25  # the whole API and the dashboard pages


def test_the_probes_anonymous_delete_of_a_student_is_refused(app) -> None:
    """Issue 13: ``DELETE /api/students/<id>`` from any peer returned 204."""
    service = app.extensions["rollcall"]["service"]
    service.create_student("s1", "Ada")
    response = app.test_client().delete("/api/students/s1", headers={"Origin": "http://192.0.2.9"})
    assert response.status_code == 401
    assert service.get_student("s1").name == "Ada"


def test_a_bad_or_revoked_token_is_401(app) -> None:
    client = app.test_client()
    for header in ("Bearer nope-not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer " + "x" * 5000):
        response = client.get("/api/students", headers={"Authorization": header})
        assert response.status_code == 401, header
    plain, _ = app.extensions[AUTH_KEY].accounts.create_token("script", "teacher", "test")
    ok = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/students", headers=ok).status_code == 200
    app.extensions[AUTH_KEY].accounts.revoke_token("script", "test")
    assert client.get("/api/students", headers=ok).status_code == 401


def test_open_endpoints_need_nobody(app) -> None:
    client = app.test_client()
    assert client.get("/api/health").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/login").status_code == 200


def test_a_page_redirects_to_the_login_page_and_back(app) -> None:
    response = app.test_client().get("/sessions?classroom_id=a")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/sessions%3Fclassroom_id%3Da"


def test_cross_site_posts_are_refused_even_without_a_body(app) -> None:
    """The probe: a body-less cross-origin POST closed a session. Now: 401 without a session, 403
    with one (the attacker's page cannot read the CSRF token), and the session stays open."""
    service = app.extensions["rollcall"]["service"]
    service.create_classroom("room-1", "Room 1")
    session_id = service.open_session("room-1").session_id
    anonymous = app.test_client().post(f"/api/sessions/{session_id}/close", headers={"Origin": "https://evil.example"})
    assert anonymous.status_code == 401
    teacher = login_client(app)
    for headers in ({"Origin": "https://evil.example"}, {"X-CSRFToken": "forged"}, {}):
        response = teacher.post(f"/api/sessions/{session_id}/close", headers=headers)
        assert response.status_code == 403, headers
        assert response.get_json()["error"]["code"] == "csrf_failed"
    assert teacher.delete("/api/students/nobody").status_code == 403
    assert service.get_session(session_id).status == "open"
    assert teacher.get("/api/metrics").get_json()["http"]["counters"]["auth_csrf_refused"] == 4
    # the page's own token works
    token = csrf_of(teacher.get("/").get_data(as_text=True))
    response = teacher.post(f"/api/sessions/{session_id}/close", headers={"X-CSRFToken": token})
    assert response.status_code == 200 and service.get_session(session_id).status == "closed"


def test_a_token_needs_no_csrf_token_and_its_changes_are_audited(app, tmp_path: Path) -> None:
    client = authed_client(app, role="teacher")
    assert client.post("/api/classrooms", json={"classroom_id": "r1", "name": "R1"}).status_code == 201
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    change = lines[-1]
    assert change["action"] == "http_change" and change["actor"].startswith("token:test-teacher-")
    assert (change["method"], change["path"], change["status"]) == ("POST", "/api/classrooms", 201)


def test_teachers_cannot_do_admin_things(app) -> None:
    service = app.extensions["rollcall"]["service"]
    service.create_student("s1", "Ada")
    teacher = authed_client(app, role="teacher")
    for method, path, body in (
        ("DELETE", "/api/students/s1", None),
        ("GET", "/api/users", None),
        ("POST", "/api/users", {"username": "eve", "password": "0123456789ab", "role": "admin"}),
        ("POST", "/api/tokens", {"name": "mine"}),
        ("GET", "/api/tokens", None),
        ("GET", "/users", None),
    ):
        response = teacher.open(path, method=method, json=body)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["code"] == "forbidden"
    assert service.get_student("s1").name == "Ada"
    assert teacher.get("/api/me").get_json()["role"] == "teacher"
    page = login_client(app).get("/students").get_data(as_text=True)
    assert 'href="/users"' not in page  # teachers do not see the admin page in the navigation


def test_admins_manage_users_and_tokens(app) -> None:
    admin = authed_client(app)
    created = admin.post("/api/users", json={"username": "t.one", "password": "0123456789ab"})
    assert created.status_code == 201 and created.get_json()["role"] == "teacher"
    assert "password_hash" not in json.dumps(admin.get("/api/users").get_json())
    assert admin.post("/api/users", json={"username": "t.one", "password": "0123456789ab"}).status_code == 409
    assert admin.post("/api/users", json={"username": "t2", "password": "short"}).status_code == 422  # pragma: allowlist secret
    assert admin.patch("/api/users/t.one", json={"disabled": True}).get_json()["disabled"] is True
    token = admin.post("/api/tokens", json={"name": "backup-script"}).get_json()
    assert token["token"].startswith("rct_") and token["role"] == "teacher"
    listed = admin.get("/api/tokens").get_json()["tokens"]
    assert [t["name"] for t in listed if t["name"] == "backup-script"] == ["backup-script"]
    assert all("token_hash" not in t and "token" not in t for t in listed)
    script = app.test_client()
    assert script.get("/api/students", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 200
    assert admin.delete("/api/tokens/backup-script").status_code == 204
    assert script.get("/api/students", headers={"Authorization": f"Bearer {token['token']}"}).status_code == 401


def test_writes_are_rate_limited_per_caller_with_retry_after(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, writes_per_min=6)  # bursts of 2
    app = create_app(service=service, settings=service.settings)
    client, other = authed_client(app), authed_client(app)
    statuses = [
        client.post("/api/classrooms", json={"classroom_id": f"r{n}", "name": "R"}).status_code for n in range(4)
    ]
    assert statuses[:2] == [201, 201] and statuses[2:] == [429, 429]
    refused = client.post("/api/students", json={"student_id": "s1", "name": "A"})
    assert refused.status_code == 429 and refused.is_json and int(refused.headers["Retry-After"]) >= 1
    assert client.get("/api/classrooms").status_code == 200  # reads are not limited
    assert other.post("/api/students", json={"student_id": "s1", "name": "A"}).status_code == 201  # per caller
    assert len(service.list_classrooms()) == 2
