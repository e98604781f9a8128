"""``rollcall-rekognition``: run the local Rekognition-compatible service."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from typing import Any

from common.logs import log_event, setup_logging
from common.metrics import PeriodicReporter
from common.settings import CommonSettings
from common.settings_base import ConfigError, load_settings

from .models import ModelError, resolve_models
from .settings import RekognitionSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall-rekognition",
        description=(
            "Local AWS Rekognition-compatible face service (YuNet detection, dlib ResNet embeddings). "
            "Point boto3 at it with endpoint_url=http://HOST:PORT. Settings come from ROLLCALL_REKOG_* "
            "environment variables or the [rekognition] section of ROLLCALL_CONFIG_FILE; flags override them."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the HTTP API (waitress) until SIGINT/SIGTERM")
    serve.add_argument("--host", help="interface to bind (default ROLLCALL_REKOG_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default ROLLCALL_REKOG_PORT, 9000)")
    serve.add_argument("--data-dir", help="SQLite directory (default ROLLCALL_REKOG_DATA_DIR)")
    serve.add_argument("--models-dir", help="YuNet model directory (default ROLLCALL_REKOG_MODELS_DIR)")
    models = sub.add_parser("models", help="locate (and fetch if missing) the model files, print their paths")
    models.add_argument("--models-dir", help="YuNet model directory (default ROLLCALL_REKOG_MODELS_DIR)")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    names = {"host": "host", "port": "port", "data_dir": "data_dir", "models_dir": "models_dir"}
    return {field: getattr(args, attr) for attr, field in names.items() if getattr(args, attr, None) is not None}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rollcall-rekognition``."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(RekognitionSettings, **_overrides(args))
        common = load_settings(CommonSettings)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "models":
        try:
            paths = resolve_models(settings)
        except ModelError as exc:
            print(f"model error: {exc}", file=sys.stderr)
            return 1
        print(json.dumps({k: str(v) for k, v in vars(paths).items()}, indent=2))
        return 0
    return serve(settings, common)


def serve(settings: RekognitionSettings, common: CommonSettings) -> int:
    """Load models, bind and serve until a signal arrives."""
    from .app import RunningServer, build  # heavy imports (dlib) only when serving

    logger = setup_logging("rekognition", common)
    try:
        components = build(settings, logger)
        server = RunningServer(components, settings.host, settings.port, settings.threads)
    except ModelError as exc:
        log_event(logger, "startup_failed", level=40, reason="models", detail=str(exc))
        print(f"model error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        log_event(logger, "startup_failed", level=40, reason="bind", detail=str(exc))
        print(f"cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    reporter = PeriodicReporter(components.app.metrics, logger, common.metrics_interval_s).start()

    def _stop(signum: int, _frame: Any) -> None:
        log_event(logger, "stopping", signal=signum)
        server.close_sockets()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if not settings.access_keys:
        log_event(
            logger,
            "access_unauthenticated" if settings.allow_anonymous else "access_closed",
            level=logging.WARNING,
            detail="ROLLCALL_REKOG_ALLOW_ANONYMOUS=true: ANY caller may list, index and delete faces"
            if settings.allow_anonymous
            else "no ROLLCALL_REKOG_ACCESS_KEYS (AKID:SECRET): every call is refused",
        )
    from .service import EMOTIONS_NOTICE

    log_event(logger, "emotions_unsupported", level=logging.WARNING, detail=EMOTIONS_NOTICE)
    log_event(
        logger,
        "listening",
        host=settings.host,
        port=server.port,
        data_dir=str(settings.data_dir),
        access_keys=len(settings.access_keys),
        allow_anonymous=settings.allow_anonymous and not settings.access_keys,
        workers=settings.inference_workers,
        embedding_processes=settings.embedding_processes,
    )
    try:
        server.run()
    finally:
        server.server.task_dispatcher.shutdown(timeout=5)
        reporter.stop()
        components.engine.close()
        components.store.close()
        log_event(logger, "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
