"""JSON error responses for every failure the HTTP layer can meet.

Clients always get ``{"error": {"code": str, "message": str}}`` with a proper
status code, never an HTML page or a stack trace. Unexpected exceptions are
logged server-side (JSON, with the traceback) and answered with a 500.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from cloud.errors import CloudError


class ApiError(Exception):
    """An error raised by the HTTP layer itself (bad JSON, wrong content type...)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one JSON shape of every error answer."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_code(exc: HTTPException) -> str:
    name = (exc.name or "error").lower()
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def _http_message(exc: HTTPException, app: Flask) -> str:
    status = exc.code or 500
    if status == 413:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return f"request body larger than the {limit}-byte limit" if limit else "request body too large"
    if status == 405:
        allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
        return f"method {request.method} not allowed on {request.path}" + (f" (allowed: {allowed})" if allowed else "")
    if status == 404:
        return f"no such resource: {request.path}"
    # Werkzeug descriptions are plain sentences, safe to show.
    return (exc.description or exc.name or "error").strip()


def register_error_handlers(app: Flask, logger: logging.Logger) -> None:
    """Install handlers so no error ever leaves as HTML or a traceback."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(CloudError)
    def _service_error(exc: CloudError) -> Response:
        # NotFound 404, Conflict 409, InvalidInput/EnrolmentError 422, RecognitionUnavailable 503.
        status = int(getattr(exc, "http_status", 500))
        if status >= 500 and status != 503:
            return _unexpected(exc)
        return error_response(status, exc.code, str(exc) or exc.code.replace("_", " "))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        headers: dict[str, str] = {}
        valid_methods = getattr(exc, "valid_methods", None)
        if exc.code == 405 and valid_methods:
            headers["Allow"] = ", ".join(valid_methods)
        return error_response(exc.code or 500, _http_code(exc), _http_message(exc, app), headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        extra: dict[str, Any] = {
            "event": "http_unhandled_error",
            "incident": incident,
            "method": request.method,
            "path": request.path,
            "error_type": type(exc).__name__,
        }
        logger.error("", exc_info=exc, extra=extra)
        return error_response(500, "internal_error", f"internal server error (incident {incident}, see server log)")
