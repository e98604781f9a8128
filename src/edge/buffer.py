"""Bounded frame buffer between the receiver thread and the workers, fair across cameras.

* One FIFO deque per camera that has something waiting (an emptied queue is deleted at once, so
  100k camera ids that each sent one frame leave nothing behind); ``take`` serves cameras
  round-robin, so a busy camera cannot starve a quiet one.
* A global capacity: when it is reached, the oldest frame of the camera holding the
  most frames is dropped (and counted), so the newest frames are the ones processed. Among cameras
  holding equally many, the one that reached that count first loses a frame.
* A camera is handed to one worker at a time (``take`` ... ``done``), so its frames
  are processed in order and its tracker is never used by two threads at once.
* END_OF_STREAM markers are never dropped for frames and come out after that camera's frames.
  A camera holds at most one waiting END_OF_STREAM in a row (more say nothing new; two that meet
  when the frames between them are dropped become one, ``eos_merged``), and at most
  ``max_pending_eos`` wait over all cameras, so a flood of them cannot grow memory.

Every operation is O(1) in the number of cameras: the per-camera frame counts sit in buckets by
count (the fullest camera is the first of the top bucket, and counts move by one), and the cameras
ready for a worker wait in a round-robin queue of their own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from common.bounded import MAX_CAMERAS, LruDict
from common.metrics import top
from common.protocol import Message, MessageType


@dataclass
class BufferStats:
    """Counts kept by the buffer. ``dropped_by_camera`` keeps the ``MAX_CAMERAS`` cameras that
    lost a frame most recently."""

    added: int = 0
    dropped: int = 0
    eos_merged: int = 0
    dropped_by_camera: LruDict[str, int] = field(default_factory=lambda: LruDict(MAX_CAMERAS))


def _is_eos(message: Message) -> bool:
    return message.header.type is MessageType.END_OF_STREAM


class FrameBuffer:
    """Per-camera deques under one global capacity; see the module docstring."""

    def __init__(self, capacity: int, max_pending_eos: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.max_pending_eos = max_pending_eos
        self._eos = 0  # END_OF_STREAM markers held
        self._queues: dict[str, deque[Message]] = {}  # only cameras with something waiting
        self._frames = 0  # droppable items (FRAMEs) held
        self._frames_of: dict[str, int] = {}  # FRAMEs held per camera (cameras holding none absent)
        # count -> the cameras holding that many FRAMEs, in the order they reached it
        self._by_count: dict[int, dict[str, None]] = {}
        self._most = 0  # the largest count held (0: no FRAME held)
        self._ready: OrderedDict[str, None] = OrderedDict()  # waiting and not busy, round-robin order
        self._busy: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self.stats = BufferStats()

    def put(self, message: Message) -> Message | None:
        """Add a message; returns the message not kept, if any: the frame dropped to make room,
        or this END_OF_STREAM when its camera already has one waiting (or too many wait)."""
        camera = message.header.camera_id
        dropped = None
        with self._cond:
            is_frame = not _is_eos(message)
            if not is_frame:
                waiting = self._queues.get(camera)
                if (waiting and _is_eos(waiting[-1])) or self._eos >= self.max_pending_eos:
                    return message
                self._eos += 1
            if is_frame and self._frames >= self.capacity:
                dropped = self._drop_oldest_of_fullest()
            queue = self._queues.get(camera)
            if queue is None:
                queue = self._queues[camera] = deque()
                if camera not in self._busy:
                    self._ready[camera] = None
            queue.append(message)
            if is_frame:
                self._frames += 1
                self._count(camera, +1)
                self.stats.added += 1
            self._cond.notify()
        return dropped

    def _count(self, camera: str, delta: int) -> None:
        """Move ``camera``'s FRAME count by ``delta`` (+1 or -1) between the count buckets."""
        old = self._frames_of.get(camera, 0)
        new = old + delta
        if old:
            bucket = self._by_count[old]
            del bucket[camera]
            if not bucket:
                del self._by_count[old]
        if new:
            self._frames_of[camera] = new
            self._by_count.setdefault(new, {})[camera] = None
        else:
            del self._frames_of[camera]
        if new > self._most:
            self._most = new
        elif old == self._most and old not in self._by_count:
            self._most = new  # it was alone at the top; counts move by one, so new is the top now

    def _drop_oldest_of_fullest(self) -> Message | None:
        if not self._most:
            return None
        camera = next(iter(self._by_count[self._most]))
        queue = self._queues[camera]
        # No two END_OF_STREAM are ever next to each other, so the oldest FRAME is first or second.
        index = 1 if _is_eos(queue[0]) else 0
        message = queue[index]
        del queue[index]
        if 0 < index < len(queue) and _is_eos(queue[index]):
            del queue[index]  # the END_OF_STREAM before and after the dropped frame meet: keep one
            self._eos -= 1
            self.stats.eos_merged += 1
        self._frames -= 1
        self._count(camera, -1)
        self.stats.dropped += 1
        by_camera = self.stats.dropped_by_camera
        by_camera[camera] = by_camera.get(camera, 0) + 1
        if not queue:
            self._forget(camera)
        return message

    def _forget(self, camera: str) -> None:
        """``camera`` has nothing waiting any more: no queue, not ready."""
        del self._queues[camera]
        self._ready.pop(camera, None)

    def take(self, timeout: float | None = None) -> Message | None:
        """Next message of the next camera in round-robin order that no worker holds.
        The caller must call :meth:`done` with its camera id afterwards. None on timeout/close."""
        with self._cond:
            while True:
                message = self._take_ready()
                if message is not None:
                    return message
                if self._closed:
                    return None
                if not self._cond.wait(timeout):
                    return None

    def _take_ready(self) -> Message | None:
        if not self._ready:
            return None
        camera, _ = self._ready.popitem(last=False)
        queue = self._queues[camera]
        message = queue.popleft()
        if _is_eos(message):
            self._eos -= 1
        else:
            self._frames -= 1
            self._count(camera, -1)
        self._busy.add(camera)  # back in the round-robin line (at its end) when done
        if not queue:
            del self._queues[camera]
        return message

    def done(self, camera_id: str) -> None:
        """A worker finished the message it took for ``camera_id``."""
        with self._cond:
            self._busy.discard(camera_id)
            if camera_id in self._queues:
                self._ready[camera_id] = None
            self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiting worker; ``take`` then returns what is left, then None."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return self._frames

    def depth_by_camera(self) -> dict[str, int]:
        """Messages waiting per camera (every camera with something waiting)."""
        with self._cond:
            return {c: len(q) for c, q in self._queues.items()}

    def cameras(self) -> int:
        """Cameras with something waiting."""
        with self._cond:
            return len(self._queues)

    def snapshot(self) -> dict[str, Any]:
        """Counters for the metrics line: depth, cameras waiting and the 20 deepest, drops (the 20
        cameras that lost most, of those that lost frames most recently)."""
        with self._cond:
            return {
                "depth": self._frames,
                "eos_waiting": self._eos,
                "cameras": len(self._queues),
                "by_camera": top({c: len(q) for c, q in self._queues.items()}, float),
                "added": self.stats.added,
                "dropped": self.stats.dropped,
                "dropped_by_camera": top(self.stats.dropped_by_camera, float),
                "eos_merged": self.stats.eos_merged,
            }
