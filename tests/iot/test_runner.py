"""End to end: the IoT runner streams real files to a real ZeroMQ PULL socket on 127.0.0.1."""

import json
import logging
import threading
import time

import cv2
import numpy as np
import pytest
import zmq

from common.protocol import MessageType
from common.keyring import edge_keys
from common.keys_cli import generate
from common.settings_base import ConfigError
from common.transport import CurveKeys, Receiver
from iot.runner import Runner
from iot.settings import load_iot_settings
from tests.conftest import require_asset, wait_until
from tests.iot.helpers import SHORT_GIF, VIDEO, unused_tcp_address

LOG = logging.getLogger("test.iot.runner")


@pytest.fixture(autouse=True)
def plaintext(monkeypatch):
    """Plain TCP unless a test asks for CurveZMQ (test_replicated_cameras_over_curve)."""
    monkeypatch.setenv("ROLLCALL_IOT_TRANSPORT", "plaintext")


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


class Background:
    """Runs a Runner in a thread; ``status`` is its exit status once finished."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.status: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def _run(self):
        self.status = self.runner.run()

    def finish(self, timeout: float = 10.0) -> int | None:
        self.runner.stop()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "runner did not stop"
        return self.status


def collect(receiver: Receiver, seconds: float, until_eos: int = 0) -> list:
    messages, deadline, eos = [], time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        message = receiver.recv(timeout_ms=20)
        if message is not None:
            messages.append(message)
            if message.header.type is MessageType.END_OF_STREAM:
                eos += 1
                if until_eos and eos >= until_eos:
                    break
    return messages


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_streams_the_shared_video_at_the_configured_rate(ctx):
    video = require_asset(VIDEO)
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    settings = load_iot_settings(
        source=str(video),
        camera_id="cam-e2e",
        classroom_id="room-42",
        fps=5,
        max_width=320,
        jpeg_quality=80,
        edge_address=rx.bound_address,
    )
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    messages = collect(rx, 3.0)
    assert run.finish() == 0
    frames = [m for m in messages if m.header.type is MessageType.FRAME]
    assert 12 <= len(frames) <= 18, len(frames)  # 5 fps for 3 s = 15 (+1 at t=0)
    headers = [m.header for m in frames]
    assert {(h.camera_id, h.classroom_id) for h in headers} == {("cam-e2e", "room-42")}
    assert [h.seq for h in headers] == list(range(len(frames)))
    assert len({h.trace_id for h in headers}) == len(frames)
    assert all(h.ts["captured"] <= h.ts["sent"] for h in headers)
    source_ms = [h.meta["source_ms"] for h in headers]  # video time, 10 fps file sampled at 5 fps
    assert source_ms == sorted(source_ms) and all(b - a in (200, 300) for a, b in zip(source_ms, source_ms[1:]))
    # paced in real time: 10 fps video at a 5 fps cap -> 200 ms apart on average
    spacing = (headers[-1].ts["captured"] - headers[0].ts["captured"]) / (len(headers) - 1)
    assert 170 <= spacing <= 240, spacing
    for message in frames:
        image = cv2.imdecode(np.frombuffer(message.image, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (180, 320, 3)
        assert (message.header.image.width, message.header.image.height) == (320, 180)
    counters = run.runner.metrics.snapshot()["counters"]
    assert counters["sent"] == len(frames) and counters["dropped"] <= 1  # the first one may beat the TCP connect
    assert counters["captured"] == pytest.approx(2 * len(frames), abs=3)  # every video frame was grabbed
    rx.close()


def test_non_looping_source_ends_with_end_of_stream_and_the_run_exits(ctx):
    gif = require_asset(SHORT_GIF)
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    settings = load_iot_settings(source=str(gif), fps=0, realtime=False, loop=False, edge_address=rx.bound_address)
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    messages = collect(rx, 10.0, until_eos=1)
    run.thread.join(10)
    assert not run.thread.is_alive() and run.status == 0  # ended by itself, nobody called stop()
    assert messages[-1].header.type is MessageType.END_OF_STREAM
    assert messages[-1].header.meta["reason"] == "end_of_source"
    assert all(m.header.type is MessageType.FRAME for m in messages[:-1])
    counters = run.runner.metrics.snapshot()["counters"]
    assert counters["sent"] + counters["dropped"] == 23 and len(messages) - 1 == counters["sent"]
    assert messages[-1].header.seq == 23
    assert (
        run.runner.outcomes == {"cam-1": run.runner.outcomes["cam-1"]} and run.runner.outcomes["cam-1"].value == "ended"
    )
    rx.close()


def test_without_a_receiver_frames_are_dropped_and_capture_keeps_its_pace():
    video = require_asset(VIDEO)
    settings = load_iot_settings(source=str(video), fps=5, edge_address=unused_tcp_address())
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    time.sleep(3.0)  # measures the pace over a stretch of running: a fixed period is the point
    assert run.finish(timeout=5) == 0
    elapsed = time.monotonic() - run.started
    c = run.runner.metrics.snapshot()["counters"]
    assert c["sent"] == 0
    assert c["captured"] == pytest.approx(10 * elapsed, abs=6), (c, elapsed)  # the video's 10 fps
    assert c["dropped"] == pytest.approx(5 * elapsed, abs=3), (c, elapsed)  # the 5 fps cap
    assert c["captured"] == c["skipped_rate"] + c["dropped"]


def test_memory_stays_flat_when_every_frame_is_dropped():
    """800 full-size frames (~100 kB each) as fast as possible into nowhere: RSS must not grow.
    Measured: +0.03 MB between frame ~250 and frame 800 (a queue would need ~50 MB)."""
    video = require_asset(VIDEO)
    settings = load_iot_settings(
        source=str(video),
        fps=0,
        realtime=False,
        max_width=0,
        jpeg_quality=95,
        max_frames=800,
        edge_address=unused_tcp_address(),
        eos_timeout_s=0.2,
    )
    runner = Runner(settings, LOG, metrics_interval_s=60)
    run = Background(runner)
    wait_until(lambda: runner.metrics.count("dropped") >= 250 or not run.thread.is_alive(), timeout=30, interval=0.01,
               message="250 frames not dropped")
    baseline = rss_mb()
    run.thread.join(30)
    growth = rss_mb() - baseline
    c = runner.metrics.snapshot()["counters"]
    assert c["dropped"] == 800 and c["sent"] == 0 and c["eos_undelivered"] == 1
    assert growth < 15, f"RSS grew {growth:.1f} MB"
    assert run.status == 0


def test_slow_edge_gets_a_bounded_number_of_frames(ctx):
    """A receiver that never reads: the sender's small HWM plus socket buffers fill, the rest drop."""
    video = require_asset(VIDEO)
    rx = Receiver("tcp://127.0.0.1:*", hwm=5, context=ctx)
    settings = load_iot_settings(
        source=str(video),
        fps=0,
        realtime=False,
        max_width=0,
        jpeg_quality=95,
        max_frames=600,
        edge_address=rx.bound_address,
        eos_timeout_s=0.2,
    )
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    run.thread.join(30)
    c = run.runner.metrics.snapshot()["counters"]
    assert c["sent"] + c["dropped"] == 600
    assert c["dropped"] >= 400 and 0 < c["sent"] < 200, c  # measured: 60 sent, 740 dropped of 800
    rx.close()


def test_replicated_cameras_over_curve(ctx, tmp_path):
    gif = require_asset(SHORT_GIF)
    keys = tmp_path / "keys"
    generate(keys, [(f"sim-{k}", "hall", "edge-1") for k in (1, 2, 3)])
    _, edge, _, _ = edge_keys(keys / "bundles" / "edge-edge-1")
    rx = Receiver("tcp://127.0.0.1:*", context=ctx, curve=CurveKeys(edge.public, edge.secret, clients=edge.clients))
    settings = load_iot_settings(
        source=str(gif),
        camera_id="sim",
        classroom_id="hall",
        replicate=3,
        fps=0,
        realtime=True,  # 23 frames over 1.8 s; frames sent before the Curve handshake completes are dropped
        edge_address=rx.bound_address,
        transport="curve",
        keys_dir=keys / "bundles" / "iot-edge-1",
    )
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    messages = collect(rx, 15.0, until_eos=3)
    run.thread.join(10)
    assert run.status == 0
    by_camera: dict[str, list] = {}
    for message in messages:
        by_camera.setdefault(message.header.camera_id, []).append(message)
    assert sorted(by_camera) == ["sim-1", "sim-2", "sim-3"]
    for camera_id, camera_messages in by_camera.items():
        counters = run.runner.pipelines[camera_id].counters()
        assert camera_messages[-1].header.type is MessageType.END_OF_STREAM and camera_messages[-1].header.seq == 23
        seqs = [m.header.seq for m in camera_messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert counters["sent"] + counters["dropped"] == 23 and len(camera_messages) == counters["sent"] + 1
        assert counters["sent"] >= 15, counters
    rx.close()


def test_a_camera_without_a_registered_key_does_not_start(tmp_path):
    keys = tmp_path / "keys"
    generate(keys, [("cam-1", "room-1", "edge-1")])
    with pytest.raises(ConfigError, match="camera 'cam-2' is not in .*rollcall-keys generate"):
        Runner(load_iot_settings(camera_id="cam-2", transport="curve", keys_dir=keys), LOG)
    with pytest.raises(ConfigError, match="registered to classroom 'room-1', not 'room-2'"):
        Runner(load_iot_settings(camera_id="cam-1", classroom_id="room-2", transport="curve", keys_dir=keys), LOG)
    with pytest.raises(ConfigError, match="ROLLCALL_IOT_TRANSPORT=plaintext"):
        Runner(load_iot_settings(transport="curve", keys_dir=tmp_path / "none"), LOG)


def test_plaintext_is_logged_as_a_warning(ctx, caplog):
    gif = require_asset(SHORT_GIF)
    settings = load_iot_settings(source=str(gif), fps=0, realtime=False, max_frames=1,
                                 edge_address=unused_tcp_address(), eos_timeout_s=0)
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        Runner(settings, LOG, metrics_interval_s=60).run()
    assert any(getattr(r, "event", None) == "transport_plaintext" for r in caplog.records)


def test_a_failing_camera_does_not_stop_the_others_and_sets_exit_status_1(ctx, tmp_path, monkeypatch):
    gif = require_asset(SHORT_GIF)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    monkeypatch.setenv(
        "ROLLCALL_IOT_CAMERAS",
        json.dumps([{"camera_id": "good", "source": str(gif)}, {"camera_id": "bad", "source": str(broken)}]),
    )
    settings = load_iot_settings(fps=0, realtime=False, edge_address=rx.bound_address)
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    messages = collect(rx, 10.0, until_eos=1)
    run.thread.join(10)
    assert run.status == 1
    assert {o.value for o in run.runner.outcomes.values()} == {"ended", "failed"}
    assert messages[-1].header.camera_id == "good" and messages[-1].header.type is MessageType.END_OF_STREAM
    rx.close()


def first_captures(ctx, stagger: bool) -> list[int]:
    """Capture time (ms) of each of 4 replicated 2-fps cameras' first frame."""
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    settings = load_iot_settings(
        source=str(require_asset(VIDEO)),
        camera_id="sim",
        classroom_id="hall",
        replicate=4,
        fps=2,
        max_width=320,
        stagger_cameras=stagger,
        edge_address=rx.bound_address,
    )
    run = Background(Runner(settings, LOG, metrics_interval_s=60))
    messages = collect(rx, 2.5)
    assert run.finish() == 0
    rx.close()
    first: dict[str, int] = {}
    for message in messages:
        if message.header.type is MessageType.FRAME:
            first.setdefault(message.header.camera_id, message.header.ts["captured"])
    assert sorted(first) == ["sim-1", "sim-2", "sim-3", "sim-4"]
    return [first[f"sim-{k}"] for k in (1, 2, 3, 4)]


def test_cameras_of_one_process_start_staggered_over_one_frame_interval(ctx):
    staggered = first_captures(ctx, stagger=True)
    # camera k waits k/4 of its 500 ms interval: 0, 125, 250, 375 ms (a sleep is never shorter)
    assert staggered == sorted(staggered)
    assert staggered[-1] - staggered[0] >= 330, staggered
    together = first_captures(ctx, stagger=False)
    assert max(together) - min(together) < staggered[-1] - staggered[0], (together, staggered)
