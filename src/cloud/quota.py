"""Rekognition's request quota, respected on our side: a token bucket per API operation.

AWS limits each Rekognition operation to a number of calls per second per account and region
(5 for SearchFacesByImage and IndexFaces in most regions). Calling faster only earns
``ThrottlingException``; waiting for a token first keeps the calls inside the quota, and a call
that cannot get a token in time fails as ``throttled`` (the edge keeps the crop and retries).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate_per_s`` acquisitions per second on average, bursts up to ``burst``."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate = float(rate_per_s)
        self.capacity = float(burst if burst is not None else max(1.0, rate_per_s))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _reserve(self) -> float:
        """Take a token now if there is one (returns 0), else the seconds until there will be."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            if self._tokens >= 1.0 - 1e-9:  # float rounding must not leave a waiter short forever
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return (1.0 - self._tokens) / self.rate

    def acquire(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a token; False if none came in time."""
        deadline = self._clock() + timeout_s
        while True:
            wait = self._reserve()
            if wait == 0.0:
                return True
            if self._clock() + wait > deadline:
                return False
            self._sleep(wait)


class OperationQuota:
    """One :class:`TokenBucket` per operation name (AWS quotas are per API operation)."""

    def __init__(self, rate_per_s: float, wait_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.wait_s = wait_s
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def acquire(self, operation: str) -> bool:
        """Wait (up to ``wait_s``) for the right to call ``operation``."""
        with self._lock:
            bucket = self._buckets.get(operation)
            if bucket is None:
                bucket = self._buckets[operation] = TokenBucket(self.rate_per_s, clock=self._clock)
        return bucket.acquire(self.wait_s)
