"""cloud.quota: Rekognition's request quota kept on our side (a token bucket per operation), and
how a call that gets no turn fails (``throttled``, never a call)."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.aws_calls import RekognitionFailure, call_with_retry
from cloud.quota import OperationQuota, TokenBucket
from common.metrics import Metrics


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_bucket_allows_its_burst_then_its_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(5, clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        assert bucket.acquire(0)  # a second's worth at once
    assert not bucket.acquire(0.1)  # the next token is 0.2 s away
    assert bucket.acquire(1.0) and t.now == pytest.approx(0.2)
    start = t.now
    for _ in range(10):
        assert bucket.acquire(10)
    assert t.now - start == pytest.approx(2.0)  # 10 more calls take 2 s at 5/s


def test_each_operation_has_its_own_quota() -> None:
    t = FakeTime()
    quota = OperationQuota(1, wait_s=0, clock=t.clock)
    assert quota.acquire("search_faces_by_image") and quota.acquire("index_faces")
    assert not quota.acquire("search_faces_by_image")


def test_a_call_without_a_turn_fails_as_throttled_and_never_reaches_rekognition() -> None:
    calls: list[dict[str, Any]] = []

    class Client:
        def search_faces_by_image(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return {"FaceMatches": []}

    metrics = Metrics()
    turns = iter([True, False])
    response, attempts = call_with_retry(Client(), "search_faces_by_image", {"x": 1}, metrics, 2, 0.0,
                                         acquire=lambda op: next(turns))
    assert response == {"FaceMatches": []} and attempts == 1
    with pytest.raises(RekognitionFailure) as failure:
        call_with_retry(Client(), "search_faces_by_image", {"x": 1}, metrics, 2, 0.0, acquire=lambda op: next(turns))
    assert failure.value.reason == "throttled" and len(calls) == 1
    assert metrics.count("rekognition_quota_exhausted") == 1

