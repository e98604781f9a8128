"""Helpers of the teacher endpoints: who is asking, and file downloads."""

from __future__ import annotations

from flask import Response


def actor() -> str:
    """The signed-in user's id when the app has logins (Flask-Login), else ``"api"``."""
    try:
        from flask_login import current_user  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "api"
    try:
        if current_user and current_user.is_authenticated:
            return str(current_user.get_id())[:100]
    except Exception:  # no login manager on this app
        return "api"
    return "api"


def download(data: str | bytes, mimetype: str, filename: str) -> Response:
    """An attachment answer that is never cached."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
