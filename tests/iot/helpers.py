"""Shared helpers for the IoT tests."""

from __future__ import annotations

import logging
import socket

from common.protocol import Message
from iot.camera import CameraPipeline
from iot.settings import camera_configs, load_iot_settings
from iot.source_factory import SourceOptions, build_source
from iot.stoppable_clock import StoppableClock

VIDEO = "video/one-by-one-person-detection.mp4"  # 768x432, 10 fps, 1394 frames
SHORT_GIF = "video/people-detection.gif"  # 480x270, 12.5 fps, 23 frames


class ListSender:
    """Records messages instead of sending them; ``accept=False`` simulates a full queue."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.messages: list[Message] = []
        self.attempts = 0

    def send(self, message: Message) -> bool:
        self.attempts += 1
        if self.accept:
            self.messages.append(message)
        return self.accept


def make_pipeline(sender, clock=None, eos_timeout_s: float = 1.0, **settings) -> CameraPipeline:
    """A camera pipeline for ``settings`` (IotSettings fields) sending into ``sender``."""
    cfg = camera_configs(load_iot_settings(**settings))[0]
    clock = clock or StoppableClock()
    pipeline = CameraPipeline(
        cfg,
        None,
        sender,
        clock,
        logging.getLogger("test.iot"),
        frame_log_level=logging.DEBUG,
        eos_timeout_s=eos_timeout_s,
    )
    options = SourceOptions(
        loop=cfg.loop, realtime=cfg.realtime, folder_interval_s=1.0 / (cfg.folder_fps or cfg.fps or 1.0)
    )
    pipeline.source = build_source(cfg.source, clock, options, pipeline.source_events())
    return pipeline


def unused_tcp_address() -> str:
    """A 127.0.0.1 TCP address where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"
