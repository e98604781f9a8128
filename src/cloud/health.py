"""Service metrics (counters, latencies, ended streams, extra sources such as the ingest)
and health (storage, evidence store, Rekognition reachability)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from common.bounded import LruDict
from common.logs import log_event
from common.metrics import TOP_N
from common.protocol import Header

from .deps import ServiceDeps
from .errors import RecognitionUnavailable

log = logging.getLogger("rollcall.cloud.service")

#: How long a Rekognition health answer is reused (seconds).
HEALTH_CACHE_S = 5.0


class ServiceMonitor:
    """``/api/metrics`` and ``/api/health`` figures, and the camera streams that ended."""

    def __init__(self, deps: ServiceDeps, storage_backend: str, rekognition_endpoint: str) -> None:
        self.deps = deps
        self.storage_backend = storage_backend
        self.rekognition_endpoint = rekognition_endpoint
        self._streams_lock = threading.Lock()
        # The last END_OF_STREAM per camera id, the oldest forgotten beyond max_cameras (peers choose ids).
        self._streams: LruDict[str, dict[str, Any]] = LruDict(deps.settings.max_cameras)
        self._metric_sources: dict[str, Callable[[], dict[str, Any]]] = {}
        self._health_cache: tuple[float, dict[str, Any]] | None = None

    def note_end_of_stream(self, header: Header) -> None:
        """Remember that a camera's stream ended (shown in metrics)."""
        with self._streams_lock:
            self._streams[header.camera_id] = {
                "classroom_id": header.classroom_id,
                "ended_ms": self.deps.clock(),
                "last_seq": header.seq,
                "trace_id": header.trace_id,
            }
        self.deps.stats.inc("streams_ended")
        log_event(
            log,
            "end_of_stream",
            trace_id=header.trace_id,
            camera_id=header.camera_id,
            classroom_id=header.classroom_id,
            seq=header.seq,
        )

    def add_metrics_source(self, name: str, source: Callable[[], dict[str, Any]]) -> None:
        """Include ``source()`` under ``name`` in :meth:`metrics` (used by ingest)."""
        self._metric_sources[name] = source

    def metrics(self) -> dict[str, Any]:
        """Counters, latencies, ended streams (the 20 most recent, and how many cameras are
        remembered) and ingest figures."""
        snapshot = self.deps.stats.snapshot()
        with self._streams_lock:
            snapshot["streams_ended"] = {k: dict(v) for k, v in self._streams.newest(TOP_N)}
            snapshot["streams_ended_cameras"] = len(self._streams)
        for name, source in list(self._metric_sources.items()):
            try:
                snapshot[name] = source()
            except Exception as exc:  # a broken source must not break /api/metrics
                snapshot[name] = {"error": str(exc)[:200]}
        return snapshot

    def health(self) -> dict[str, Any]:
        """Storage, evidence store and Rekognition reachability (Rekognition
        result cached for a few seconds)."""
        checks: dict[str, Any] = {}
        try:
            self.deps.store.ping()
            checks["storage"] = {"ok": True, "backend": self.storage_backend}
        except Exception as exc:
            checks["storage"] = {"ok": False, "backend": self.storage_backend, "detail": str(exc)[:200]}
        try:
            self.deps.evidence.ping()
            checks["evidence"] = {"ok": True}
        except Exception as exc:
            checks["evidence"] = {"ok": False, "detail": str(exc)[:200]}
        checks["rekognition"] = self._rekognition()
        checks["status"] = "ok" if all(c["ok"] for c in checks.values() if isinstance(c, dict)) else "degraded"
        return checks

    def _rekognition(self) -> dict[str, Any]:
        cached = self._health_cache
        if cached is not None and time.monotonic() - cached[0] < HEALTH_CACHE_S:
            return cached[1]
        recognizer = self.deps.recognizer
        try:
            info = recognizer.describe_collection()
            rek = {"ok": True, "collection_id": recognizer.collection_id, "face_count": info.get("FaceCount")}
        except RecognitionUnavailable as exc:
            rek = {"ok": False, "collection_id": recognizer.collection_id, "detail": exc.message}
        rek["endpoint"] = self.rekognition_endpoint
        self._health_cache = (time.monotonic(), rek)
        return rek
