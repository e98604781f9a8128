"""A clock whose sleeps end early when the process is asked to stop."""

from __future__ import annotations

import threading

from common.clock import Clock, SystemClock


class StoppableClock:
    """Wraps a :class:`common.clock.Clock`; ``sleep`` returns at once after ``stop`` is set.

    With the real clock a sleep waits on the stop event, so shutdown never waits for a
    reconnect backoff or a frame pacing delay. Any other clock (``FakeClock`` in tests)
    is simply asked to sleep.
    """

    def __init__(self, clock: Clock | None = None, stop: threading.Event | None = None) -> None:
        self.clock = clock or SystemClock()
        self.stop_event = stop or threading.Event()

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

    def monotonic(self) -> float:
        return self.clock.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` or until stopped, whichever comes first."""
        if seconds <= 0 or self.stopped:
            return
        if isinstance(self.clock, SystemClock):
            self.stop_event.wait(seconds)
        else:
            self.clock.sleep(seconds)
