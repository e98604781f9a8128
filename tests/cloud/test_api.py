"""The JSON API against a real AttendanceService on SQLite (fake recognizer only)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cloud.app import create_app
from cloud.errors import InvalidInput
from tests.cloud.api_support import authed_client, face_crop, make_jpeg, make_service


@pytest.fixture()
def env(tmp_path):
    service, recognizer = make_service(tmp_path)
    app = create_app(service=service, settings=service.settings)
    return authed_client(app), service, recognizer


@pytest.fixture()
def client(env):
    return env[0]


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is a JSON error of ``status`` without a stack trace."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


def add_student(client, student_id="s1", name="Ada Lovelace", **extra):
    response = client.post("/api/students", json={"student_id": student_id, "name": name, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def add_classroom(client, classroom_id="room-1", name="Room 1"):
    response = client.post("/api/classrooms", json={"classroom_id": classroom_id, "name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_session(client, classroom_id="room-1", **extra):
    response = client.post("/api/sessions", json={"classroom_id": classroom_id, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def upload(client, student_id, data, filename="face.jpg", content_type=None):
    if content_type is None:
        return client.post(f"/api/students/{student_id}/photos", data={"photo": (io.BytesIO(data), filename)},
                           content_type="multipart/form-data")
    return client.post(f"/api/students/{student_id}/photos", data=data, content_type=content_type)


# ------------------------------------------------------------------ health, metrics
def test_health_reports_ok(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["storage"]["ok"] is True


def test_health_is_degraded_when_recognition_is_down(env):
    client, _, recognizer = env
    recognizer.available = False
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and body["rekognition"]["ok"] is False


def test_health_is_503_when_storage_is_down(env):
    client, service, _ = env
    service.store.close()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["storage"]["ok"] is False


def test_metrics_has_service_and_http_counters(env):
    client, service, _ = env
    client.get("/api/students")
    client.get("/api/nope")
    body = client.get("/api/metrics").get_json()
    http = body["http"]["counters"]
    assert http["http_requests"] >= 2
    assert http["http_status_404"] == 1
    assert http["http_endpoint_students.list_students"] == 1
    assert "counters" in body["service"]
    assert body["http"]["timings"]["http_ms"]["n"] >= 2


# ------------------------------------------------------------------ students
def test_student_crud(client):
    created = add_student(client, email="ada@example.org")
    assert created["student_id"] == "s1" and created["email"] == "ada@example.org"
    assert client.get("/api/students").get_json()["students"][0]["name"] == "Ada Lovelace"
    assert client.get("/api/students/s1").get_json()["name"] == "Ada Lovelace"

    patched = client.patch("/api/students/s1", json={"name": "Ada King"})
    assert patched.status_code == 200 and patched.get_json()["name"] == "Ada King"
    cleared = client.patch("/api/students/s1", json={"email": ""})
    assert cleared.get_json()["email"] is None

    assert client.delete("/api/students/s1").status_code == 204
    assert_error(client.get("/api/students/s1"), 404, "not_found")


def test_create_student_names_are_trimmed_and_location_set(client):
    response = client.post("/api/students", json={"student_id": "s-2", "name": "  Grace Hopper  "})
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/students/s-2"
    assert response.get_json()["name"] == "Grace Hopper"


def test_duplicate_student_is_409(client):
    add_student(client)
    assert_error(client.post("/api/students", json={"student_id": "s1", "name": "Other"}), 409, "conflict")


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"name": "No Id"}, 400, "missing_field"),
        ({"student_id": "s1"}, 400, "missing_field"),
        ({"student_id": "../etc", "name": "X"}, 422, "invalid_field"),
        ({"student_id": "a b", "name": "X"}, 422, "invalid_field"),
        ({"student_id": "x" * 65, "name": "X"}, 422, "invalid_field"),
        ({"student_id": 7, "name": "X"}, 422, "invalid_field"),
        ({"student_id": "s1", "name": "   "}, 422, "invalid_field"),
        ({"student_id": "s1", "name": "X", "email": "not-an-email"}, 422, "invalid_field"),
        ({"student_id": "s1", "name": "X", "colour": "red"}, 422, "invalid_field"),
    ],
)
def test_create_student_validation(client, body, status, code):
    error = assert_error(client.post("/api/students", json=body), status, code)
    assert error["message"]


def test_malformed_json_is_400(client):
    response = client.post("/api/students", data='{"student_id": "s1", "name": ', content_type="application/json")
    assert_error(response, 400, "bad_json")
    response = client.post("/api/students", data="[1, 2]", content_type="application/json")
    assert_error(response, 400, "bad_json")
    response = client.post("/api/students", data=b"\xff\xfe{}", content_type="application/json")
    assert_error(response, 400, "bad_json")


def test_json_nested_200k_deep_is_400_not_500(client):
    """Issue 13: JSON nested 200k deep gave a 500 in the API."""
    for body in (b"[" * 200_000 + b"]" * 200_000, b'{"a":' * 200_000 + b"1" + b"}" * 200_000):
        response = client.post("/api/students", data=body, content_type="application/json")
        error = assert_error(response, 400, "bad_json")
        assert "nested too deeply" in error["message"]


def test_json_endpoints_need_json_content_type(client):
    body = json.dumps({"student_id": "s1", "name": "Ada"})
    assert_error(client.post("/api/students", data=body, content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(client.post("/api/students", data={"student_id": "s1", "name": "Ada"}), 415)
    assert_error(client.post("/api/students", data=body), 415)


def test_patch_needs_something_to_change(client):
    add_student(client)
    assert_error(client.patch("/api/students/s1", json={}), 400, "missing_field")
    assert_error(client.patch("/api/students/s1", json={"name": ""}), 422, "invalid_field")
    assert_error(client.patch("/api/students/ghost", json={"name": "X"}), 404, "not_found")


def test_bad_path_ids_are_422(client):
    assert_error(client.get("/api/students/-weird"), 422, "invalid_id")
    assert_error(client.get("/api/sessions/" + "a" * 80), 422, "invalid_id")


def test_method_not_allowed_is_405_json(client):
    response = client.put("/api/students")
    error = assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"] and "PUT" in error["message"]
    assert_error(client.delete("/api/classrooms"), 405)


def test_unknown_route_is_404_json(client):
    assert_error(client.get("/api/does-not-exist"), 404, "not_found")
    assert_error(client.get("/no/such/page"), 404, "not_found")


# ------------------------------------------------------------------ photos
def test_enrol_photo_multipart_and_raw(env):
    client, _, recognizer = env
    add_student(client)
    response = upload(client, "s1", make_jpeg(1))
    assert response.status_code == 201, response.get_json()
    face = response.get_json()
    assert face["student_id"] == "s1" and face["face_id"] in recognizer.collection
    assert response.headers["Location"] == f"/api/students/s1/photos/{face['face_id']}"

    raw = upload(client, "s1", make_jpeg(2), content_type="image/jpeg")
    assert raw.status_code == 201
    faces = client.get("/api/students/s1/photos").get_json()["faces"]
    assert {f["face_id"] for f in faces} == {face["face_id"], raw.get_json()["face_id"]}

    # the enrolment photo is kept as evidence and served back
    photo = client.get(f"/api/evidence/{face['photo_ref']}")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.data == make_jpeg(1)

    assert client.delete(f"/api/students/s1/photos/{face['face_id']}").status_code == 204
    assert face["face_id"] not in recognizer.collection
    assert_error(client.delete(f"/api/students/s1/photos/{face['face_id']}"), 404)


def test_enrol_png(env):
    import cv2

    client = env[0]
    add_student(client)
    ok, png = cv2.imencode(".png", cv2.imdecode(__import__("numpy").frombuffer(make_jpeg(3), "uint8"), 1))
    response = upload(client, "s1", png.tobytes(), filename="face.png")
    assert response.status_code == 201, response.get_json()


def test_enrol_rejects_no_face_and_several_faces(env):
    client, _, recognizer = env
    add_student(client)
    nobody, crowd = make_jpeg(4), make_jpeg(5)
    recognizer.faces_in(nobody, 0)
    recognizer.faces_in(crowd, 3)
    assert "no usable face" in assert_error(upload(client, "s1", nobody), 422, "enrolment_rejected")["message"]
    assert "3 faces" in assert_error(upload(client, "s1", crowd), 422, "enrolment_rejected")["message"]
    assert recognizer.collection == {}


def test_enrol_for_unknown_student_is_404(client):
    assert_error(upload(client, "ghost", make_jpeg(1)), 404, "not_found")


def test_upload_bad_content(client):
    add_student(client)
    # not an image at all: wrong content type, or a text file in the form
    assert_error(upload(client, "s1", b"hello", content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(upload(client, "s1", b"GIF89a......", filename="x.gif"), 415, "unsupported_media_type")
    # JPEG signature but garbage after it
    assert_error(upload(client, "s1", b"\xff\xd8\xff\xe0" + b"\x00" * 200), 422, "invalid_image")
    truncated = make_jpeg(1)[:300]
    assert_error(upload(client, "s1", truncated, content_type="image/jpeg"), 422, "invalid_image")
    # empty file, missing field, tiny image
    assert_error(upload(client, "s1", b""), 422, "invalid_image")
    response = client.post("/api/students/s1/photos", data={"other": (io.BytesIO(make_jpeg(1)), "a.jpg")},
                           content_type="multipart/form-data")
    assert_error(response, 400, "missing_field")
    assert "px" in assert_error(upload(client, "s1", make_jpeg(1, size=16)), 422, "invalid_image")["message"]


def test_upload_announcing_huge_dimensions_is_refused_before_decoding(client):
    add_student(client)
    png = bytearray(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (30000).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00")
    assert "at most" in assert_error(upload(client, "s1", bytes(png), filename="big.png"), 422, "invalid_image")["message"]


def test_oversize_upload_is_413(client):
    add_student(client)
    big = b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024 + 10)
    assert_error(upload(client, "s1", big, content_type="image/jpeg"), 413, "request_entity_too_large")
    assert_error(upload(client, "s1", big), 413)


# ------------------------------------------------------------------ classrooms and sessions
def test_classrooms(client):
    add_classroom(client)
    assert_error(client.post("/api/classrooms", json={"classroom_id": "room-1", "name": "Again"}), 409)
    assert_error(client.post("/api/classrooms", json={"name": "No id"}), 400, "missing_field")
    assert_error(client.post("/api/classrooms", json={"classroom_id": "room 2"}), 422)
    rooms = client.get("/api/classrooms").get_json()["classrooms"]
    assert [r["classroom_id"] for r in rooms] == ["room-1"]
    detail = client.get("/api/classrooms/room-1").get_json()
    assert detail["classroom"]["name"] == "Room 1" and detail["current_session"] is None
    assert_error(client.get("/api/classrooms/room-9"), 404)


def test_session_lifecycle(client):
    add_classroom(client)
    session = open_session(client, name="Maths")
    assert session["status"] == "open" and session["name"] == "Maths"
    assert client.get("/api/classrooms/room-1").get_json()["current_session"]["session_id"] == session["session_id"]
    assert_error(client.post("/api/sessions", json={"classroom_id": "room-1"}), 409, "conflict")
    listed = client.get("/api/sessions?classroom_id=room-1&status=open").get_json()["sessions"]
    assert [s["session_id"] for s in listed] == [session["session_id"]]

    closed = client.post(f"/api/sessions/{session['session_id']}/close")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert_error(client.post(f"/api/sessions/{session['session_id']}/close"), 409)
    assert client.get("/api/sessions?status=open").get_json()["sessions"] == []
    assert client.get(f"/api/sessions/{session['session_id']}").get_json()["status"] == "closed"


def test_scheduled_session(client):
    add_classroom(client)
    session = open_session(client, starts_at="2099-01-01T09:00:00Z", ends_at="2099-01-01T10:00:00+00:00")
    assert session["status"] == "scheduled" and session["scheduled"] is True
    assert session["starts_at"] == "2099-01-01T09:00:00Z"
    error = assert_error(client.post("/api/sessions", json={"classroom_id": "room-1", "starts_at": "2099-02-01T10:00:00Z",
                                                             "ends_at": "2099-02-01T09:00:00Z"}), 422)
    assert "after" in error["message"]
    assert_error(client.post("/api/sessions", json={"classroom_id": "room-1", "starts_at": "next tuesday"}), 422)


def test_session_errors(client):
    assert_error(client.post("/api/sessions", json={"classroom_id": "nowhere"}), 404)
    assert_error(client.post("/api/sessions", json={}), 400, "missing_field")
    assert_error(client.get("/api/sessions?status=maybe"), 422)
    assert_error(client.get("/api/sessions?classroom_id=bad id"), 422)
    assert_error(client.get("/api/sessions/0123456789abcdef"), 404)
    assert_error(client.get("/api/sessions/0123456789abcdef/attendance"), 404)
    assert_error(client.get("/api/sessions/0123456789abcdef/attendance.csv"), 404)
    assert_error(client.post("/api/sessions/0123456789abcdef/close"), 404)


@pytest.mark.parametrize("bad_id", ["_lab", "-x", ".hidden"])
def test_one_id_rule_from_camera_header_to_api(env, bad_id):
    """A classroom id the API cannot address never becomes a classroom: a crop naming it is
    refused (counted, clear reason); a valid id is refused until registered through the API
    (``unknown_classroom``, nothing created), then its crops are recorded."""
    client, service, recognizer = env
    add_student(client)
    upload(client, "s1", make_jpeg(1))
    crop = make_jpeg(12)
    recognizer.shows(crop, "s1", 99.0)

    refused = service.process_crop(face_crop(crop, bad_id))
    meta = refused.header.meta
    assert (meta["status"], meta["reason"], meta["session_id"]) == ("error", "invalid_classroom_id", None)
    assert service.metrics()["counters"]["crops_rejected_invalid_classroom_id"] == 1
    assert client.get("/api/classrooms").get_json()["classrooms"] == []
    assert_error(client.get(f"/api/classrooms/{bad_id}"), 422, "invalid_id")
    assert_error(client.post("/api/classrooms", json={"classroom_id": bad_id}), 422)
    assert_error(client.post("/api/sessions", json={"classroom_id": bad_id}), 422)
    with pytest.raises(InvalidInput):
        service.create_classroom(bad_id)

    # The same camera with a valid id: refused while unregistered (auto-creation is off by
    # default), then registered through the API, reachable, and its crops recorded.
    first = service.process_crop(face_crop(crop, "lab_1"))
    assert (first.header.meta["reason"], first.header.meta["retry"]) == ("unknown_classroom", False)
    assert client.get("/api/classrooms").get_json()["classrooms"] == []
    assert client.post("/api/classrooms", json={"classroom_id": "lab_1"}).status_code == 201
    assert client.get("/api/classrooms/lab_1").get_json()["classroom"]["auto_created"] is False
    session = open_session(client, classroom_id="lab_1")
    again = service.process_crop(face_crop(crop, "lab_1"))
    assert (again.header.meta["status"], again.header.meta["session_id"]) == ("recognised", session["session_id"])
    records = client.get(f"/api/sessions/{session['session_id']}/attendance").get_json()["records"]
    assert [r["student_id"] for r in records] == ["s1"]


# ------------------------------------------------------------------ attendance
def enrolled_with_session(env):
    client, service, recognizer = env
    add_student(client)
    add_classroom(client)
    upload(client, "s1", make_jpeg(1))
    session = open_session(client, name="History")
    return client, service, recognizer, session


def test_attendance_after_a_recognised_crop(env):
    client, service, recognizer, session = enrolled_with_session(env)
    crop = make_jpeg(10)
    recognizer.shows(crop, "s1", 97.5)
    result = service.process_crop(face_crop(crop, "room-1"))
    assert result.header.meta["status"] == "recognised"

    body = client.get(f"/api/sessions/{session['session_id']}/attendance").get_json()
    assert body["session"]["session_id"] == session["session_id"]
    [record] = body["records"]
    for key in ("student_id", "name", "first_seen_ms", "last_seen_ms", "camera_id", "best_similarity", "evidence_ref", "sightings"):
        assert key in record
    assert record["student_id"] == "s1" and record["name"] == "Ada Lovelace"
    assert record["best_similarity"] == 97.5 and record["sightings"] == 1 and record["camera_id"] == "cam-1"
    evidence = client.get(f"/api/evidence/{record['evidence_ref']}")
    assert evidence.status_code == 200 and evidence.data == crop

    history = client.get("/api/students/s1/attendance").get_json()
    assert history["student"]["student_id"] == "s1"
    assert [r["session_id"] for r in history["records"]] == [session["session_id"]]
    assert_error(client.get("/api/students/ghost/attendance"), 404)


def test_csv_export(env):
    client, service, recognizer, session = enrolled_with_session(env)
    crop = make_jpeg(11)
    recognizer.shows(crop, "s1", 96.0)  # confident (>= 95): recorded at once
    service.process_crop(face_crop(crop, "room-1"))
    response = client.get(f"/api/sessions/{session['session_id']}/attendance.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="attendance-{session["session_id"]}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["student_id"], r["name"], r["best_similarity"]) for r in rows] == [("s1", "Ada Lovelace", "96.00")]


def test_unknown_face_review(env):
    client, service, recognizer, session = enrolled_with_session(env)
    stranger, other = make_jpeg(20), make_jpeg(21)
    recognizer.shows(stranger, None)
    recognizer.shows(other, None)
    service.process_crop(face_crop(stranger, "room-1"))
    service.process_crop(face_crop(other, "room-1", camera_id="cam-2"))

    pending = client.get("/api/unknown-faces").get_json()["unknown_faces"]
    assert len(pending) == 2 and {u["status"] for u in pending} == {"pending"}
    first = next(u for u in pending if u["camera_id"] == "cam-1")
    second = next(u for u in pending if u["camera_id"] == "cam-2")
    assert client.get(f"/api/evidence/{first['evidence_ref']}").data == stranger

    assert_error(client.post(f"/api/unknown-faces/{first['unknown_id']}/assign", json={}), 400, "missing_field")
    assert_error(client.post(f"/api/unknown-faces/{first['unknown_id']}/assign", json={"student_id": "ghost"}), 404)
    assigned = client.post(f"/api/unknown-faces/{first['unknown_id']}/assign", json={"student_id": "s1", "enrol": True})
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["student_id"] == "s1"
    assert len(client.get("/api/students/s1/photos").get_json()["faces"]) == 2  # enrolled the crop too
    assert_error(client.post(f"/api/unknown-faces/{first['unknown_id']}/assign", json={"student_id": "s1"}), 409)

    dismissed = client.post(f"/api/unknown-faces/{second['unknown_id']}/dismiss")
    assert dismissed.status_code == 200 and dismissed.get_json()["status"] == "dismissed"
    assert_error(client.post(f"/api/unknown-faces/{second['unknown_id']}/dismiss"), 409)

    assert client.get("/api/unknown-faces").get_json()["unknown_faces"] == []
    assert len(client.get("/api/unknown-faces?status=all").get_json()["unknown_faces"]) == 2
    assert len(client.get("/api/unknown-faces?status=assigned").get_json()["unknown_faces"]) == 1
    assert_error(client.get("/api/unknown-faces?status=maybe"), 422)
    assert_error(client.post("/api/unknown-faces/" + "0" * 32 + "/dismiss"), 404)
    records = client.get(f"/api/sessions/{session['session_id']}/attendance").get_json()["records"]
    assert [r["student_id"] for r in records] == ["s1"]


def test_evidence_errors(client):
    assert_error(client.get("/api/evidence/" + "0" * 32 + ".jpg"), 404)
    assert_error(client.get("/api/evidence/not-a-ref"), 422)
    assert_error(client.get("/api/evidence/..%2F..%2Fetc%2Fpasswd"), 404)


# ------------------------------------------------------------------ failures
def test_recognition_unavailable_is_503(env):
    client, _, recognizer = env
    add_student(client)
    recognizer.available = False
    assert_error(upload(client, "s1", make_jpeg(1)), 503, "recognition_unavailable")


def test_unexpected_exception_is_logged_and_answered_500(env, caplog):
    client, service, _ = env

    def explode():
        raise RuntimeError("database on fire: secret detail")

    service.list_students = explode  # type: ignore[method-assign]
    with caplog.at_level("ERROR", logger="rollcall.cloud.http"):
        response = client.get("/api/students")
    error = assert_error(response, 500, "internal_error")
    assert "secret detail" not in error["message"]
    [record] = [r for r in caplog.records if getattr(r, "event", "") == "http_unhandled_error"]
    assert record.exc_info and record.path == "/api/students"
