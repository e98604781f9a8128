"""``GET /api/health`` and ``GET /api/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .context import service, to_json
from .http_metrics import http_metrics

bp = Blueprint("health", __name__, url_prefix="/api")


#: Checks without which the API cannot answer at all (503). Rekognition being
#: down only degrades the service: the dashboard and history still work.
CRITICAL_CHECKS = ("storage", "evidence")


@bp.get("/health")
def health() -> Response:
    """Service health: 200 ``ok`` / ``degraded`` (recognition down), 503 when storage is down."""
    report = to_json(service().health())
    response = jsonify(report)
    if any(isinstance(report.get(name), dict) and not report[name].get("ok", True) for name in CRITICAL_CHECKS):
        response.status_code = 503
    return response


@bp.get("/metrics")
def metrics() -> Response:
    """Service metrics plus HTTP request counters."""
    return jsonify({"service": to_json(service().metrics()), "http": http_metrics().snapshot()})
