"""WSGI application speaking AWS JSON 1.1 as boto3 sends it, and the waitress server around it.

``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>`` and a JSON
body; errors as ``{"__type": code, "message": ...}`` plus the
``x-amzn-ErrorType`` header, so botocore raises ``ClientError`` with that code.
``GET /health`` answers ``{"status": "ok", ...}`` for container healthchecks, with ``emotions: false``
and ``emotions_detail``: this service returns no emotions.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from common.logs import log_event
from common.metrics import Metrics

from .auth import AccessChecker
from .engine import FaceEngine
from .errors import ImageTooLarge, InternalServerError, RekognitionError, Serialization, UnknownOperation
from .models import resolve_models
from .service import EMOTIONS_NOTICE, EMOTIONS_SUPPORTED, FACE_MODEL_VERSION, RekognitionService
from .settings import RekognitionSettings
from .store import FaceStore

TARGET_PREFIX = "RekognitionService."
TRACE_HEADER = "HTTP_X_ROLLCALL_TRACE_ID"  # optional X-Rollcall-Trace-Id: logged as trace_id
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

StartResponse = Callable[..., Any]


class RekognitionApp:
    """The WSGI callable: protocol, access check, per-request log line and metrics."""

    def __init__(
        self,
        service: RekognitionService,
        settings: RekognitionSettings,
        logger: logging.Logger,
        metrics: Metrics | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.logger = logger
        self.metrics = metrics if metrics is not None else Metrics()
        self.access = AccessChecker(settings.access_keys, allow_anonymous=settings.allow_anonymous)
        # base64 inflates by 4/3; leave room for the JSON around the image
        self.max_body = settings.max_image_bytes * 4 // 3 + 64 * 1024

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if method == "GET" and path == "/health":
            health = {
                "status": "ok",
                "face_model_version": FACE_MODEL_VERSION,
                "emotions": EMOTIONS_SUPPORTED,
                "emotions_detail": EMOTIONS_NOTICE,
            }
            return self._reply(start_response, "200 OK", health)
        if method == "GET" and path == "/metrics":
            return self._reply(start_response, "200 OK", self.metrics.snapshot())
        if method != "POST" or path != "/":
            return self._reply(
                start_response,
                "404 Not Found",
                {"__type": "UnknownOperationException", "message": f"{method} {path} is not supported"},
                error="UnknownOperationException",
            )
        return self._rpc(environ, start_response)

    def _rpc(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        requested = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        # Metric names and log fields only ever carry a supported operation: a caller's made-up
        # X-Amz-Target must not create new metrics (memory) or put arbitrary text in the logs.
        operation = requested if requested in self.service.operations else "unsupported"
        status, body, error_code = 200, None, None
        try:
            self.access.check_key(environ)
            raw = self._read_body(environ)
            self.access.check_signature(environ, raw)
            if operation == "unsupported":
                raise UnknownOperation(f"Operation {target[:100] or '(no X-Amz-Target)'} is not supported")
            body = self.service.handle(operation, self._parse_json(raw))
        except RekognitionError as exc:
            status, body, error_code = exc.status, exc.body(), exc.code
        except Exception as exc:  # deliberately broad: answered as InternalServerError, logged with traceback
            err = InternalServerError(f"Internal error ({type(exc).__name__})")
            status, body, error_code = err.status, err.body(), err.code
            self.logger.exception(
                "unhandled error in %s", operation, extra={"event": "request_failed", "request_id": request_id}
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.metrics.inc("requests")
        self.metrics.observe(f"ms.{operation}", elapsed_ms)
        if error_code:
            self.metrics.inc(f"errors.{error_code}")
        log_event(
            self.logger,
            "request",
            level=logging.INFO if status < 500 else logging.ERROR,
            operation=operation,
            status=status,
            ms=round(elapsed_ms, 2),
            error_code=error_code,
            request_id=request_id,
            trace_id=(environ.get(TRACE_HEADER) or None) and str(environ[TRACE_HEADER])[:64],
        )
        reason = {200: "200 OK", 400: "400 Bad Request", 403: "403 Forbidden", 500: "500 Internal Server Error"}.get(
            status, f"{status} Error"
        )
        return self._reply(start_response, reason, body, request_id=request_id, error=error_code)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise Serialization("Invalid Content-Length") from None
        if length > self.max_body:
            raise ImageTooLarge(
                f"Request of {length} bytes exceeds the limit (images up to {self.settings.max_image_bytes} bytes)"
            )
        return environ["wsgi.input"].read(length) if length else b""

    @staticmethod
    def _parse_json(raw: bytes) -> dict[str, Any]:
        if not raw.strip():
            return {}
        try:
            params = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise Serialization("Request body is not valid JSON") from None
        except RecursionError:  # nested deeper than the parser's recursion limit (~1000 levels)
            raise Serialization("Request body is nested too deeply") from None
        if not isinstance(params, dict):
            raise Serialization("Request body must be a JSON object")
        return params

    @staticmethod
    def _reply(
        start_response: StartResponse, status: str, body: Any, request_id: str | None = None, error: str | None = None
    ) -> list[bytes]:
        payload = json.dumps(body, separators=(",", ":")).encode()
        headers = [("Content-Type", JSON_CONTENT_TYPE), ("Content-Length", str(len(payload)))]
        if request_id:
            headers.append(("x-amzn-RequestId", request_id))
        if error:
            headers.append(("x-amzn-ErrorType", error))
        start_response(status, headers)
        return [payload]


class AwsErrorTask(ErrorTask):
    """waitress's own refusals (body over ``max_request_body_size``, malformed HTTP) in AWS's JSON
    error shape instead of waitress's plain text: an oversize body is ``ImageTooLargeException``
    (HTTP 400, as the service's own size check), anything else ``SerializationException``."""

    def execute(self) -> None:
        error = self.request.error
        too_large = getattr(error, "code", 0) == 413
        code = "ImageTooLargeException" if too_large else "SerializationException"
        detail = str(getattr(error, "body", "") or getattr(error, "reason", "bad request"))[:200]
        message = f"Request body exceeds the limit ({detail})" if too_large else f"Malformed HTTP request ({detail})"
        payload = json.dumps({"__type": code, "message": message}, separators=(",", ":")).encode()
        self.status = "400 Bad Request"
        self.response_headers.extend(
            [("Content-Type", JSON_CONTENT_TYPE), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", str(uuid.uuid4()))]
        )
        self.set_close_on_finish()
        self.content_length = len(payload)
        self.write(payload)


class AwsErrorChannel(HTTPChannel):
    """An HTTP channel whose protocol-level errors are answered by :class:`AwsErrorTask`."""

    error_task_class = AwsErrorTask


@dataclass
class Components:
    """Everything the service runs on, so callers can close it."""

    app: RekognitionApp
    service: RekognitionService
    engine: FaceEngine
    store: FaceStore


def build(settings: RekognitionSettings, logger: logging.Logger | None = None) -> Components:
    """Load the models, open the store and assemble the WSGI app (raises ModelError if models are missing)."""
    logger = logger or logging.getLogger("rollcall.rekognition")
    paths = resolve_models(settings)
    metrics = Metrics()  # shared by the HTTP front (requests, errors) and the engine (faces_below_min_size)
    engine = FaceEngine(
        paths,
        settings.inference_workers,
        settings.detect_max_side,
        settings.detect_score_threshold,
        processes=settings.embedding_processes,
        min_face_px=settings.min_face_px,
        metrics=metrics,
    )
    store = FaceStore(settings.data_dir)
    service = RekognitionService(settings, engine, store)
    return Components(RekognitionApp(service, settings, logger, metrics), service, engine, store)


class RunningServer:
    """A waitress server running in a background thread (tests, benchmarks) or in the foreground (CLI)."""

    def __init__(self, components: Components, host: str, port: int, threads: int) -> None:
        self.components = components
        self.server = create_server(
            components.app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=components.app.max_body + 1024 * 1024,
            ident="rollcall-rekognition",
            clear_untrusted_proxy_headers=True,
        )
        self.server.channel_class = AwsErrorChannel
        self.host = host
        self.port = int(self.server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RunningServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="rekognition-http", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """Serve in the calling thread until :meth:`close_sockets` (or :meth:`stop`)."""
        try:
            self.server.run()
        except (OSError, ValueError):
            pass  # sockets closed under the loop during shutdown

    def close_sockets(self) -> None:
        """Close the listening socket and every open connection, so the loop ends."""
        self.server.close()
        wasyncore.close_all(self.server._map)  # keep-alive client channels too

    def stop(self) -> None:
        """Stop serving, finish running requests and close the store."""
        self.close_sockets()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.server.task_dispatcher.shutdown(timeout=5)
        self.components.engine.close()
        self.components.store.close()
