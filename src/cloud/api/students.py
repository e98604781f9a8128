"""Students and their enrolment photos: ``/api/students``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cloud.auth import admin_only, current_actor

from .context import created, no_content, service, to_json
from .errors import ApiError
from .pagination import page
from .uploads import read_photo_upload
from .validation import StudentCreate, StudentUpdate, parse_json, require_id

bp = Blueprint("students", __name__, url_prefix="/api/students")


@bp.get("")
def list_students() -> Response:
    """Students, a page at a time (``?limit=&cursor=``)."""
    return page(service().list_students(), "students")


@bp.post("")
def create_student() -> Response:
    """Create a student from ``{"student_id", "name", "email"?}``."""
    body = parse_json(StudentCreate)
    student = service().create_student(body.student_id, body.name, email=body.email)
    return created(student, f"/api/students/{body.student_id}")


@bp.get("/<student_id>")
def get_student(student_id: str) -> Response:
    """One student."""
    return jsonify(to_json(service().get_student(require_id(student_id, "student_id"))))


@bp.patch("/<student_id>")
def update_student(student_id: str) -> Response:
    """Change a student's name and/or email."""
    require_id(student_id, "student_id")
    body = parse_json(StudentUpdate)
    if body.name is None and body.email is None:
        raise ApiError(400, "missing_field", "nothing to update: give 'name' and/or 'email'")
    student = service().update_student(student_id, name=body.name, email=body.email)
    return jsonify(to_json(student))


@bp.delete("/<student_id>")
@admin_only
def delete_student(student_id: str) -> Response:
    """Erase a student (admin only): their faces, enrolment photos and crops, audited with the
    acting user or token and the peer address; attendance rows stay."""
    service().delete_student(require_id(student_id, "student_id"), actor=current_actor(), peer=request.remote_addr)
    return no_content()


@bp.get("/<student_id>/photos")
def list_photos(student_id: str) -> Response:
    """The faces enrolled for a student."""
    faces = service().list_faces(require_id(student_id, "student_id"))
    return jsonify({"faces": to_json(faces)})


@bp.post("/<student_id>/photos")
def enrol_photo(student_id: str) -> Response:
    """Enrol one photo (multipart field ``photo`` or a raw JPEG/PNG body)."""
    require_id(student_id, "student_id")
    image = read_photo_upload()
    enrolment = to_json(service().enrol_photo(student_id, image))
    face_id = enrolment.get("face_id", "") if isinstance(enrolment, dict) else ""
    return created(enrolment, f"/api/students/{student_id}/photos/{face_id}")


@bp.delete("/<student_id>/photos/<face_id>")
def remove_photo(student_id: str, face_id: str) -> Response:
    """Remove one enrolled face."""
    service().remove_face(require_id(student_id, "student_id"), require_id(face_id, "face_id"))
    return no_content()


@bp.get("/<student_id>/attendance")
def student_attendance(student_id: str) -> Response:
    """Every attendance record of one student."""
    svc = service()
    student = svc.get_student(require_id(student_id, "student_id"))
    return jsonify({"student": to_json(student), "records": to_json(svc.attendance_for_student(student_id))})
