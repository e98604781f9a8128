"""Access to the objects the app factory stores on the Flask app."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, current_app, jsonify

if TYPE_CHECKING:
    from cloud.service import AttendanceService

EXTENSION_KEY = "rollcall"


def service() -> AttendanceService:
    """The AttendanceService of the running app."""
    return current_app.extensions[EXTENSION_KEY]["service"]


def to_json(value: Any) -> Any:
    """Turn service results (dataclasses with ``to_dict``, lists of them) into JSON-able values."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def created(value: Any, location: str) -> Response:
    """A 201 answer with the new resource and its URL."""
    response = jsonify(to_json(value))
    response.status_code = 201
    response.headers["Location"] = location
    return response


def no_content() -> Response:
    """A 204 answer."""
    return Response(status=204)
