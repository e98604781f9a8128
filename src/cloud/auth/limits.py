"""Rate limits with bounded memory: keyed token buckets and a login lockout with backoff.

Both keep at most ``max_keys`` keys (least recently used forgotten first), so a flood of
distinct addresses or usernames cannot grow memory without bound. Forgetting a key only ever
forgives it early; it never blocks anybody.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_KEYS = 10_000


class KeyedRateLimiter:
    """A token bucket per key: ``per_min`` a minute on average, bursts of ``burst``."""

    def __init__(
        self,
        per_min: float,
        burst: float,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_min / 60.0
        self.capacity = max(1.0, burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - updated) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


class LoginThrottle:
    """Failed logins per key (client address, username): the ``allowed``-th failure within a
    minute locks the key for a minute; each further failure after a lockout locks it again for
    twice as long, up to ``max_lock_s``. A success, or ``max_lock_s`` of quiet, forgives."""

    def __init__(
        self,
        allowed: int = 5,
        max_lock_s: float = 900.0,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed = allowed
        self.max_lock_s = max_lock_s
        self.max_keys = max_keys
        self._clock = clock
        self._state: OrderedDict[str, tuple[list[float], int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> int:
        """Whole seconds until every key may try again (0 = now)."""
        now = self._clock()
        with self._lock:
            waits = [self._state[k][2] - now for k in keys if k in self._state]
        longest = max(waits, default=0.0)
        return math.ceil(longest) if longest > 0 else 0

    def failed(self, *keys: str) -> None:
        """Count one failure for each key; lock a key that went over its allowance."""
        now = self._clock()
        with self._lock:
            for key in keys:
                recent, over, locked_until = self._state.pop(key, ([], 0, 0.0))
                if over and now - locked_until > self.max_lock_s:
                    over = 0  # quiet long enough after the last lockout: back to the plain allowance
                recent = [t for t in recent if now - t < 60.0] + [now]
                if over or len(recent) >= self.allowed:
                    lock = min(self.max_lock_s, 60.0 * 2**over)
                    locked_until = max(locked_until, now + lock)
                    over += 1
                    recent = recent[-self.allowed :]
                self._state[key] = (recent, over, locked_until)
            while len(self._state) > self.max_keys:
                self._state.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of each key (a successful login)."""
        with self._lock:
            for key in keys:
                self._state.pop(key, None)

    def __len__(self) -> int:
        return len(self._state)
