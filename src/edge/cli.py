"""``rollcall-edge``: run the edge tier until SIGTERM / Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import zmq

from common.logs import log_event, setup_logging
from common.memory import limit_malloc_arenas
from common.settings import CommonSettings
from common.settings_base import ConfigError, load_settings

from .detection import DetectorConfigError
from .models import ModelError
from .settings import EdgeSettings


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="rollcall-edge",
        description="Rollcall edge tier: receives camera frames over ZeroMQ (PULL, ROLLCALL_EDGE_BIND), detects people "
        "(YOLO) and their faces (YuNet), tracks them and sends only face crops to the cloud (DEALER, "
        "ROLLCALL_EDGE_CLOUD_ADDRESS). All settings are ROLLCALL_EDGE_* environment variables or the [edge] section "
        "of the TOML file named by ROLLCALL_CONFIG_FILE; see docs/edge.md. Stops cleanly on SIGTERM.",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rollcall-edge``."""
    build_parser().parse_args(argv)
    try:
        common = load_settings(CommonSettings)
        settings = load_settings(EdgeSettings)
    except ConfigError as exc:
        print(f"rollcall-edge: {exc}", file=sys.stderr)
        return 2
    log = setup_logging("edge", common)
    log_event(log, "malloc_arenas", cap=limit_malloc_arenas())  # before any worker thread starts
    from .service import EdgeService  # after logging: imports ONNX Runtime / OpenCV

    try:
        service = EdgeService(settings, logger=log, metrics_interval_s=common.metrics_interval_s)
    except (ModelError, DetectorConfigError, RuntimeError) as exc:
        log_event(log, "edge_start_failed", level=40, error=str(exc))
        print(f"rollcall-edge: {exc}", file=sys.stderr)
        return 1
    except zmq.ZMQError as exc:  # port taken, malformed address, ...
        detail = f"cannot open ZeroMQ sockets (bind {settings.bind}, cloud {settings.cloud_address}): {exc}"
        log_event(log, "edge_start_failed", level=40, error=detail)
        print(f"rollcall-edge: {detail}", file=sys.stderr)
        return 1

    def on_signal(signum: int, _frame: object) -> None:
        log_event(log, "signal", signal=signal.Signals(signum).name)
        # The handler runs in the main thread, possibly inside service.wait() while that holds the
        # stop event's internal (non-reentrant) lock: setting the event right here can deadlock.
        # A helper thread sets it once the main thread has let go of the lock.
        threading.Thread(target=service._stop.set, name="edge-signal", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    service.start()
    service.wait()
    service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
