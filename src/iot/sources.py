"""Frame sources: webcam, video file, network stream (RTSP/HTTP) and image folder.

Every source has the same small interface, split like OpenCV's ``grab``/``retrieve``
so that frames the rate limiter skips are never converted:

* ``open()`` prepares the source (raises :class:`SourceError` if it can never work);
* ``grab()`` advances to the next frame and returns its *timeline* time in seconds
  (video time for files and folders, the clock for live sources), or ``None`` when
  the source has ended (or the process is stopping);
* ``retrieve()`` returns the grabbed frame as a BGR array, or ``None`` if it is unreadable;
* ``close()``.

Files and folders are paced in real time (``realtime=True``: a 10 fps file yields
10 frames per wall-clock second, like a camera) or read as fast as possible.
Live sources (webcam, stream, :mod:`iot.live_source`) reconnect with exponential backoff when they
fail; :mod:`iot.source_factory` picks the source object for a camera.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from common.images import ImageDecodeError, decode_image

from .stoppable_clock import StoppableClock

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt", "rtp"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
FALLBACK_FPS = 25.0
#: Largest photo of an image folder decoded (local files the operator chose, in any format OpenCV
#: reads; the camera downscales to ``max_width`` before sending).
FOLDER_MAX_PIXELS = 40_000_000

SourceKind = Literal["webcam", "video", "stream", "folder", "image"]


class SourceError(RuntimeError):
    """A source that cannot deliver frames at all (missing file, empty folder, ...)."""


@dataclass(frozen=True)
class SourceSpec:
    """What to capture from, parsed from configuration text."""

    kind: SourceKind
    target: str

    def describe(self) -> str:
        """Printable form, with any password in a URL masked."""
        if self.kind != "stream":
            return f"{self.kind}:{self.target}"
        parts = urlsplit(self.target)
        if parts.password:
            netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
            return "stream:" + urlunsplit(parts._replace(netloc=netloc))
        return f"stream:{self.target}"


def parse_source(text: str) -> SourceSpec:
    """Classify a source string; raise ValueError with a clear message if unusable.

    ``0``, ``1``, ... -> webcam; ``rtsp://``, ``http://``, ... -> stream; a directory ->
    image folder; an image file -> single image; any other existing file -> video.
    """
    value = text.strip()
    if not value:
        raise ValueError("source is empty")
    if value.isdigit():
        return SourceSpec("webcam", value)
    match = _SCHEME.match(value)
    if match:
        scheme = match.group(1).lower()
        if scheme == "file":
            value = urlsplit(value).path
        elif scheme in STREAM_SCHEMES:
            return SourceSpec("stream", value)
        else:
            raise ValueError(f"unsupported URL scheme {scheme!r} (use one of {', '.join(sorted(STREAM_SCHEMES))})")
    path = Path(value).expanduser()
    if path.is_dir():
        return SourceSpec("folder", str(path))
    if path.is_file():
        return SourceSpec("image" if path.suffix.lower() in IMAGE_SUFFIXES else "video", str(path))
    raise ValueError(f"{value}: no such file or directory (and not a webcam index or stream URL)")


class SourceEvents:
    """Where a source reports problems: counters and log events (no-ops by default)."""

    def __init__(
        self,
        count: Callable[[str, int], None] | None = None,
        log: Callable[..., None] | None = None,
    ) -> None:
        self._count = count
        self._log = log

    def count(self, name: str, n: int = 1) -> None:
        if self._count:
            self._count(name, n)

    def log(self, event: str, level: int = logging.INFO, **fields: Any) -> None:
        if self._log:
            self._log(event, level, **fields)


class FrameSource(Protocol):
    """The interface every source implements (see the module docstring)."""

    def open(self) -> None: ...

    def grab(self) -> float | None: ...

    def retrieve(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class _Pacer:
    """Holds back frames of a file until their time has come (real-time replay)."""

    def __init__(self, clock: StoppableClock, realtime: bool) -> None:
        self.clock = clock
        self.realtime = realtime
        self._anchor: float | None = None

    def wait_for(self, t: float) -> None:
        if not self.realtime:
            return
        now = self.clock.monotonic()
        if self._anchor is None:
            self._anchor = now - t
        delay = self._anchor + t - now
        if delay < -1.0:  # fell far behind (slow machine): do not burst, resume pacing from here
            self._anchor = now - t
        elif delay > 0:
            self.clock.sleep(delay)


class CaptureSource:
    """``retrieve``/``close`` shared by the sources that read through ``cv2.VideoCapture``."""

    _cap: cv2.VideoCapture | None

    def retrieve(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, image = self._cap.retrieve()
        return image if ok and image is not None and image.size else None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class VideoFileSource(CaptureSource):
    """A video file (anything OpenCV reads: mp4, avi, gif, ...), optionally looping."""

    def __init__(
        self,
        path: str,
        clock: StoppableClock,
        loop: bool = False,
        realtime: bool = True,
        events: SourceEvents | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.loop = loop
        self.events = events or SourceEvents()
        self.fps = FALLBACK_FPS
        self._pacer = _Pacer(clock, realtime)
        self._cap: cv2.VideoCapture | None = None
        self._offset = 0.0  # timeline seconds of all previous passes
        self._index = 0  # frames grabbed in this pass

    def open(self) -> None:
        self._cap = self._open_capture()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        if fps and 0 < fps <= 240:
            self.fps = float(fps)
        else:
            self.events.log("video_fps_unknown", logging.WARNING, path=self.path, assumed_fps=FALLBACK_FPS)

    def _open_capture(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise SourceError(f"cannot open video file {self.path}")
        return cap

    def grab(self) -> float | None:
        if self._cap is None:
            raise SourceError("source not opened")
        if self.clock.stopped:
            return None
        if not self._cap.grab():
            if self._index == 0:
                raise SourceError(f"video file {self.path} has no readable frames")
            if not self.loop:
                return None
            self._cap.release()
            self._cap = self._open_capture()
            self._offset += self._index / self.fps
            self._index = 0
            self.events.count("loops", 1)
            if not self._cap.grab():
                raise SourceError(f"video file {self.path} has no readable frames")
        t = self._offset + self._index / self.fps
        self._index += 1
        self._pacer.wait_for(t)
        return t


class ImageFolderSource:
    """The images of a folder in sorted name order, one per ``interval_s``, cycling if ``loop``.

    The folder is re-listed at each cycle, so images added later are picked up.
    Unreadable files are reported (counter ``read_errors`` via the caller, one log per
    file) and skipped. A single image file works the same way (``files=[path]``).
    """

    def __init__(
        self,
        path: str,
        clock: StoppableClock,
        interval_s: float,
        loop: bool = True,
        realtime: bool = True,
        events: SourceEvents | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.interval_s = max(0.0, interval_s)
        self.loop = loop
        self.events = events or SourceEvents()
        self._pacer = _Pacer(clock, realtime)
        self._files: list[Path] = []
        self._next = 0
        self._grabbed = 0
        self._current: Path | None = None
        self._tried_in_cycle = 0
        self._read_in_cycle = 0
        self._reported: set[Path] = set()

    def _list(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        try:
            entries = sorted(self.path.iterdir())
        except OSError as exc:
            raise SourceError(f"cannot list image folder {self.path}: {exc.strerror or exc}") from None
        return [p for p in entries if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()]

    def open(self) -> None:
        self._files = self._list()
        if not self._files:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {self.path}")

    def grab(self) -> float | None:
        if self.clock.stopped:
            return None
        if self._next >= len(self._files):
            if not self.loop:
                return None
            if self._tried_in_cycle and not self._read_in_cycle:
                raise SourceError(f"no readable image in {self.path} during a whole cycle")
            self.open()
            self._next = 0
            self._tried_in_cycle = self._read_in_cycle = 0
            self.events.count("loops", 1)
        self._current = self._files[self._next]
        self._next += 1
        t = self._grabbed * self.interval_s
        self._grabbed += 1
        self._pacer.wait_for(t)
        return t

    def retrieve(self) -> np.ndarray | None:
        if self._current is None:
            return None
        self._tried_in_cycle += 1
        try:
            image = decode_image(self._current.read_bytes(), FOLDER_MAX_PIXELS, other_formats=True)
        except (OSError, ImageDecodeError) as exc:
            if self._current not in self._reported:
                self._reported.add(self._current)
                self.events.log("image_unreadable", logging.WARNING, file=str(self._current), detail=str(exc))
            return None
        self._read_in_cycle += 1
        return image

    def close(self) -> None:
        self._files = []
