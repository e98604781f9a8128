"""OpenCV's thread count for the edge's workers: all cores for a lone busy worker (a frame's faces
found fastest when the edge is quiet), one thread each when several workers are busy (no threads
on top of threads when the edge is loaded: OpenCV's own threads beside busy workers cost about a
third more CPU per YuNet call here)."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import cv2


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class OpenCvThreads:
    """``fixed`` > 0: always that many threads. 0: adaptive, ``cores // busy workers`` (at least 1)."""

    def __init__(self, fixed: int = 0, cores: int | None = None) -> None:
        self.fixed = fixed
        self.cores = cores or usable_cores()
        self._busy = 0
        self._current: int | None = None
        self._lock = threading.Lock()
        if fixed > 0:
            self._set(fixed)

    @contextlib.contextmanager
    def working(self) -> Iterator[int]:
        """Around one worker's frame: counts it busy and sets OpenCV's threads; yields the count."""
        with self._lock:
            self._busy += 1
            wanted = self.fixed if self.fixed > 0 else max(1, self.cores // self._busy)
            if wanted != self._current:
                self._set(wanted)
        try:
            yield wanted
        finally:
            with self._lock:
                self._busy -= 1

    def _set(self, threads: int) -> None:
        cv2.setNumThreads(threads)  # process-wide; a call under way keeps the threads it started with
        self._current = threads
