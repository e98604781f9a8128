"""``rollcall-iot``: stream one or more cameras to the edge.

Settings come from ``ROLLCALL_IOT_*`` environment variables or the ``[iot]``
section of ``ROLLCALL_CONFIG_FILE``; command-line flags override both.
Exit status: 0 when every stream ended or the process was stopped (SIGTERM /
SIGINT), 1 when a source failed, 2 for a configuration error.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

from common.logs import log_event, setup_logging
from common.settings import CommonSettings
from common.settings_base import ConfigError, load_settings

from .runner import Runner
from .settings import IotSettings, camera_configs, load_iot_settings

#: flag dest -> settings field, for flags that override settings.
_OVERRIDES = {
    "source": "--source",
    "camera_id": "--camera-id",
    "classroom_id": "--classroom-id",
    "fps": "--fps",
    "edge_address": "--edge-address",
    "loop": "--loop",
    "realtime": "--realtime",
    "replicate": "--replicate",
    "max_frames": "--max-frames",
    "max_width": "--max-width",
    "jpeg_quality": "--jpeg-quality",
    "motion_gate": "--motion-gate",
    "motion_threshold": "--motion-threshold",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall-iot",
        description="Capture frames (webcam, video file, RTSP/HTTP stream or image folder), rate-limit them "
        "and push them to the Rollcall edge over ZeroMQ. Flags override ROLLCALL_IOT_* variables and the "
        "[iot] section of ROLLCALL_CONFIG_FILE. See docs/iot.md.",
    )
    add = parser.add_argument
    add("--source", help="webcam index (0), video file, rtsp://... / http://... URL, or image folder")
    add("--camera-id", help="camera id in message headers (with --replicate: <id>-<k>)")
    add("--classroom-id", help="classroom the camera belongs to")
    add("--fps", type=float, help="max frames per second sent per camera (0 = no cap; default 1)")
    add("--edge-address", help="edge PULL address, e.g. tcp://127.0.0.1:5555")
    add("--loop", action=argparse.BooleanOptionalAction, default=None, help="restart files/folders at the end")
    add(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="replay files at native speed (default) or as fast as possible (--no-realtime)",
    )
    add("--replicate", type=int, help="load generator: run every camera N times as <camera_id>-<k>")
    add("--max-frames", type=int, help="stop each camera after N frames (then END_OF_STREAM); 0 = unbounded")
    add("--max-width", type=int, help="downscale frames wider than this (0 = never)")
    add("--jpeg-quality", type=int, help="JPEG quality 1-100")
    add("--motion-gate", action=argparse.BooleanOptionalAction, default=None, help="send only frames with motion")
    add("--motion-threshold", type=float, help="fraction of pixels that must change for the motion gate")
    add("--print-config", action="store_true", help="print the resolved cameras as JSON and exit")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _OVERRIDES if getattr(args, name) is not None}


def _explain(error: ConfigError, overrides: dict[str, Any]) -> str:
    """Name the flag as well as the variable when a flag set the bad value."""
    text = str(error)
    for name in overrides:
        var = IotSettings.env_name(name)
        text = text.replace(f"  {var}:", f"  {_OVERRIDES[name]} ({var}):")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rollcall-iot``; returns the exit status."""
    args = build_parser().parse_args(argv)
    overrides = _overrides(args)
    try:
        common = load_settings(CommonSettings)
        settings = load_iot_settings(**overrides)
        cameras = camera_configs(settings)
    except ConfigError as exc:
        print(f"rollcall-iot: configuration error\n{_explain(exc, overrides)}", file=sys.stderr)
        return 2
    if args.print_config:
        import json
        from dataclasses import asdict

        rows = [{**asdict(c), "source": c.source.describe()} for c in cameras]
        print(json.dumps(rows, indent=2))
        return 0

    logger = setup_logging("iot", common)
    try:
        runner = Runner(settings, logger, metrics_interval_s=common.metrics_interval_s, cameras=cameras)
    except ConfigError as exc:  # CurveZMQ keys missing or not registered for a camera
        print(f"rollcall-iot: {exc}", file=sys.stderr)
        return 2

    def on_signal(signum: int, _frame: Any) -> None:
        log_event(logger, "shutdown_requested", signal=signal.Signals(signum).name)
        runner.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())
