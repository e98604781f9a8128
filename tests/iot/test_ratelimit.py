import itertools

from common.clock import FakeClock
from iot.ratelimit import RateLimiter


def test_caps_a_10fps_timeline_to_1fps():
    limiter = RateLimiter(1.0)
    passed = [i for i in range(100) if limiter.allow(i * 0.1)]  # 10 s of a 10 fps source
    assert passed == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]


def test_uses_the_injected_clock_when_no_time_is_given():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock)
    results = []
    for _ in range(40):  # 4 s in steps of 0.1 s
        results.append(limiter.allow())
        clock.advance(0.1)
    assert sum(results) == 8
    assert results[:6] == [True, False, False, False, False, True]


def test_fractional_and_uneven_frame_times():
    limiter = RateLimiter(3.0)
    # a 7 fps source for 6 s: 3 fps on average gives 18 frames; as frames sit on the source's
    # grid, two sent frames are never closer than 1/3 s minus one source frame
    times = [i / 7 for i in range(42)]
    passed = [t for t in times if limiter.allow(t)]
    assert len(passed) == 18
    assert all(b - a >= 1 / 3 - 1 / 7 for a, b in itertools.pairwise(passed))


def test_no_burst_after_a_gap():
    limiter = RateLimiter(1.0)
    assert limiter.allow(0.0)
    assert not limiter.allow(0.5)
    # the source stalls for 10 s, then delivers at 10 fps again
    after_gap = [t for t in (10.0 + i * 0.1 for i in range(25)) if limiter.allow(t)]
    assert [round(t, 1) for t in after_gap] == [10.0, 11.0, 12.0]


def test_zero_fps_means_no_cap():
    limiter = RateLimiter(0)
    assert all(limiter.allow(0.0) for _ in range(10))
