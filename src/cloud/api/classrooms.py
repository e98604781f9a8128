"""Classrooms: ``/api/classrooms``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .context import created, service, to_json
from .pagination import page
from .validation import ClassroomCreate, parse_json, require_id

bp = Blueprint("classrooms", __name__, url_prefix="/api/classrooms")


@bp.get("")
def list_classrooms() -> Response:
    """Classrooms, a page at a time (``?limit=&cursor=``)."""
    return page(service().list_classrooms(), "classrooms")


@bp.post("")
def create_classroom() -> Response:
    """Create a classroom from ``{"classroom_id", "name"}``."""
    body = parse_json(ClassroomCreate)
    classroom = service().create_classroom(body.classroom_id, body.name)
    return created(classroom, f"/api/classrooms/{body.classroom_id}")


@bp.get("/<classroom_id>")
def get_classroom(classroom_id: str) -> Response:
    """One classroom, with its open session (or null)."""
    svc = service()
    classroom = to_json(svc.get_classroom(require_id(classroom_id, "classroom_id")))
    return jsonify({"classroom": classroom, "current_session": to_json(svc.current_session(classroom_id))})
