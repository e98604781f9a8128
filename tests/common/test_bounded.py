"""common.bounded.LruDict and common.metrics.top: per-camera state and what metrics show of it."""

import json

import pytest

from common.bounded import LruDict
from common.metrics import TOP_N, top


def test_lru_dict_forgets_the_least_recently_used_and_counts():
    lru: LruDict[str, int] = LruDict(3)
    for key in "abc":
        lru[key] = ord(key)
    lru.touch("a")
    assert lru.get_or_create("b", lambda: 0) == ord("b")  # a use too
    lru["d"] = 4  # c is the least recently used
    assert list(lru) == ["a", "b", "d"] and lru.evicted == 1
    lru["a"] = 5  # an update is a use, never an eviction
    assert list(lru) == ["b", "d", "a"] and lru.evicted == 1
    assert lru.get_or_create("e", lambda: 6) == 6 and list(lru) == ["d", "a", "e"] and lru.evicted == 2
    assert lru.newest(2) == [("e", 6), ("a", 5)]
    with pytest.raises(ValueError):
        LruDict(0)


def test_100k_keys_stay_bounded_and_metrics_show_the_top():
    lru: LruDict[str, dict] = LruDict(1024)
    for i in range(100_000):
        lru.get_or_create(f"cam-{i}", dict)["n"] = i % 1000
    assert len(lru) == 1024 and lru.evicted == 100_000 - 1024
    shown = top(lru, lambda v: v["n"])
    counts = [v["n"] for v in shown.values()]
    assert len(shown) == TOP_N and counts == sorted(counts, reverse=True) and counts[0] == 999
    assert len(json.dumps(shown)) < 1024
