"""Frames-per-second cap on a timeline (video time for files, clock time for live sources)."""

from __future__ import annotations

from common.clock import Clock, SystemClock

#: Frame times within this many seconds of the due time count as due (float rounding).
TOLERANCE_S = 1e-3


class RateLimiter:
    """Lets at most ``fps`` frames per second through (``fps <= 0``: everything).

    ``allow(t)`` decides for a frame at timeline time ``t`` (seconds); without ``t``
    the injected clock's ``monotonic()`` is used. Frames are spaced by whole
    intervals from the first one, so a 10 fps source capped at 1 fps passes
    frames 0, 10, 20, ... A gap (stream outage, slow machine) does not cause a
    burst afterwards.
    """

    def __init__(self, fps: float, clock: Clock | None = None) -> None:
        self.fps = fps
        self.interval = 1.0 / fps if fps > 0 else 0.0
        self.clock = clock or SystemClock()
        self._next_due: float | None = None

    def allow(self, t: float | None = None) -> bool:
        """True if a frame at time ``t`` may be sent (and books the slot)."""
        if self.interval <= 0:
            return True
        now = self.clock.monotonic() if t is None else t
        if self._next_due is None or now >= self._next_due - TOLERANCE_S:
            if self._next_due is None or now - self._next_due >= self.interval:
                self._next_due = now + self.interval  # first frame, or after a gap: restart the grid
            else:
                self._next_due += self.interval
            return True
        return False
