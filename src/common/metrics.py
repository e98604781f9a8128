"""Thread-safe counters and latency percentiles, logged periodically as JSON."""

from __future__ import annotations

import heapq
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .logs import log_event

V = TypeVar("V")

#: Entries of a map keyed by peer-chosen ids (camera ids) that a metrics line or ``/api/metrics``
#: shows: the top ones and a count, never the whole map (100k camera ids made a 24 MB log line).
TOP_N = 20


def top(mapping: Mapping[str, V], key: Callable[[V], float], n: int = TOP_N) -> dict[str, V]:
    """The ``n`` entries of ``mapping`` with the largest ``key(value)``, largest first
    (O(len(mapping) log n))."""
    return dict(heapq.nlargest(n, mapping.items(), key=lambda item: key(item[1])))


class Metrics:
    """Named counters, gauges and latency samples (a bounded window each)."""

    def __init__(self, window: int = 2048) -> None:
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._gauges: dict[str, float] = {}
        self._samples: dict[str, deque[float]] = {}
        self._window = window

    def inc(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        with self._lock:
            self._counters[name] += n

    def set_gauge(self, name: str, value: float) -> None:
        """Set gauge ``name`` to ``value``."""
        with self._lock:
            self._gauges[name] = value

    def observe(self, name: str, value: float) -> None:
        """Record one sample (e.g. a latency in ms) of ``name``."""
        with self._lock:
            window = self._samples.get(name)
            if window is None:
                window = self._samples[name] = deque(maxlen=self._window)
            window.append(value)

    def count(self, name: str) -> int:
        """Current value of counter ``name``."""
        with self._lock:
            return self._counters[name]

    def snapshot(self) -> dict[str, Any]:
        """Counters, gauges and p50/p95/max of each sample window."""
        with self._lock:
            counters = dict(self._counters)
            gauges = dict(self._gauges)
            samples = {k: sorted(v) for k, v in self._samples.items()}
        summary = {
            name: {
                "n": len(values),
                "p50": round(percentile(values, 50), 2),
                "p95": round(percentile(values, 95), 2),
                "max": round(values[-1], 2),
            }
            for name, values in samples.items()
            if values
        }
        return {"counters": counters, "gauges": gauges, "timings": summary}


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, int(round(pct / 100 * (len(sorted_values) - 1)))))
    return float(sorted_values[rank])


class PeriodicReporter:
    """Logs ``metrics.snapshot()`` as a ``metrics`` event every ``interval_s`` seconds."""

    def __init__(
        self,
        metrics: Metrics,
        logger: logging.Logger,
        interval_s: float,
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.metrics = metrics
        self.logger = logger
        self.interval_s = interval_s
        self.extra = extra
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-reporter", daemon=True)

    def start(self) -> PeriodicReporter:
        self._thread.start()
        return self

    def report(self) -> None:
        """Log one metrics line now."""
        snap = self.metrics.snapshot()
        if self.extra:
            snap.update(self.extra())
        log_event(self.logger, "metrics", **snap)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.report()

    def stop(self) -> None:
        """Stop and log a final line."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self.report()
