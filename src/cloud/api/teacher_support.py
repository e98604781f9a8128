"""Helpers of the teacher endpoints: who is asking, and file downloads."""

from __future__ import annotations

from flask import Response


def actor() -> str:
    """Who is asking, for the audit trail: ``user:<name>`` (login) or ``token:<name>`` (API token)."""
    from ..auth.guard import current_actor  # lazy: the auth package imports the API's error helpers

    return current_actor()


def download(data: str | bytes, mimetype: str, filename: str) -> Response:
    """An attachment answer that is never cached."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
