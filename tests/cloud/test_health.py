"""cloud.health.ServiceMonitor: metrics (with sources and ended streams) and health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloud.errors import RecognitionUnavailable
from cloud.health import ServiceMonitor
from common.protocol import Header, MessageType

from .conftest import ImageMatchRecognizer
from .domain_support import T0, make_deps


@pytest.fixture
def monitor(tmp_path: Path) -> ServiceMonitor:
    return ServiceMonitor(make_deps(tmp_path, ImageMatchRecognizer()), "sqlite", "http://127.0.0.1:9000")


def test_metrics_include_sources_and_ended_streams(monitor: ServiceMonitor) -> None:
    monitor.add_metrics_source("ingest", lambda: {"queue": 3})

    def broken() -> dict[str, Any]:
        raise RuntimeError("gone")

    monitor.add_metrics_source("broken", broken)
    monitor.note_end_of_stream(Header(type=MessageType.END_OF_STREAM, camera_id="cam-1", classroom_id="room-1", seq=9))
    snapshot = monitor.metrics()
    assert snapshot["ingest"] == {"queue": 3} and snapshot["broken"] == {"error": "gone"}
    assert snapshot["streams_ended"]["cam-1"]["last_seq"] == 9
    assert snapshot["streams_ended"]["cam-1"]["ended_ms"] == T0
    assert snapshot["counters"]["streams_ended"] == 1


def test_health_ok_degraded_and_cached(monitor: ServiceMonitor, monkeypatch: pytest.MonkeyPatch) -> None:
    health = monitor.health()
    assert health["status"] == "ok" and health["storage"] == {"ok": True, "backend": "sqlite"}
    assert health["rekognition"]["endpoint"] == "http://127.0.0.1:9000"

    def down() -> dict[str, Any]:
        raise RecognitionUnavailable("no_credentials")

    monkeypatch.setattr(monitor.deps.recognizer, "describe_collection", down)
    assert monitor.health()["status"] == "ok"  # the Rekognition answer is cached for a few seconds
    monitor._health_cache = None
    degraded = monitor.health()
    assert degraded["status"] == "degraded" and degraded["rekognition"]["detail"] == "no_credentials"

    def storage_down() -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(monitor.deps.store, "ping", storage_down)
    assert monitor.health()["storage"] == {"ok": False, "backend": "sqlite", "detail": "disk gone"}
