"""Live sources: a webcam or a network stream (RTSP/HTTP/...), reconnecting with backoff."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import cv2

from .sources import CaptureSource, SourceEvents
from .stoppable_clock import StoppableClock


def _open_live(target: int | str, open_timeout_s: float) -> cv2.VideoCapture:
    """Open a webcam index or a stream URL with OpenCV (FFmpeg for URLs, with timeouts)."""
    if isinstance(target, int):
        cap = cv2.VideoCapture(target)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return cap
    ms = int(open_timeout_s * 1000)
    return cv2.VideoCapture(
        target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
    )


class LiveSource(CaptureSource):
    """A webcam (int index) or a network stream (URL) that reconnects with exponential backoff.

    A live source never ends by itself: when opening or reading fails it counts a
    ``read_errors``, waits (``initial_backoff_s`` doubling up to ``max_backoff_s``, minus up to
    ``jitter`` of it so many cameras do not reconnect in lockstep) and reopens; the
    backoff resets after a frame is read. ``grab`` returns ``None`` only when stopping.
    """

    def __init__(
        self,
        target: int | str,
        clock: StoppableClock,
        events: SourceEvents | None = None,
        initial_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        open_timeout_s: float = 10.0,
        jitter: float = 0.2,
        opener: Callable[[int | str], Any] | None = None,
        label: str = "",
    ) -> None:
        self.target = target
        self.clock = clock
        self.events = events or SourceEvents()
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max(max_backoff_s, initial_backoff_s)
        self.jitter = jitter
        self.label = label or str(target)
        self._opener = opener or (lambda t: _open_live(t, open_timeout_s))
        self._cap: Any = None
        self._failures = 0  # consecutive
        self._ever_connected = False
        self.backoffs: list[float] = []  # recent waits, for diagnostics and tests

    def open(self) -> None:
        self._connect()

    def _connect(self) -> bool:
        cap = self._opener(self.target)
        if cap is not None and cap.isOpened():
            self._cap = cap
            if self._ever_connected:
                self.events.count("reconnects", 1)
            self.events.log("source_connected", source=self.label, after_failures=self._failures)
            self._ever_connected = True
            return True
        if cap is not None:
            cap.release()
        self._fail("open_failed")
        return False

    def _fail(self, what: str) -> None:
        self._failures += 1
        self.events.count("read_errors", 1)
        delay = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (self._failures - 1))
        delay *= 1.0 - self.jitter * random.random()
        self.backoffs = (self.backoffs + [delay])[-32:]
        level = logging.WARNING if self._failures <= 3 or self._failures % 10 == 0 else logging.DEBUG
        self.events.log("source_" + what, level, source=self.label, failures=self._failures, retry_in_s=round(delay, 2))
        self.clock.sleep(delay)

    def grab(self) -> float | None:
        while not self.clock.stopped:
            if self._cap is None and not self._connect():
                continue
            if self._cap.grab():
                self._failures = 0
                return self.clock.monotonic()
            self._cap.release()
            self._cap = None
            self._fail("read_failed")
        return None
