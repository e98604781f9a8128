"""The application factory and the dashboard's server-rendered pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cloud.web
from cloud.app import create_app
from cloud.settings import CloudSettings
from tests.cloud.api_support import authed_client, login_client, make_service

WEB_DIR = Path(cloud.web.__file__).parent
PAGES = {
    "/": "Live attendance",
    "/students": "Add a student",
    "/classrooms": "Add a classroom",
    "/sessions": "History",
    "/unknown": "Unknown faces",
    "/sessions/0123456789abcdef": "Attendance",
    "/users": "Users and API tokens",
}


@pytest.fixture()
def client(tmp_path):
    service, _ = make_service(tmp_path)
    return login_client(create_app(service=service, settings=service.settings), role="admin")


def test_factory_builds_the_service_from_settings(tmp_path, monkeypatch):
    """Without a service, create_app wires SQLite + local evidence + Rekognition from settings."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = CloudSettings(data_dir=tmp_path / "data", rekognition_endpoint_url="http://127.0.0.1:9", rekognition_max_retries=0)
    app = create_app(settings=settings)
    client = authed_client(app)
    assert client.post("/api/students", json={"student_id": "s1", "name": "Ada"}).status_code == 201
    assert (tmp_path / "data" / "rollcall.sqlite3").exists()
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.get_json()["rekognition"]["ok"] is False  # no credentials: degraded, not crashed
    assert app.config["MAX_CONTENT_LENGTH"] == settings.max_upload_bytes == 5 * 1024 * 1024


def test_two_apps_do_not_share_state(tmp_path):
    one, _ = make_service(tmp_path / "one")
    two, _ = make_service(tmp_path / "two")
    a = authed_client(create_app(service=one, settings=one.settings))
    b = authed_client(create_app(service=two, settings=two.settings))
    a.post("/api/students", json={"student_id": "s1", "name": "Ada"})
    assert b.get("/api/students").get_json() == {"students": [], "next": None}
    assert b.get("/api/metrics").get_json()["http"]["counters"]["http_requests"] == 1


@pytest.mark.parametrize("path, marker", PAGES.items())
def test_dashboard_pages_render(client, path, marker):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert marker in html
    assert '<html lang="en">' in html and "<main" in html
    # every page links its own assets only
    for src in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert src.startswith("/") or src.startswith("#"), src


def test_session_page_rejects_bad_ids(client):
    response = client.get("/sessions/bad id")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_id"


def test_current_page_is_marked_in_the_navigation(client):
    html = client.get("/students").get_data(as_text=True)
    assert re.search(r'href="/students" aria-current="page"', html)
    assert 'href="/classrooms" aria-current' not in html


def test_static_assets_are_served(client):
    for name, mimetype in (("style.css", "text/css"), ("common.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.mimetype == mimetype
    assert client.get("/static/../app.py").status_code == 404


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_web_files_reference_nothing_external():
    """No CDN, no external fonts: the dashboard works offline."""
    external = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
    checked = 0
    for path in WEB_DIR.rglob("*"):
        if path.suffix in (".html", ".js", ".css", ".svg"):
            text = path.read_text(encoding="utf-8")
            text = text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace is not a download
            assert not external.search(text), f"{path.name}: {external.search(text).group(0)}"
            checked += 1
    assert checked >= 10


def test_templates_escape_user_data(client, tmp_path):
    """Names are rendered by JS with textContent; the server never puts API data into HTML."""
    response = client.get("/sessions/abc<script>")
    assert response.status_code == 422
    # the error echoes the id, but as JSON that browsers will not sniff into HTML
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    for js in (WEB_DIR / "static").glob("*.js"):
        assert "innerHTML" not in js.read_text(), js.name
