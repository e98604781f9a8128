"""The login page: sessions, cookie flags, wrong passwords, lockout, logout, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.auth.guard import AUTH_KEY
from tests.cloud.api_support import TEST_PASSWORD, authed_client, csrf_of, login_client, make_service


@pytest.fixture()
def app(tmp_path: Path):
    service, _ = make_service(tmp_path)
    app = create_app(service=service, settings=service.settings)
    app.extensions[AUTH_KEY].accounts.create_user("ada", "teacher", TEST_PASSWORD, "test")
    return app


def _audit(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def _login(client, username: str = "ada", password: str = TEST_PASSWORD, **extra):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def test_login_sets_a_strict_httponly_cookie_and_opens_the_dashboard(app, tmp_path: Path) -> None:
    client = app.test_client()
    response = _login(client, next="/students")
    assert response.status_code == 302 and response.headers["Location"] == "/students"
    cookie = response.headers["Set-Cookie"]
    assert "rollcall_session=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # cookie_secure is off by default (plain-HTTP demo)
    page = client.get("/students")
    assert page.status_code == 200 and "ada (teacher)" in page.get_data(as_text=True)
    assert 'data-role="teacher"' in page.get_data(as_text=True)  # the pages hide admin-only buttons
    assert client.get("/api/me").get_json() == {"actor": "user:ada", "role": "teacher"}
    entry = _audit(tmp_path)[-1]
    assert (entry["action"], entry["actor"], entry["peer"]) == ("login", "user:ada", "127.0.0.1")


def test_secure_cookie_behind_https(tmp_path: Path) -> None:
    service, _ = make_service(tmp_path, cookie_secure=True, session_hours=2)
    app = create_app(service=service, settings=service.settings)
    app.extensions[AUTH_KEY].accounts.create_user("ada", "teacher", TEST_PASSWORD, "test")
    cookie = _login(app.test_client()).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert app.permanent_session_lifetime.total_seconds() == 7200


def test_open_redirects_are_refused(app) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        assert _login(app.test_client(), next=target).headers["Location"] == "/"


def test_wrong_password_unknown_user_and_disabled_account(app, tmp_path: Path) -> None:
    client = app.test_client()
    for username, password in (("ada", "wrong password"), ("nobody", TEST_PASSWORD), ("", "")):
        response = _login(client, username, password)
        assert response.status_code == 401 and "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/api/students").status_code == 401
    failures = [e for e in _audit(tmp_path) if e["action"] == "login_failed"]
    assert [e["actor"] for e in failures] == ["user:ada", "user:nobody", "user:"]
    app.extensions[AUTH_KEY].accounts.update_user("ada", "test", disabled=True)
    assert _login(client).status_code == 401


def test_disabling_a_user_or_changing_the_password_ends_their_sessions(app) -> None:
    client = login_client(app, "bob")
    assert client.get("/api/students").status_code == 200
    app.extensions[AUTH_KEY].accounts.update_user("bob", "test", disabled=True)
    assert client.get("/api/students").status_code == 401
    other = login_client(app, "carol")
    app.extensions[AUTH_KEY].accounts.update_user("carol", "test", password="a brand new password")  # pragma: allowlist secret
    assert other.get("/api/students").status_code == 401


def test_login_without_csrf_token_is_403(app) -> None:
    response = app.test_client().post("/login", data={"username": "ada", "password": TEST_PASSWORD})
    assert response.status_code == 403


def test_lockout_after_five_failures_per_username_and_per_address(app, tmp_path: Path) -> None:
    client = app.test_client()
    for _ in range(5):
        assert _login(client, "ada", "wrong password").status_code == 401
    locked = _login(client)  # even the right password, while locked
    assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 60
    form = {"username": "ada", "password": TEST_PASSWORD, "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))}
    as_json = client.post("/login", data=form, headers={"Accept": "application/json"})
    assert as_json.status_code == 429 and as_json.get_json()["error"]["code"] == "rate_limited"
    assert "Retry-After" in as_json.headers
    # the same address is locked for other usernames too
    app.extensions[AUTH_KEY].accounts.create_user("bob", "teacher", TEST_PASSWORD, "test")
    assert _login(client, "bob").status_code == 429
    # another address can still log in as bob (per-username key untouched), not as ada
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert _login(other, "ada").status_code == 429
    assert _login(other, "bob").status_code == 302
    assert any(e["action"] == "login_refused" for e in _audit(tmp_path))
    counters = authed_client(app).get("/api/metrics").get_json()["http"]["counters"]
    assert (counters["auth_login_failed"], counters["auth_login_locked"], counters["auth_logins"]) == (5, 4, 1)


def test_logout_ends_the_session(app, tmp_path: Path) -> None:
    client = login_client(app, "carol")
    token = csrf_of(client.get("/").get_data(as_text=True))
    assert client.post("/logout").status_code == 403  # logging someone out cross-site is refused too
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/api/students").status_code == 401
    assert _audit(tmp_path)[-1]["action"] == "logout" and _audit(tmp_path)[-1]["actor"] == "user:carol"
