"""Flask application factory for the cloud tier's HTTP API and dashboard."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Flask, Response

from common.settings_base import load_settings

from .api import register_api
from .api.context import EXTENSION_KEY
from .audit import AUDIT_FILE, AuditLog
from .auth import install_auth
from .auth.setup import build_accounts
from .settings import CloudSettings
from .web import bp as dashboard_bp

if TYPE_CHECKING:
    from .auth.accounts import Accounts
    from .service import AttendanceService

_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _audit_log(service: AttendanceService, settings: CloudSettings) -> AuditLog:
    privacy = getattr(service, "privacy", None)
    return privacy.audit if privacy is not None else AuditLog(settings.data_dir / AUDIT_FILE)


def create_app(
    service: AttendanceService | None = None,
    settings: CloudSettings | None = None,
    accounts: Accounts | None = None,
) -> Flask:
    """Build the Flask app around ``service`` (built from ``settings`` when not given), with login
    required everywhere (see :mod:`cloud.auth`); ``accounts`` default to the settings' backend."""
    settings = settings or load_settings(CloudSettings)
    if service is None:
        from .bootstrap import build_service

        service = build_service(settings)

    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]  # DefaultJSONProvider has it; the base provider type lacks it
    app.extensions[EXTENSION_KEY] = {"service": service, "settings": settings}

    logger = logging.getLogger("rollcall.cloud.http")
    register_api(app, logger)
    app.register_blueprint(dashboard_bp)
    svc = service
    install_auth(app, settings, accounts or build_accounts(settings, lambda: _audit_log(svc, settings)))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
        return response

    return app
