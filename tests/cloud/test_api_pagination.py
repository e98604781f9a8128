"""List endpoints come a page at a time (``?limit=&cursor=`` -> ``next``); following ``next``
yields every item exactly once."""

from __future__ import annotations

import pytest

from cloud.app import create_app
from tests.cloud.api_support import authed_client, make_service


@pytest.fixture()
def env(tmp_path):
    service, _ = make_service(tmp_path, page_size=4, max_page_size=10)
    return authed_client(create_app(service=service, settings=service.settings)), service


def _all(client, path: str, key: str, limit: int | None = None, **filters: str) -> tuple[list, int]:
    items, pages, cursor = [], 0, None
    while True:
        query = {k: v for k, v in {**filters, "limit": limit, "cursor": cursor}.items() if v is not None}
        body = client.get(path, query_string=query).get_json()
        items += body[key]
        pages += 1
        cursor = body["next"]
        if cursor is None:
            return items, pages


def test_students_and_classrooms_follow_next(env) -> None:
    client, service = env
    for n in range(11):
        service.create_student(f"s{n:02d}", f"Student {n}")
        service.create_classroom(f"r{n:02d}", f"Room {n}")
    first = client.get("/api/students").get_json()
    assert len(first["students"]) == 4 and first["next"] == "4"  # the default page size
    students, pages = _all(client, "/api/students", "students")
    assert pages == 3 and sorted(s["student_id"] for s in students) == [f"s{n:02d}" for n in range(11)]
    rooms, pages = _all(client, "/api/classrooms", "classrooms", limit=10)
    assert pages == 2 and len({r["classroom_id"] for r in rooms}) == 11


def test_sessions_and_unknown_faces_are_paginated(env) -> None:
    client, service = env
    service.create_classroom("r1", "Room 1")
    for n in range(6):
        service.close_session(service.open_session("r1", name=f"S{n}").session_id)
    sessions, pages = _all(client, "/api/sessions", "sessions", limit=5)
    assert pages == 2 and len({s["session_id"] for s in sessions}) == 6
    closed, _ = _all(client, "/api/sessions", "sessions", limit=1, classroom_id="r1", status="closed")
    assert len(closed) == 6
    body = client.get("/api/unknown-faces").get_json()
    assert body == {"unknown_faces": [], "next": None, "total": 0}


@pytest.mark.parametrize("query", ["limit=0", "limit=11", "limit=abc", "cursor=-1", "cursor=x", "limit=1.5"])
def test_bad_limits_and_cursors_are_422(env, query: str) -> None:
    client, _ = env
    response = client.get(f"/api/students?{query}")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_field"
