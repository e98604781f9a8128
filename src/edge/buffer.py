"""Bounded frame buffer between the receiver thread and the workers, fair across cameras.

* One FIFO deque per camera; ``take`` serves cameras round-robin, so a busy camera
  cannot starve a quiet one.
* A global capacity: when it is reached, the oldest frame of the camera holding the
  most frames is dropped (and counted), so the newest frames are the ones processed.
* A camera is handed to one worker at a time (``take`` ... ``done``), so its frames
  are processed in order and its tracker is never used by two threads at once.
* END_OF_STREAM markers are never dropped for frames and come out after that camera's frames.
  A camera holds at most one waiting END_OF_STREAM (more say nothing new), and at most
  ``max_pending_eos`` wait over all cameras, so a flood of them cannot grow memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

from common.protocol import Message, MessageType


@dataclass
class BufferStats:
    """Counts kept by the buffer."""

    added: int = 0
    dropped: int = 0
    dropped_by_camera: dict[str, int] = field(default_factory=dict)


class FrameBuffer:
    """Per-camera deques under one global capacity; see the module docstring."""

    def __init__(self, capacity: int, max_pending_eos: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.max_pending_eos = max_pending_eos
        self._eos = 0  # END_OF_STREAM markers held
        self._queues: OrderedDict[str, deque[Message]] = OrderedDict()
        self._frames = 0  # droppable items (FRAMEs) held
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
            is_frame = message.header.type is not MessageType.END_OF_STREAM
            if not is_frame:
                waiting = self._queues.get(camera)
                if (waiting and waiting[-1].header.type is MessageType.END_OF_STREAM) or (
                    self._eos >= self.max_pending_eos
                ):
                    return message
                self._eos += 1
            if is_frame and self._frames >= self.capacity:
                dropped = self._drop_oldest_of_fullest()
            self._queues.setdefault(camera, deque()).append(message)
            if is_frame:
                self._frames += 1
                self.stats.added += 1
            self._cond.notify()
        return dropped

    def _drop_oldest_of_fullest(self) -> Message | None:
        def frames_of(q: deque[Message]) -> int:
            return sum(1 for m in q if m.header.type is not MessageType.END_OF_STREAM)

        camera = max(self._queues, key=lambda c: frames_of(self._queues[c]), default=None)
        if camera is None:
            return None
        queue = self._queues[camera]
        for i, message in enumerate(queue):
            if message.header.type is not MessageType.END_OF_STREAM:
                del queue[i]
                self._frames -= 1
                self.stats.dropped += 1
                self.stats.dropped_by_camera[camera] = self.stats.dropped_by_camera.get(camera, 0) + 1
                return message
        return None

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
        for camera in list(self._queues):
            queue = self._queues[camera]
            if camera in self._busy or not queue:
                continue
            message = queue.popleft()
            if message.header.type is not MessageType.END_OF_STREAM:
                self._frames -= 1
            else:
                self._eos -= 1
            self._busy.add(camera)
            # Round-robin: this camera goes to the back of the line.
            self._queues.move_to_end(camera)
            if not queue:
                del self._queues[camera]
            return message
        return None

    def done(self, camera_id: str) -> None:
        """A worker finished the message it took for ``camera_id``."""
        with self._cond:
            self._busy.discard(camera_id)
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
        """Messages waiting per camera."""
        with self._cond:
            return {c: len(q) for c, q in self._queues.items()}

    def snapshot(self) -> dict[str, Any]:
        """Counters for the metrics line."""
        with self._cond:
            return {"depth": self._frames, "added": self.stats.added, "dropped": self.stats.dropped}
