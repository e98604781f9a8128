"""Courses, rosters, the roster CSV import and the weekly timetable: ``/api/courses``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from .context import created, no_content, service, to_json
from .errors import ApiError
from .pagination import page
from .teacher_support import actor, download
from .validation import Name, SafeId, _Body, parse_json, require_id

bp = Blueprint("courses", __name__, url_prefix="/api/courses")


class CourseCreate(_Body):
    course_id: SafeId
    name: Name | None = None
    classroom_id: SafeId | None = None


class CourseUpdate(_Body):
    name: Name | None = None
    classroom_id: SafeId | Literal[""] | None = None  # "" unsets it


class RosterAdd(_Body):
    student_id: SafeId


class SlotCreate(_Body):
    day: str | int
    start: str
    end: str


class CourseSessionCreate(_Body):
    name: Name | None = None
    starts_at: datetime | None = Field(None, strict=False)
    ends_at: datetime | None = Field(None, strict=False)


@bp.get("")
def list_courses() -> Response:
    """Every course, each with its roster size and weekly slots."""
    svc = service()
    slots = svc.timetable.list_slots()
    courses = [
        {
            **c.to_dict(),
            "roster_size": len(svc.courses.roster_ids(c.course_id)),
            "slots": [s.to_dict() for s in slots if s.course_id == c.course_id],
        }
        for c in svc.courses.list_courses()
    ]
    return page(courses, "courses")


@bp.post("")
def create_course() -> Response:
    """Create a course from ``{"course_id", "name"?, "classroom_id"?}``."""
    body = parse_json(CourseCreate)
    course = service().courses.create_course(body.course_id, body.name, body.classroom_id)
    return created(course, f"/api/courses/{course.course_id}")


@bp.get("/<course_id>")
def get_course(course_id: str) -> Response:
    """One course with its roster size and timetable."""
    svc = service()
    course = svc.courses.get_course(require_id(course_id, "course_id"))
    return jsonify(
        {
            **course.to_dict(),
            "roster_size": len(svc.courses.roster_ids(course_id)),
            "slots": to_json(svc.timetable.list_slots(course_id)),
        }
    )


@bp.patch("/<course_id>")
def update_course(course_id: str) -> Response:
    """Rename a course and/or set its classroom."""
    body = parse_json(CourseUpdate)
    if body.name is None and body.classroom_id is None:
        raise ApiError(400, "missing_field", "nothing to update: give 'name' and/or 'classroom_id'")
    course = service().courses.update_course(require_id(course_id, "course_id"), body.name, body.classroom_id)
    return jsonify(to_json(course))


@bp.delete("/<course_id>")
def delete_course(course_id: str) -> Response:
    """Delete a course that has no session yet, with its roster and timetable (409 once it has sessions)."""
    service().courses.delete_course(require_id(course_id, "course_id"))
    return no_content()


@bp.get("/<course_id>/roster")
def roster(course_id: str) -> Response:
    """The students on the course's roster."""
    students = service().courses.roster_of(require_id(course_id, "course_id"))
    return page(students, "students", course_id=course_id)


@bp.post("/<course_id>/roster")
def add_to_roster(course_id: str) -> Response:
    """Put an existing student on the roster (200 if already there)."""
    body = parse_json(RosterAdd)
    added = service().courses.enrol(require_id(course_id, "course_id"), body.student_id)
    response = jsonify({"course_id": course_id, "student_id": body.student_id, "added": added})
    response.status_code = 201 if added else 200
    return response


@bp.delete("/<course_id>/roster/<student_id>")
def remove_from_roster(course_id: str, student_id: str) -> Response:
    """Take a student off the roster (the student and their attendance stay)."""
    service().courses.unenrol(require_id(course_id, "course_id"), require_id(student_id, "student_id"))
    return no_content()


@bp.get("/<course_id>/slots")
def list_slots(course_id: str) -> Response:
    """The course's weekly slots."""
    return jsonify({"slots": to_json(service().timetable.list_slots(require_id(course_id, "course_id")))})


@bp.post("/<course_id>/slots")
def add_slot(course_id: str) -> Response:
    """Add a weekly slot ``{"day": "mon".."sun", "start": "HH:MM", "end": "HH:MM"}`` (school time zone)."""
    body = parse_json(SlotCreate)
    slot = service().timetable.add_slot(require_id(course_id, "course_id"), body.day, body.start, body.end)
    return created(slot, f"/api/courses/{course_id}/slots/{slot.slot_id}")


@bp.delete("/<course_id>/slots/<slot_id>")
def delete_slot(course_id: str, slot_id: str) -> Response:
    """Delete a slot; its sessions that have not started are cancelled."""
    cancelled = service().timetable.delete_slot(require_id(course_id, "course_id"), require_id(slot_id, "slot_id"))
    return jsonify({"slot_id": slot_id, "sessions_cancelled": cancelled})


@bp.get("/<course_id>/sessions")
def course_sessions(course_id: str) -> Response:
    """The course's sessions, newest first."""
    svc = service()
    svc.courses.get_course(require_id(course_id, "course_id"))
    sessions = [s for s in svc.list_sessions() if s.course_id == course_id]
    return jsonify({"sessions": to_json(sessions)})


@bp.post("/<course_id>/sessions")
def open_course_session(course_id: str) -> Response:
    """Open a session of the course now in its classroom (or schedule one with starts_at/ends_at)."""
    body = parse_json(CourseSessionCreate, allow_empty=True)
    session = service().courses.open_course_session(
        require_id(course_id, "course_id"), body.name, body.starts_at, body.ends_at
    )
    return created(session, f"/api/sessions/{session.session_id}")


@bp.post("/import")
def import_roster() -> Response:
    """Import a roster CSV (``student_id,name,email,course``; the raw body, or multipart field
    ``file``). ``?apply=1`` carries it out; without it, the answer is only the preview."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing_field", "send the roster CSV as the body or as the multipart field 'file'")
    apply = request.args.get("apply", "") in ("1", "true", "yes")
    return jsonify(service().roster_import.run(data, apply=apply, actor=actor()))


@bp.get("/<course_id>/export.csv")
def export_csv(course_id: str) -> Response:
    """The course's term (``?from=YYYY-MM-DD&to=YYYY-MM-DD``) as CSV."""
    text = service().reports.course_csv(require_id(course_id, "course_id"), *_span())
    return download(text, "text/csv", f"attendance-{course_id}.csv")


@bp.get("/<course_id>/export.xlsx")
def export_xlsx(course_id: str) -> Response:
    """The course's term as an XLSX workbook."""
    data = service().reports.course_xlsx(require_id(course_id, "course_id"), *_span())
    mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return download(data, mimetype, f"attendance-{course_id}.xlsx")


@bp.get("/<course_id>/report")
def course_report(course_id: str) -> Response:
    """The course's term as JSON (sessions, students, states, rates)."""
    return jsonify(service().reports.course_table(require_id(course_id, "course_id"), *_span()))


def _span() -> tuple[str | None, str | None]:
    return request.args.get("from") or None, request.args.get("to") or None


@bp.post("/<course_id>/slots/import")
def import_slots(course_id: str) -> Response:
    """Add the weekly recurring events of an iCalendar file (raw body or multipart ``file``) as slots."""
    from cloud.ics_import import import_ics

    upload = request.files.get("file")
    data = upload.read() if upload is not None else request.get_data(cache=False)
    if not data:
        raise ApiError(400, "missing_field", "send the .ics calendar as the body or as the multipart field 'file'")
    return jsonify(import_ics(service().timetable, require_id(course_id, "course_id"), data))
