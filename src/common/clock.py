"""Clocks: the real one and a controllable one for tests."""

from __future__ import annotations

import time
from typing import Protocol


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (used for per-hop timestamps)."""
    return time.time_ns() // 1_000_000


class Clock(Protocol):
    """What rate limiters and schedulers need from a clock."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that only moves when told to (``advance`` or ``sleep``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.now += seconds
