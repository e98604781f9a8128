import numpy as np
import pytest

from iot.motion import MotionGate
from tests.conftest import require_asset
from tests.iot.helpers import VIDEO, ListSender, make_pipeline


def scene(square_x: int | None = None, noise_seed: int | None = None) -> np.ndarray:
    image = np.full((480, 640, 3), 120, np.uint8)
    image[300:480, :] = 60  # a "floor"
    if square_x is not None:
        image[150:250, square_x : square_x + 100] = (20, 200, 240)
    if noise_seed is not None:  # sensor noise, +-6 grey levels
        rng = np.random.default_rng(noise_seed)
        image = np.clip(image.astype(np.int16) + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
    return image


def test_still_scene_sends_only_the_first_frame():
    gate = MotionGate(threshold=0.005)
    results = [gate.check(scene(noise_seed=i), t=float(i)) for i in range(30)]
    assert results[0] is True and gate.last_reason in ("first", "")
    assert sum(results) == 1


def test_moving_square_passes_every_frame():
    gate = MotionGate(threshold=0.005)
    results = [gate.check(scene(square_x=20 + 40 * i, noise_seed=i), t=float(i)) for i in range(12)]
    assert all(results)
    assert gate.last_reason == "motion" and gate.last_score > 0.02


def test_square_that_stops_stops_sending():
    gate = MotionGate(threshold=0.005)
    positions = [0, 60, 120, 180, 180, 180, 180, 180]
    results = [gate.check(scene(square_x=x, noise_seed=i), t=float(i)) for i, x in enumerate(positions)]
    assert results == [True, True, True, True, False, False, False, False]


def test_keyframe_interval_sends_a_still_scene_now_and_then():
    gate = MotionGate(threshold=0.005, keyframe_interval_s=10.0)
    sent_at = [t for t in range(60) if gate.check(scene(noise_seed=t), t=float(t))]
    assert sent_at == [0, 10, 20, 30, 40, 50]


def test_slow_change_accumulates_against_the_last_sent_frame():
    gate = MotionGate(threshold=0.005)
    # the square creeps 2 px per frame: each step is tiny, the total is not
    results = [gate.check(scene(square_x=100 + 2 * i), t=float(i)) for i in range(40)]
    assert results[0] and 1 < sum(results) < 20


@pytest.mark.parametrize("threshold", [0.005])
def test_gate_on_the_shared_video_drops_a_large_share(threshold):
    """Measured: at 1 fps the 139 s video gives 140 frames; the gate (0.005) keeps 74 of them."""
    path = require_asset(VIDEO)
    common = {"source": str(path), "fps": 1, "realtime": False, "max_width": 320, "keyframe_interval_s": 0}
    plain, gated = ListSender(), ListSender()
    make_pipeline(plain, **common).run()
    pipeline = make_pipeline(gated, motion_gate=True, motion_threshold=threshold, **common)
    pipeline.run()
    frames = lambda s: [m for m in s.messages if m.header.type.value == "frame"]
    n_plain, n_gated = len(frames(plain)), len(frames(gated))
    assert n_plain == 140
    assert 50 <= n_gated <= 100, n_gated  # measured 74: about half the video is an empty corridor
    counters = pipeline.counters()
    assert counters["skipped_motion"] == n_plain - n_gated
    # every gated frame says why it passed
    assert {m.header.meta["motion"]["reason"] for m in frames(gated)} <= {"first", "motion"}


def test_a_dropped_frame_does_not_become_the_reference():
    gate = MotionGate(threshold=0.005)
    assert gate.check(scene(), t=0.0, commit=False)  # first frame, but the send failed
    assert gate.check(scene(), t=1.0, commit=False)  # so the still scene is offered again
    gate.commit()  # this one left
    assert not gate.check(scene(), t=2.0, commit=False)
    assert gate.check(scene(square_x=300), t=3.0, commit=False)
    assert gate.check(scene(square_x=300), t=4.0, commit=False)  # not committed: still differs
