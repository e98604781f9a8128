"""Class sessions and their attendance: ``/api/sessions``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cloud.records import SESSION_STATUSES

from .context import created, service, to_json
from .errors import ApiError
from .pagination import page
from .validation import SessionCreate, parse_json, require_id

bp = Blueprint("sessions", __name__, url_prefix="/api/sessions")


@bp.get("")
def list_sessions() -> Response:
    """Sessions, optionally filtered by ``classroom_id`` and ``status`` (scheduled|open|closed),
    a page at a time (``?limit=&cursor=``)."""
    classroom_id = request.args.get("classroom_id") or None
    status = request.args.get("status") or None
    if classroom_id is not None:
        require_id(classroom_id, "classroom_id")
    if status is not None and status not in SESSION_STATUSES:
        raise ApiError(
            422, "invalid_field", f"status must be one of {', '.join(SESSION_STATUSES)}, not {status[:20]!r}"
        )
    sessions = service().list_sessions(classroom_id=classroom_id, status=status)
    return page(sessions, "sessions")


@bp.post("")
def open_session() -> Response:
    """Open a session now, or schedule one with ``starts_at``/``ends_at`` (ISO 8601)."""
    body = parse_json(SessionCreate)
    session = to_json(
        service().open_session(body.classroom_id, name=body.name, starts_at=body.starts_at, ends_at=body.ends_at)
    )
    return created(session, f"/api/sessions/{session.get('session_id', '')}")


@bp.get("/<session_id>")
def get_session(session_id: str) -> Response:
    """One session."""
    return jsonify(to_json(service().get_session(require_id(session_id, "session_id"))))


@bp.post("/<session_id>/close")
def close_session(session_id: str) -> Response:
    """Close an open session."""
    return jsonify(to_json(service().close_session(require_id(session_id, "session_id"))))


@bp.get("/<session_id>/attendance")
def attendance(session_id: str) -> Response:
    """The session, one record per student seen in it, and (``students``) every roster student
    with a ``state`` plus the visitors and counts (:mod:`cloud.attendance_states`)."""
    svc = service()
    roll = svc.roll.roll(require_id(session_id, "session_id")).to_dict()
    return jsonify({**roll, "records": to_json(svc.attendance_for_session(session_id))})


@bp.get("/<session_id>/attendance.csv")
def attendance_csv(session_id: str) -> Response:
    """The attendance as a CSV download."""
    text = service().export_csv(require_id(session_id, "session_id"))
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="attendance-{session_id}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
