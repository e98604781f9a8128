"""One camera's pipeline: grab -> rate limit -> motion gate -> resize + JPEG -> non-blocking send.

Nothing is queued inside the pipeline: a frame is either sent straight away or
dropped (the ZeroMQ socket has a small high-water mark and never blocks), so
capture keeps its pace and memory stays flat however slow the edge is.
"""

from __future__ import annotations

import enum
import logging
import time
from typing import Any, Protocol

import numpy as np

from common.clock import now_ms
from common.images import encode_jpeg, resize_max_width
from common.logs import log_event
from common.metrics import Metrics
from common.protocol import Header, Message, MessageType, ProtocolError, make_image_message

from .motion import MotionGate
from .ratelimit import RateLimiter
from .settings import CameraConfig
from .sources import FrameSource, SourceError, SourceEvents
from .stoppable_clock import StoppableClock

#: Per-camera counters, always present in the metrics (0 until they happen).
COUNTERS = (
    "captured",  # frames grabbed from the source
    "skipped_rate",  # dropped by the fps cap
    "skipped_motion",  # dropped by the motion gate (still scene)
    "sent",  # handed to ZeroMQ
    "dropped",  # edge slow or down: the send queue was full
    "read_errors",  # unreadable frames / images, failed stream opens and reads
)


class SenderLike(Protocol):
    """What the pipeline needs from :class:`common.transport.Sender`."""

    def send(self, message: Message) -> bool: ...


class Outcome(str, enum.Enum):
    """How a camera pipeline finished."""

    ENDED = "ended"  # the source ended (or max_frames reached) and END_OF_STREAM was handled
    STOPPED = "stopped"  # shutdown requested
    FAILED = "failed"  # the source could not deliver frames at all


class CameraPipeline:
    """Runs one camera until its source ends, ``max_frames`` is reached or the clock is stopped.

    ``source`` may be given later (``pipeline.source = build_source(..., pipeline.source_events())``)
    so that the source reports into this camera's counters and logs.
    """

    def __init__(
        self,
        config: CameraConfig,
        source: FrameSource | None,
        sender: SenderLike,
        clock: StoppableClock,
        logger: logging.Logger,
        shared: Metrics | None = None,
        frame_log_level: int = logging.INFO,
        eos_timeout_s: float = 10.0,
    ) -> None:
        self.config = config
        self.source = source
        self.sender = sender
        self.clock = clock
        self.logger = logger
        self.shared = shared
        self.frame_log_level = frame_log_level
        self.eos_timeout_s = eos_timeout_s
        self.metrics = Metrics()
        for name in COUNTERS:
            self.metrics.inc(name, 0)
        self.rate = RateLimiter(config.fps, clock)
        self.gate = (
            MotionGate(
                threshold=config.motion_threshold,
                pixel_delta=config.motion_pixel_delta,
                width=config.motion_width,
                keyframe_interval_s=config.keyframe_interval_s,
            )
            if config.motion_gate
            else None
        )
        self.seq = 0
        self.outcome: Outcome | None = None

    # -- reporting ---------------------------------------------------------
    def count(self, name: str, n: int = 1) -> None:
        """Bump a per-camera counter (and the process total)."""
        self.metrics.inc(name, n)
        if self.shared is not None:
            self.shared.inc(name, n)

    def log(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        log_event(self.logger, event, level=level, camera_id=self.config.camera_id, **fields)

    def source_events(self) -> SourceEvents:
        """Counters and logs for the source, tagged with this camera."""
        return SourceEvents(count=self.count, log=self.log)

    def counters(self) -> dict[str, int]:
        return self.metrics.snapshot()["counters"]

    # -- the loop ----------------------------------------------------------
    def run(self) -> Outcome:
        """Capture and send until done; always closes the source."""
        cfg = self.config
        self.log(
            "camera_started",
            classroom_id=cfg.classroom_id,
            source=cfg.source.describe(),
            fps=cfg.fps,
            motion_gate=cfg.motion_gate,
            realtime=cfg.realtime,
            loop=cfg.loop,
        )
        if self.source is None:
            raise ValueError("CameraPipeline.run() needs a source")
        try:
            self.source.open()
            self.outcome = self._loop()
        except SourceError as exc:
            self.log("source_failed", logging.ERROR, detail=str(exc))
            self.outcome = Outcome.FAILED
        finally:
            self.source.close()
        self.log("camera_finished", outcome=self.outcome.value, **self.counters())
        return self.outcome

    def _loop(self) -> Outcome:
        cfg = self.config
        source = self.source
        if source is None:
            raise RuntimeError("CameraPipeline.run() needs a source (set pipeline.source first)")
        produced = 0
        while True:
            t = source.grab()
            if self.clock.stopped:
                return Outcome.STOPPED
            if t is None:
                self.send_end_of_stream("end_of_source")
                return Outcome.ENDED
            captured_ms = now_ms()
            self.count("captured")
            if not self.rate.allow(t):
                self.count("skipped_rate")
                continue
            image = source.retrieve()
            if image is None:
                self.count("read_errors")
                continue
            if self.gate is not None and not self.gate.check(image, t, commit=False):
                self.count("skipped_motion")
                continue
            self.send_frame(image, captured_ms, source_s=t)
            produced += 1
            if cfg.max_frames and produced >= cfg.max_frames:
                self.send_end_of_stream("max_frames")
                return Outcome.ENDED

    def send_frame(self, image: np.ndarray, captured_ms: int, source_s: float | None = None) -> bool:
        """Resize, encode and send one frame; count and log it as sent or dropped.

        ``source_s`` (the source's timeline: video time for files) goes out as ``meta.source_ms``,
        so the edge can time tracks in video time when a file is replayed faster than real time.
        """
        cfg = self.config
        started = time.perf_counter()
        small = resize_max_width(image, cfg.max_width)
        jpeg = encode_jpeg(small, cfg.jpeg_quality)
        if self.shared is not None:
            self.shared.observe("encode_ms", (time.perf_counter() - started) * 1000)
        height, width = small.shape[:2]
        message = make_image_message(
            MessageType.FRAME, jpeg, width, height, camera_id=cfg.camera_id, classroom_id=cfg.classroom_id, seq=self.seq
        )
        self.seq += 1
        header = message.header
        header.stamp("captured", captured_ms)
        header.stamp("sent", now_ms())
        if source_s is not None:
            header.meta["source_ms"] = int(round(source_s * 1000))
        if self.gate is not None:
            header.meta["motion"] = {"score": round(self.gate.last_score, 4), "reason": self.gate.last_reason}
        try:
            ok = self.sender.send(message)
        except ProtocolError as exc:  # e.g. a frame over the protocol's size limits: drop it, keep the camera
            ok = False
            self.log("frame_rejected", logging.WARNING, trace_id=header.trace_id, reason=exc.reason, detail=exc.detail)
        self.count("sent" if ok else "dropped")
        if ok and self.gate is not None:
            self.gate.commit()
        log_event(
            self.logger,
            "frame_sent" if ok else "frame_dropped",
            level=self.frame_log_level,
            trace_id=header.trace_id,
            camera_id=cfg.camera_id,
            classroom_id=cfg.classroom_id,
            seq=header.seq,
            ts=header.ts,
            bytes=len(jpeg),
            width=width,
            height=height,
        )
        return ok

    def send_end_of_stream(self, reason: str) -> bool:
        """Send END_OF_STREAM, retrying up to ``eos_timeout_s``: it must not be lost silently."""
        cfg = self.config
        header = Header(
            type=MessageType.END_OF_STREAM,
            camera_id=cfg.camera_id,
            classroom_id=cfg.classroom_id,
            seq=self.seq,
            meta={"reason": reason, "frames": self.seq},
        )
        deadline = self.clock.monotonic() + self.eos_timeout_s
        attempts = 0
        while True:
            attempts += 1
            header.stamp("sent", now_ms())
            if self.sender.send(Message(header=header)):
                self.count("eos_sent")
                self.log(
                    "end_of_stream_sent", trace_id=header.trace_id, seq=header.seq, reason=reason, attempts=attempts
                )
                return True
            if self.clock.stopped or self.clock.monotonic() >= deadline:
                break
            self.clock.sleep(0.05)
        self.count("eos_undelivered")
        self.log(
            "end_of_stream_undelivered",
            logging.ERROR,
            trace_id=header.trace_id,
            reason=reason,
            attempts=attempts,
            waited_s=self.eos_timeout_s,
            detail="edge slow or unreachable; it will not learn that this stream ended",
        )
        return False
