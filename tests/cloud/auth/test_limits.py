"""Rate limit building blocks: bounded memory, backoff, refill."""

from __future__ import annotations

from cloud.auth.limits import KeyedRateLimiter, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_bursts_refills_and_stays_bounded() -> None:
    clock = Clock()
    limiter = KeyedRateLimiter(per_min=60, burst=3, max_keys=100, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == 1.0  # one token a second
    clock.t += 1.0
    assert limiter.take("a") == 0.0
    for n in range(10_000):  # a flood of callers
        limiter.take(f"k{n}")
    assert len(limiter) == 100
    assert KeyedRateLimiter(per_min=0, burst=1).take("x") == 0.0  # 0 = no limit


def test_lockout_doubles_then_forgives() -> None:
    clock = Clock()
    throttle = LoginThrottle(allowed=5, max_lock_s=900, max_keys=50, clock=clock)
    for _ in range(4):
        throttle.failed("user:ada")
    assert throttle.retry_after("user:ada") == 0
    throttle.failed("user:ada")
    assert throttle.retry_after("user:ada") == 60
    locks = []
    for _ in range(6):
        clock.t += throttle.retry_after("user:ada")
        throttle.failed("user:ada")  # every failure after a lockout locks again, twice as long
        locks.append(throttle.retry_after("user:ada"))
    assert locks == [120, 240, 480, 900, 900, 900]
    clock.t += 900 + 901  # long quiet after the last lockout: the plain allowance again
    throttle.failed("user:ada")
    assert throttle.retry_after("user:ada") == 0
    throttle.succeeded("user:ada")
    assert throttle.retry_after("user:ada", "ip:1.2.3.4") == 0
    for n in range(1000):
        throttle.failed(f"ip:{n}")
    assert len(throttle) == 50
