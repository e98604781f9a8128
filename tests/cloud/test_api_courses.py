"""The teacher API: courses, rosters and their CSV import, attendance states and marks, the
timetable, the session CSV with every roster student, and term exports (CSV, XLSX)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from cloud.app import create_app
from tests.cloud.api_support import authed_client, face_crop, make_jpeg, make_service

ROSTER = (
    "student_id,name,email,course\n"
    "s1,Ada Lovelace,ada@example.org,bio-1\n"
    "s2,Bob Brown,,bio-1\n"
    "s3,Cy Young,cy@example.org,bio-1\n"
    "bad id,Nope,,bio-1\n"
    "s4,,,bio-1\n"
    "s5,Dee,not-an-email,\n"
)


@pytest.fixture()
def env(tmp_path):
    service, recognizer = make_service(tmp_path, late_grace_minutes=5)
    app = create_app(service=service, settings=service.settings)
    return authed_client(app, role="teacher"), service, recognizer  # a teacher's API token


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_roster_import_previews_then_applies(env):
    client, service, _ = env
    preview = client.post("/api/courses/import", data=ROSTER, content_type="text/csv")
    assert preview.status_code == 200
    report = preview.get_json()
    assert report["applied"] is False
    assert report["summary"] == {
        "rows": 6,
        "errors": 3,
        "students_created": 3,
        "students_updated": 0,
        "enrolments": 3,
        "courses_created": ["bio-1"],
        "unchanged": 0,
    }
    errors = {row["line"]: row["error"] for row in report["rows"] if row["error"]}
    assert set(errors) == {5, 6, 7}
    assert "student_id" in errors[5] and "name" in errors[6] and "e-mail" in errors[7].lower() or "email" in errors[7]
    assert service.list_students() == [] and service.courses.list_courses() == []  # a preview changes nothing
    assert service.stats.snapshot()["counters"]["roster_rows_rejected"] == 3

    applied = client.post("/api/courses/import?apply=1", data={"file": (io.BytesIO(ROSTER.encode()), "r.csv")})
    assert applied.get_json()["applied"] is True
    assert [s.student_id for s in service.list_students()] == ["s1", "s2", "s3"]
    roster = client.get("/api/courses/bio-1/roster").get_json()
    assert [s["student_id"] for s in roster["students"]] == ["s1", "s2", "s3"]
    # the same file again: nothing left to do; a changed name is an update
    again = client.post("/api/courses/import", data=ROSTER.replace("Bob Brown", "Bob B."), content_type="text/csv")
    summary = again.get_json()["summary"]
    assert (summary["students_created"], summary["students_updated"], summary["enrolments"]) == (0, 1, 0)
    # a file without the header is refused as a whole
    bad = client.post("/api/courses/import", data="s1,Ada\n", content_type="text/csv")
    assert bad.status_code == 422 and "header" in bad.get_json()["error"]["message"]


def test_courses_crud_roster_and_errors(env):
    client, service, _ = env
    service.create_classroom("room-1")
    service.create_student("s1", "Ada")
    assert (
        post(client, "/api/courses", {"course_id": "chem", "name": "Chemistry", "classroom_id": "room-9"}).status_code
        == 404
    )
    assert (
        post(client, "/api/courses", {"course_id": "chem", "name": "Chemistry", "classroom_id": "room-1"}).status_code
        == 201
    )
    assert post(client, "/api/courses", {"course_id": "chem"}).status_code == 409
    assert post(client, "/api/courses", {"course_id": "bad id"}).status_code == 422
    assert [c["course_id"] for c in client.get("/api/courses").get_json()["courses"]] == ["chem"]
    assert post(client, "/api/courses/chem/roster", {"student_id": "s1"}).status_code == 201
    assert post(client, "/api/courses/chem/roster", {"student_id": "s1"}).status_code == 200
    assert post(client, "/api/courses/chem/roster", {"student_id": "ghost"}).status_code == 404
    patched = client.patch("/api/courses/chem", data=json.dumps({"name": "Chem I"}), content_type="application/json")
    assert patched.get_json()["name"] == "Chem I"
    assert client.get("/api/courses/chem").get_json()["roster_size"] == 1
    assert client.delete("/api/courses/chem/roster/s1").status_code == 204
    assert client.delete("/api/courses/chem/roster/s1").status_code == 404
    assert client.delete("/api/courses/chem").status_code == 204
    assert client.get("/api/courses/chem").status_code == 404


def test_states_marks_visitors_and_session_csv(env):
    client, service, recognizer = env
    clock = {"now": 1_800_000_000_000}
    service.deps.clock = lambda: clock["now"]
    service.create_classroom("room-1")
    client.post("/api/courses/import?apply=1", data=ROSTER, content_type="text/csv")
    service.create_student("v1", "Visiting Vera")
    for sid in ("s1", "s2", "v1"):
        service.enrol_photo(sid, make_jpeg(hash(sid) % 1000))
    # a course without a classroom cannot open a session
    assert client.post("/api/courses/bio-1/sessions").status_code == 422
    client.patch("/api/courses/bio-1", data=json.dumps({"classroom_id": "room-1"}), content_type="application/json")
    session = client.post("/api/courses/bio-1/sessions").get_json()
    assert session["course_id"] == "bio-1" and session["status"] == "open"
    sid = session["session_id"]

    def seen(student_id: str, seed: int) -> None:
        crop = make_jpeg(seed)
        recognizer.shows(crop, student_id, 99.0)
        assert service.process_crop(face_crop(crop, "room-1")).header.meta["status"] == "recognised"

    clock["now"] += 60_000
    seen("s1", 501)  # on time
    seen("v1", 502)  # not on the roster: a visitor
    clock["now"] += 10 * 60_000
    seen("s2", 503)  # after the 5-minute grace: late
    data = client.get(f"/api/sessions/{sid}/attendance").get_json()
    states = {s["student_id"]: s["state"] for s in data["students"]}
    assert states == {"s1": "present_camera", "s2": "late", "s3": "absent"}
    assert [v["student_id"] for v in data["visitors"]] == ["v1"]
    assert data["counts"]["present"] == 2 and data["counts"]["visitors"] == 1
    assert {r["student_id"] for r in data["records"]} == {"s1", "s2", "v1"}  # the raw records stay

    # the teacher excuses s3 and removes s2's match (wrong person): evidence kept
    evidence = next(s["evidence_ref"] for s in data["students"] if s["student_id"] == "s2")
    assert (
        post(
            client, f"/api/sessions/{sid}/marks", {"student_id": "s3", "state": "excused", "reason": "sick note"}
        ).status_code
        == 201
    )
    removed = post(
        client, f"/api/sessions/{sid}/marks", {"student_id": "s2", "state": "absent", "reason": "not Bob: wrong match"}
    )
    assert removed.get_json()["state"] == "absent" and removed.get_json()["evidence_ref"] == evidence
    assert service.get_evidence(evidence)  # the crop is still there
    # bad marks are refused with the reason
    assert (
        post(
            client, f"/api/sessions/{sid}/marks", {"student_id": "s3", "state": "present_camera", "reason": "x"}
        ).status_code
        == 422
    )
    assert (
        post(client, f"/api/sessions/{sid}/marks", {"student_id": "s3", "state": "late", "reason": " "}).status_code
        == 422
    )
    assert (
        post(client, f"/api/sessions/{sid}/marks", {"student_id": "v1", "state": "late", "reason": "x"}).status_code
        == 404
    )

    roll = client.get(f"/api/sessions/{sid}/roll").get_json()
    assert {s["student_id"]: s["state"] for s in roll["students"]} == {
        "s1": "present_camera",
        "s2": "absent",
        "s3": "excused",
    }
    assert roll["counts"]["present"] == 1 and roll["counts"]["excused"] == 1
    history = client.get(f"/api/sessions/{sid}/marks").get_json()["marks"]
    assert [(m["student_id"], m["previous_state"], m["state"]) for m in history] == [
        ("s3", "absent", "excused"),
        ("s2", "late", "absent"),
    ]
    assert {m["actor"] for m in history} == {client.token_actor}  # who: the API token that made the change
    audit = [e for e in service.privacy.audit.entries() if e["action"] == "attendance_marked"]
    assert [(e["student_id"], e["reason"]) for e in audit] == [("s3", "sick note"), ("s2", "not Bob: wrong match")]
    assert audit[1]["evidence_ref"] == evidence

    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/sessions/{sid}/attendance.csv").get_data(as_text=True))))
    assert {(r["student_id"], r["state"], r["on_roster"]) for r in rows} == {
        ("s1", "present_camera", "1"),
        ("s2", "absent", "1"),
        ("s3", "excused", "1"),
        ("v1", "visitor", "0"),
    }
    s2 = next(r for r in rows if r["student_id"] == "s2")
    assert s2["reason"] == "not Bob: wrong match" and s2["evidence_ref"] == evidence and s2["first_seen"]


def test_timetable_scheduler_and_term_exports(env):
    client, service, recognizer = env
    # Monday 2027-01-04 08:00 UTC; sessions made a day ahead
    clock = {"now": 1_799_020_800_000 + 8 * 3_600_000}
    service.deps.clock = lambda: clock["now"]
    service.settings = service.settings.model_copy(update={"timetable_lookahead_hours": 24})
    service.create_classroom("room-1")
    client.post("/api/courses/import?apply=1", data=ROSTER, content_type="text/csv")
    client.patch("/api/courses/bio-1", data=json.dumps({"classroom_id": "room-1"}), content_type="application/json")
    assert post(client, "/api/courses/bio-1/slots", {"day": "mon", "start": "09:00", "end": "10:00"}).status_code == 201
    assert post(client, "/api/courses/bio-1/slots", {"day": "mon", "start": "09:30", "end": "11:00"}).status_code == 409
    assert post(client, "/api/courses/bio-1/slots", {"day": "xyz", "start": "09:00", "end": "10:00"}).status_code == 422
    assert post(client, "/api/courses/bio-1/slots", {"day": "tue", "start": "10:00", "end": "09:00"}).status_code == 422
    created = service.timetable.run_once()
    assert [s.session_id[-8:] for s in created] == ["20270104"]
    assert created[0].status == "scheduled" and created[0].course_id == "bio-1"
    assert service.timetable.run_once() == []  # idempotent
    clock["now"] += 75 * 60_000  # 09:15: open by itself
    assert service.get_session(created[0].session_id).status == "open"
    service.crops  # the crop path finds it as the classroom's open session
    crop = make_jpeg(77)
    service.enrol_photo("s1", make_jpeg(78))
    recognizer.shows(crop, "s1", 98.0)
    assert service.process_crop(face_crop(crop, "room-1")).header.meta["session_id"] == created[0].session_id
    clock["now"] += 60 * 60_000  # 10:15: closed by itself
    assert service.get_session(created[0].session_id).status == "closed"

    report = client.get("/api/courses/bio-1/report?from=2027-01-01&to=2027-01-31").get_json()
    assert [r["student_id"] for r in report["rows"]] == ["s1", "s2", "s3"]
    assert [r["states"] for r in report["rows"]] == [["late"], ["absent"], ["absent"]]
    text = client.get("/api/courses/bio-1/export.csv?from=2027-01-01&to=2027-01-31").get_data(as_text=True)
    grid = list(csv.reader(io.StringIO(text)))
    assert grid[0][:3] == ["student_id", "name", "2027-01-04 09:00"] and grid[1][2] == "late"
    xlsx = client.get("/api/courses/bio-1/export.xlsx?from=2027-01-01&to=2027-01-31")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(xlsx.data))["attendance"]
    assert [[c.value for c in row][:3] for row in sheet.iter_rows()] == [g[:3] for g in grid]
    student = client.get("/api/reports/students/s1?from=2027-01-01&to=2027-01-31").get_json()
    assert student["rate"] == 1.0 and [s["state"] for s in student["sessions"]] == ["late"]
    assert client.get("/api/reports/students/s2?from=2027-01-01&to=2027-01-31").get_json()["rate"] == 0.0
    assert client.get("/api/reports/students/s2?from=2027-02-01&to=2027-01-01").status_code == 422
    # deleting the slot cancels next week's session, which the scheduler made in advance
    clock["now"] += 6 * 86_400_000
    [next_week] = service.timetable.run_once()
    slot_id = client.get("/api/courses/bio-1/slots").get_json()["slots"][0]["slot_id"]
    assert client.delete(f"/api/courses/bio-1/slots/{slot_id}").get_json()["sessions_cancelled"] == 1
    assert service.get_session(next_week.session_id).status == "closed"


def test_roster_import_bad_files_are_refused_with_the_reason(env):
    client, service, _ = env

    def message(data, content_type="text/csv"):
        response = client.post("/api/courses/import", data=data, content_type=content_type)
        assert response.status_code in (400, 422), response.get_data(as_text=True)
        return response.get_json()["error"]["message"]

    assert "UTF-8" in message(b"student_id,name\n\xff\xfe,x\n")
    assert "unknown column" in message("student_id,name,phone\ns1,Ada,123\n")
    assert "more than 5000 rows" in message("student_id,name\n" + "".join(f"s{i},N{i}\n" for i in range(5001)))
    assert "send the roster CSV" in message(b"")
    # a row with more fields than the header, the same student twice with another name, a bad course id
    report = client.post("/api/courses/import", data="student_id,name,course\ns1,Ada,bio,extra\ns2,Bob,bio\n"
                         "s2,Robert,bio\ns3,Cy,bad course\ns2,Bob,chem\n", content_type="text/csv").get_json()
    errors = {row["line"]: row["error"] for row in report["rows"]}
    assert "more fields" in errors[2] and errors[3] is None and "earlier" in errors[4] and "course" in errors[5]
    assert errors[6] is None and report["summary"]["enrolments"] == 2 and report["summary"]["students_created"] == 1
    assert service.list_students() == []
