"""Faces the recognizer did not know, for a teacher to review; evidence images."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cloud.records import UNKNOWN_STATUSES
from common.images import image_kind

from .context import service, to_json
from .errors import ApiError
from .pagination import page
from .validation import UnknownAssign, parse_json, require_id

bp = Blueprint("unknown_faces", __name__, url_prefix="/api")


@bp.get("/unknown-faces")
def list_unknown() -> Response:
    """Unknown faces, by ``status`` (pending (default), assigned, dismissed or all), a page at a
    time (``?limit=&cursor=``); ``total`` counts every face of that status."""
    status = request.args.get("status") or "pending"
    if status not in (*UNKNOWN_STATUSES, "all"):
        allowed = ", ".join((*UNKNOWN_STATUSES, "all"))
        raise ApiError(422, "invalid_field", f"status must be one of {allowed}, not {status[:20]!r}")
    faces = service().list_unknown_faces(status=None if status == "all" else status)
    return page(faces, "unknown_faces", total=len(faces))


@bp.post("/unknown-faces/<unknown_id>/assign")
def assign_unknown(unknown_id: str) -> Response:
    """Say who an unknown face is (``{"student_id", "enrol"?}``); records attendance."""
    require_id(unknown_id, "unknown_id")
    body = parse_json(UnknownAssign)
    return jsonify(to_json(service().assign_unknown(unknown_id, body.student_id, enrol=body.enrol)))


@bp.post("/unknown-faces/<unknown_id>/dismiss")
def dismiss_unknown(unknown_id: str) -> Response:
    """Mark an unknown face as not a student."""
    return jsonify(to_json(service().dismiss_unknown(require_id(unknown_id, "unknown_id"))))


@bp.get("/evidence/<ref>")
def evidence(ref: str) -> Response:
    """The stored face crop or enrolment photo named by an evidence reference."""
    data = service().get_evidence(ref)
    kind = image_kind(data)
    response = Response(data, mimetype=f"image/{kind}" if kind else "application/octet-stream")
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
