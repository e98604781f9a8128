import functools
import http.server
import itertools
import threading
import time

import cv2
import numpy as np
import pytest

from common.clock import FakeClock
from iot.live_source import LiveSource
from iot.source_factory import SourceOptions, build_source
from iot.sources import ImageFolderSource, SourceError, SourceEvents, VideoFileSource, parse_source
from iot.stoppable_clock import StoppableClock
from tests.conftest import require_asset, wait_until
from tests.iot.helpers import SHORT_GIF, VIDEO


class Recorder(SourceEvents):
    def __init__(self):
        self.counts: dict[str, int] = {}
        self.events: list[tuple[str, dict]] = []
        super().__init__(count=self._inc, log=lambda event, level, **f: self.events.append((event, f)))

    def _inc(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n


def write_images(folder, names):
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        image = np.full((40, 60, 3), 30 * i, np.uint8)
        cv2.imwrite(str(folder / name), image)


def read_all(source, limit=100):
    frames = []
    for _ in range(limit):
        t = source.grab()
        if t is None:
            break
        frames.append((t, source.retrieve()))
    return frames


# -- parse_source ------------------------------------------------------------------------
def test_parse_source_kinds(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    (tmp_path / "still.JPG").write_bytes(b"x")
    assert parse_source("0").kind == "webcam"
    assert parse_source(" 2 ").target == "2"
    assert parse_source("rtsp://cam.local:554/live").kind == "stream"
    assert parse_source("http://10.0.0.5/video.mjpg").kind == "stream"
    assert parse_source(str(tmp_path)).kind == "folder"
    assert parse_source(str(tmp_path / "clip.mp4")).kind == "video"
    assert parse_source(f"file://{tmp_path / 'clip.mp4'}").kind == "video"
    assert parse_source(str(tmp_path / "still.JPG")).kind == "image"
    with pytest.raises(ValueError, match="no such file"):
        parse_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError, match="unsupported URL scheme"):
        parse_source("ftp://host/x.mp4")


def test_stream_password_is_masked_in_descriptions():
    spec = parse_source("rtsp://admin:hunter2@10.0.0.7:554/stream1")
    assert "hunter2" not in spec.describe() and "admin:***@10.0.0.7:554" in spec.describe()


# -- image folder -----------------------------------------------------------------------
def test_folder_cycles_in_sorted_order_and_picks_up_new_files(tmp_path):
    folder = tmp_path / "imgs"
    write_images(folder, ["b.png", "a.jpg", "c.jpg"])
    (folder / "notes.txt").write_text("not an image")
    events = Recorder()
    source = ImageFolderSource(str(folder), StoppableClock(), interval_s=0.5, loop=True, realtime=False, events=events)
    source.open()
    first = read_all(source, limit=3)
    names = [source._files[i].name for i in range(3)]
    assert names == ["a.jpg", "b.png", "c.jpg"]
    assert [t for t, _ in first] == [0.0, 0.5, 1.0]
    # a, b, c were written with grey levels 30, 0, 60 (write order b, a, c -> 0, 30, 60 by index)
    assert [int(img[0, 0, 0]) for _, img in first] == [30, 0, 60]
    write_images(folder, ["b.png", "a.jpg", "c.jpg", "d.png"])
    second = read_all(source, limit=4)
    assert len(second) == 4 and events.counts.get("loops") == 1
    assert int(second[-1][1][0, 0, 0]) == 90  # d.png, added while running


def test_folder_without_loop_ends(tmp_path):
    write_images(tmp_path / "f", ["1.png", "2.png"])
    source = ImageFolderSource(str(tmp_path / "f"), StoppableClock(), 1.0, loop=False, realtime=False)
    source.open()
    assert len(read_all(source)) == 2


def test_corrupt_images_are_skipped_and_reported_once(tmp_path):
    folder = tmp_path / "imgs"
    write_images(folder, ["1.jpg", "3.jpg"])
    (folder / "2.jpg").write_bytes(b"\xff\xd8 this is not really a jpeg")
    (folder / "4.png").write_bytes(b"")
    events = Recorder()
    source = ImageFolderSource(str(folder), StoppableClock(), 1.0, loop=True, realtime=False, events=events)
    source.open()
    frames = read_all(source, limit=8)  # two cycles
    readable = [img for _, img in frames if img is not None]
    assert len(frames) == 8 and len(readable) == 4
    reported = [f["file"] for e, f in events.events if e == "image_unreadable"]
    assert sorted(p.rsplit("/", 1)[1] for p in reported) == ["2.jpg", "4.png"]  # logged once each


def test_folder_of_only_corrupt_images_fails_instead_of_spinning(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"garbage")
    source = ImageFolderSource(str(folder), StoppableClock(), 1.0, loop=True, realtime=False)
    source.open()
    with pytest.raises(SourceError, match="no readable image"):
        read_all(source)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        ImageFolderSource(str(tmp_path), StoppableClock(), 1.0).open()


def test_folder_realtime_pacing_with_fake_clock(tmp_path):
    write_images(tmp_path / "f", ["1.png", "2.png", "3.png"])
    fake = FakeClock(start=100.0)
    source = ImageFolderSource(str(tmp_path / "f"), StoppableClock(fake), 0.25, loop=True, realtime=True)
    source.open()
    read_all(source, limit=9)
    assert fake.now == pytest.approx(100.0 + 8 * 0.25)


# -- video files --------------------------------------------------------------------------
def test_video_file_fast_mode_reads_every_frame_on_video_time():
    path = require_asset(SHORT_GIF)
    fake = FakeClock()
    source = VideoFileSource(str(path), StoppableClock(fake), loop=False, realtime=False)
    source.open()
    frames = read_all(source)
    assert len(frames) == 23 and source.fps == pytest.approx(12.5)
    assert frames[-1][0] == pytest.approx(22 / 12.5)
    assert frames[0][1].shape == (270, 480, 3)
    assert fake.now == 1000.0  # fast mode never sleeps


def test_video_file_realtime_paces_at_native_fps():
    path = require_asset(SHORT_GIF)
    fake = FakeClock(start=50.0)
    source = VideoFileSource(str(path), StoppableClock(fake), loop=False, realtime=True)
    source.open()
    assert len(read_all(source)) == 23
    assert fake.now == pytest.approx(50.0 + 22 / 12.5)  # 23 frames span 22 frame intervals


def test_video_loop_continues_the_timeline():
    path = require_asset(SHORT_GIF)
    events = Recorder()
    source = VideoFileSource(str(path), StoppableClock(), loop=True, realtime=False, events=events)
    source.open()
    frames = read_all(source, limit=50)
    times = [t for t, _ in frames]
    assert len(frames) == 50 and events.counts["loops"] == 2
    assert all(b > a for a, b in itertools.pairwise(times))
    assert times[23] == pytest.approx(23 / 12.5)


def test_unreadable_video_file_fails_clearly(tmp_path):
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="broken.mp4"):
        VideoFileSource(str(bogus), StoppableClock()).open()


# -- live sources (webcam / stream) -----------------------------------------------------
class FlakyCapture:
    """A capture that opens or not, and then fails after ``frames`` reads."""

    def __init__(self, opened: bool, frames: int = 0):
        self.opened, self.frames, self.released = opened, frames, False

    def isOpened(self):
        return self.opened

    def grab(self):
        self.frames -= 1
        return self.frames >= 0

    def retrieve(self):
        return True, np.zeros((4, 4, 3), np.uint8)

    def release(self):
        self.released = True


def test_live_source_reconnects_with_exponential_backoff():
    # 5 failed opens, then a camera that delivers 3 frames and dies, then a good one
    plan = [FlakyCapture(False) for _ in range(5)] + [FlakyCapture(True, 3), FlakyCapture(True, 100)]
    fake = FakeClock(start=0.0)
    events = Recorder()
    source = LiveSource(
        0,
        StoppableClock(fake),
        events=events,
        initial_backoff_s=1.0,
        max_backoff_s=8.0,
        jitter=0.0,
        opener=lambda target: plan.pop(0),
    )
    source.open()  # first failure, waits 1 s
    times = [source.grab() for _ in range(6)]
    assert source.backoffs == [1.0, 2.0, 4.0, 8.0, 8.0, 1.0]  # capped at 8, reset after frames were read
    assert times[0] == pytest.approx(23.0)  # 1 + 2 + 4 + 8 + 8 seconds of waiting
    assert times[3] == pytest.approx(24.0)  # the read failure after 3 frames cost one initial backoff
    assert events.counts == {"read_errors": 6, "reconnects": 1}
    assert not plan


def test_live_source_jitter_stays_within_bounds():
    fake = FakeClock(start=0.0)
    source = LiveSource(
        "rtsp://x",
        StoppableClock(fake),
        initial_backoff_s=1.0,
        max_backoff_s=4.0,
        jitter=0.2,
        opener=lambda t: FlakyCapture(False),
    )
    for _ in range(6):
        source.open()
    for expected, actual in zip([1, 2, 4, 4, 4, 4], source.backoffs):
        assert 0.8 * expected <= actual <= expected


def test_live_source_grab_returns_none_when_stopping():
    clock = StoppableClock()
    source = LiveSource("rtsp://x", clock, initial_backoff_s=30.0, opener=lambda t: FlakyCapture(False))
    threading.Timer(0.2, clock.stop_event.set).start()
    started = time.monotonic()
    assert source.grab() is None  # would otherwise wait 30 s
    assert time.monotonic() - started < 3


def test_http_stream_source_reconnects_when_the_server_comes_back():
    """A real HTTP stream read by OpenCV/FFmpeg: nothing listens at first, then a server appears."""
    video = require_asset(VIDEO)
    handler = functools.partial(QuietHandler, directory=str(video.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    port = server.server_address[1]
    server.server_close()  # free the port: the first attempts are refused
    events = Recorder()
    clock = StoppableClock()
    spec = parse_source(f"http://127.0.0.1:{port}/{video.name}")
    source = build_source(
        spec, clock, SourceOptions(initial_backoff_s=0.2, max_backoff_s=0.4, open_timeout_s=3), events
    )
    assert isinstance(source, LiveSource)

    def serve_later():
        # The server comes up only once two attempts have been refused (read_errors, checked below).
        try:
            wait_until(lambda: events.counts.get("read_errors", 0) >= 2, timeout=10, message="no refused attempts")
        except pytest.fail.Exception:
            pass  # serve anyway: the assertion on read_errors below reports it in the test's own thread
        later = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        holder.append(later)
        later.serve_forever()

    holder: list = []
    threading.Thread(target=serve_later, daemon=True).start()
    try:
        source.open()
        frames = []
        deadline = time.monotonic() + 15
        while len(frames) < 5 and time.monotonic() < deadline:
            if source.grab() is not None:
                frames.append(source.retrieve())
        assert len(frames) == 5 and frames[0].shape == (432, 768, 3)
        assert events.counts["read_errors"] >= 2  # refused while the server was down
        assert any(e == "source_connected" for e, _ in events.events)
    finally:
        clock.stop_event.set()
        source.close()
        if holder:
            holder[0].shutdown()
            holder[0].server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
