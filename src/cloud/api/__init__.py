"""The cloud tier's JSON API, one blueprint per resource.

:func:`register_api` installs every blueprint, the JSON error handlers and the
HTTP request counters on a Flask app whose ``extensions["rollcall"]`` holds the
:class:`cloud.service.AttendanceService`.
"""

from __future__ import annotations

import logging

from flask import Flask

from .errors import register_error_handlers
from .http_metrics import install_http_metrics


def register_api(app: Flask, logger: logging.Logger) -> None:
    """Install the API blueprints, error handlers and request metrics on ``app``."""
    from .accounts import bp as accounts_bp
    from .classrooms import bp as classrooms_bp
    from .courses import bp as courses_bp
    from .health import bp as health_bp
    from .reports import bp as reports_bp
    from .sessions import bp as sessions_bp
    from .students import bp as students_bp
    from .unknown_faces import bp as unknown_bp

    for blueprint in (health_bp, students_bp, classrooms_bp, sessions_bp, unknown_bp, accounts_bp):
        app.register_blueprint(blueprint)
    for blueprint in (courses_bp, reports_bp):  # teacher workflows (issue 14)
        app.register_blueprint(blueprint)
    register_error_handlers(app, logger)
    install_http_metrics(app)
