"""Attendance states of a session and the teacher's marks, and reports:
``/api/sessions/<id>/roll``, ``/api/sessions/<id>/marks``, ``/api/reports/...``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from .context import service, to_json
from .teacher_support import actor
from .validation import SafeId, _Body, parse_json, require_id

bp = Blueprint("teacher_reports", __name__)


class MarkCreate(_Body):
    student_id: SafeId
    state: str
    reason: str


@bp.get("/api/sessions/<session_id>/roll")
def roll(session_id: str) -> Response:
    """Every roster student of the session with a ``state``, visitors, counts, emotions."""
    return jsonify(service().roll.roll(require_id(session_id, "session_id")).to_dict())


@bp.get("/api/sessions/<session_id>/marks")
def marks(session_id: str) -> Response:
    """Every change a teacher made in the session (who, when, why), oldest first."""
    return jsonify({"marks": to_json(service().roll.history(require_id(session_id, "session_id")))})


@bp.post("/api/sessions/<session_id>/marks")
def mark(session_id: str) -> Response:
    """Set a student's state: ``{"student_id", "state": present_manual|late|excused|absent, "reason"}``."""
    body = parse_json(MarkCreate)
    line = service().roll.mark(
        require_id(session_id, "session_id"), body.student_id, body.state, body.reason, actor(), request.remote_addr
    )
    response = jsonify(line.to_dict())
    response.status_code = 201
    return response


@bp.get("/api/reports/students/<student_id>")
def student_report(student_id: str) -> Response:
    """A student's attendance (``?from=YYYY-MM-DD&to=YYYY-MM-DD``): sessions, counts, rate."""
    report = service().reports.student_report(
        require_id(student_id, "student_id"), request.args.get("from") or None, request.args.get("to") or None
    )
    return jsonify(report)
