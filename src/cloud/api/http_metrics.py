"""HTTP request counters and latencies, reported by ``GET /api/metrics``."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, g, request

from common.logs import log_event
from common.metrics import Metrics

from .context import EXTENSION_KEY

_log = logging.getLogger("rollcall.cloud.http")


def _error_code(response: Response) -> str | None:
    if response.mimetype != "application/json":
        return None
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def http_metrics() -> Metrics:
    """The app's HTTP Metrics instance."""
    return current_app.extensions[EXTENSION_KEY]["http_metrics"]


def install_http_metrics(app: Flask) -> None:
    """Count every request by status and endpoint and time it."""
    app.extensions.setdefault(EXTENSION_KEY, {})["http_metrics"] = Metrics()

    @app.before_request
    def _start_timer() -> None:
        g.rollcall_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        metrics = http_metrics()
        endpoint = request.endpoint or "unmatched"
        metrics.inc("http_requests")
        metrics.inc(f"http_status_{response.status_code}")
        metrics.inc(f"http_endpoint_{endpoint}")
        if response.status_code >= 400:
            metrics.inc("http_errors")
            if response.status_code < 500:  # 5xx are logged with their traceback by the error handler
                log_event(
                    _log,
                    "http_client_error",
                    method=request.method,
                    path=request.path[:200],
                    status=response.status_code,
                    endpoint=endpoint,
                    code=_error_code(response),
                )
        started = g.get("rollcall_started")
        if started is not None:
            metrics.observe("http_ms", (time.perf_counter() - started) * 1000)
        return response
