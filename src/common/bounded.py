"""State keyed by ids a peer chooses (camera ids), kept bounded.

A peer can send any number of new camera ids; every map keyed by them is an :class:`LruDict`
(least recently used entries forgotten beyond ``max_size``, counted), and metrics show a count
and the top entries (:func:`common.metrics.top`), never the whole map.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

#: Default number of cameras a tier keeps per-camera state for (LRU beyond it).
MAX_CAMERAS = 1024


class LruDict(OrderedDict[K, V]):
    """An ordered dict of at most ``max_size`` entries, least recently used first.

    :meth:`touch` (or :meth:`get_or_create`) marks an entry used; setting a new key beyond
    ``max_size`` forgets the least recently used one and counts it in ``evicted``. Not locked:
    callers hold their own lock. Every operation is O(1).
    """

    def __init__(self, max_size: int) -> None:
        super().__init__()
        if max_size < 1:
            raise ValueError("max_size must be >= 1")
        self.max_size = max_size
        self.evicted = 0

    def __setitem__(self, key: K, value: V) -> None:
        new = key not in self
        super().__setitem__(key, value)
        self.move_to_end(key)
        if new:
            while len(self) > self.max_size:
                self.popitem(last=False)
                self.evicted += 1

    def touch(self, key: K) -> None:
        """Mark ``key`` (present) as the most recently used."""
        self.move_to_end(key)

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """The entry of ``key``, marked used; created by ``create()`` if absent (may evict)."""
        value = self.get(key)
        if value is None:
            value = create()
            self[key] = value
        else:
            self.move_to_end(key)
        return value

    def newest(self, n: int) -> list[tuple[K, V]]:
        """The ``n`` most recently used entries, newest first (O(n))."""
        out: list[tuple[K, V]] = []
        for key in reversed(self):
            if len(out) >= n:
                break
            out.append((key, self[key]))
        return out
