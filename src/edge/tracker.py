"""People tracking per camera (greedy IoU matching with a centroid fallback) and the
crop policy that decides which face crops of a track go to the cloud.

Crop policy (per track):

1. The first crop that passes the quality gate is sent at once (low latency).
2. Afterwards the best crop seen is kept as a candidate; once ``resend_interval``
   has passed since the last send it is sent if it is clearly better than every
   crop sent so far (quality gain >= 10 %), or whatever its quality if the cloud
   answered ``error`` last time.
3. Nothing more once the cloud has answered ``recognised`` for the track, or after
   ``max_crops`` crops.

Times are camera times in ms (``edge.pipeline.camera_time_ms``: the frame's ``meta.source_ms``,
else ``ts.captured``), so the policy behaves the same however fast frames are processed.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

Box = tuple[float, float, float, float]

RESEND_MIN_GAIN = 1.10

#: A camera that sent nothing for this many (wall-clock) seconds and never sent END_OF_STREAM
#: (a live camera that died, a one-off camera id) has its tracker forgotten.
IDLE_CAMERA_S = 600.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two xyxy boxes."""
    ix1, iy1, ix2, iy2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centre_distance(a: Box, b: Box) -> float:
    return (((a[0] + a[2]) - (b[0] + b[2])) ** 2 + ((a[1] + a[3]) - (b[1] + b[3])) ** 2) ** 0.5 / 2


@dataclass
class Candidate:
    """A crop waiting to be sent (the best seen since the last send)."""

    quality: float
    payload: Any  # whatever the caller needs to send it (e.g. a Message)


@dataclass
class Track:
    """One person followed across frames of one camera."""

    track_id: int
    box: Box
    first_seen_ms: int
    last_seen_ms: int
    hits: int = 1
    crops_sent: int = 0
    last_sent_ms: int | None = None
    best_sent_quality: float = 0.0
    recognised: bool = False
    last_status: str | None = None
    candidate: Candidate | None = field(default=None, repr=False)


class IouTracker:
    """Tracks of one camera."""

    def __init__(self, iou_threshold: float, ttl_ms: int, ids: itertools.count) -> None:
        self.iou_threshold = iou_threshold
        self.ttl_ms = ttl_ms
        self._ids = ids
        self.tracks: dict[int, Track] = {}
        self.last_time_ms: int | None = None

    def update(self, boxes: list[Box], now_ms: int) -> tuple[list[Track], list[Track]]:
        """Match ``boxes`` to tracks (new tracks for the rest); expire unseen tracks.
        Returns (the track of each box in order, the tracks that expired).

        ``now_ms`` is the camera's time. If it goes backwards (the camera's stream restarted),
        every track expires: nothing seen before the restart can be matched reliably."""
        restarted = self.last_time_ms is not None and now_ms < self.last_time_ms
        self.last_time_ms = now_ms
        expired = [t for t in self.tracks.values() if restarted or now_ms - t.last_seen_ms > self.ttl_ms]
        for track in expired:
            del self.tracks[track.track_id]
        live = list(self.tracks.values())
        pairs = sorted(
            ((iou(box, t.box), bi, ti) for bi, box in enumerate(boxes) for ti, t in enumerate(live)),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for score, bi, ti in pairs:
            if score < self.iou_threshold:
                break
            if bi not in assigned and ti not in used:
                assigned[bi] = live[ti]
                used.add(ti)
        # Fallback for fast movers / low frame rates: nearest centre within half a box size.
        for bi, box in enumerate(boxes):
            if bi in assigned:
                continue
            size = max(box[2] - box[0], box[3] - box[1])
            options = [(_centre_distance(box, t.box), ti) for ti, t in enumerate(live) if ti not in used]
            options = [o for o in options if o[0] <= 0.5 * size]
            if options:
                _, ti = min(options)
                assigned[bi] = live[ti]
                used.add(ti)
        result = []
        for bi, box in enumerate(boxes):
            track = assigned.get(bi)
            if track is None:
                track = Track(track_id=next(self._ids), box=box, first_seen_ms=now_ms, last_seen_ms=now_ms)
                self.tracks[track.track_id] = track
            else:
                track.box, track.last_seen_ms = box, now_ms
                track.hits += 1
            result.append(track)
        return result, expired


class CropPolicy:
    """Decides per track whether a crop is sent now, kept as a candidate, or suppressed."""

    SEND, HOLD, SUPPRESS = "send", "hold", "suppress"

    def __init__(self, resend_interval_ms: int, max_crops: int) -> None:
        self.resend_interval_ms = resend_interval_ms
        self.max_crops = max_crops

    def offer(self, track: Track, candidate: Candidate, now_ms: int) -> tuple[str, Candidate | None]:
        """Offer this frame's crop of ``track``; returns (decision, the crop to send or None)."""
        if track.recognised or track.crops_sent >= self.max_crops:
            return self.SUPPRESS, None
        if track.crops_sent == 0 and track.last_sent_ms is None:
            return self.SEND, candidate
        if track.candidate is None or candidate.quality > track.candidate.quality:
            track.candidate = candidate
        since = now_ms - (track.last_sent_ms if track.last_sent_ms is not None else now_ms)
        if since < self.resend_interval_ms:
            return self.HOLD, None
        best = track.candidate
        if track.last_status == "error" or best.quality >= track.best_sent_quality * RESEND_MIN_GAIN:
            return self.SEND, best
        return self.SUPPRESS, None

    @staticmethod
    def sent(track: Track, candidate: Candidate, now_ms: int) -> None:
        """Record that ``candidate`` went out for ``track``."""
        track.crops_sent += 1
        track.last_sent_ms = now_ms
        track.best_sent_quality = max(track.best_sent_quality, candidate.quality)
        if track.candidate is candidate:
            track.candidate = None


class TrackRegistry:
    """Trackers of every camera, shared by the workers and the RESULT reader (locked)."""

    def __init__(
        self,
        iou_threshold: float,
        ttl_ms: int,
        idle_camera_s: float = IDLE_CAMERA_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.ttl_ms = ttl_ms
        self.idle_camera_s = idle_camera_s
        self._monotonic = monotonic
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._cameras: dict[str, IouTracker] = {}
        self._last_used: dict[str, float] = {}
        self._next_prune = 0.0
        self.recognised_tracks = 0
        self.cameras_forgotten = 0

    def tracker(self, camera_id: str) -> IouTracker:
        """The tracker of ``camera_id`` (created on first use). Hold ``lock`` while using it."""
        with self.lock:
            now = self._monotonic()
            self._prune_idle(now)
            self._last_used[camera_id] = now
            tracker = self._cameras.get(camera_id)
            if tracker is None:
                tracker = self._cameras[camera_id] = IouTracker(self.iou_threshold, self.ttl_ms, self._ids)
            return tracker

    def _prune_idle(self, now: float) -> None:
        """Forget cameras idle for ``idle_camera_s`` (checked at most every tenth of it), so
        trackers of cameras that vanished without END_OF_STREAM neither pile up nor count as
        active tracks forever. Caller holds ``lock``."""
        if now < self._next_prune:
            return
        self._next_prune = now + self.idle_camera_s / 10
        for camera_id, last in list(self._last_used.items()):
            if now - last > self.idle_camera_s:
                del self._last_used[camera_id]
                self._cameras.pop(camera_id, None)
                self.cameras_forgotten += 1

    def apply_result(self, camera_id: str, track_id: int, status: str) -> bool:
        """Record the cloud's verdict on a track; True if the track is known."""
        with self.lock:
            tracker = self._cameras.get(camera_id)
            track = tracker.tracks.get(track_id) if tracker else None
            if track is None:
                return False
            track.last_status = status
            if status == "recognised" and not track.recognised:
                track.recognised = True
                track.candidate = None
                self.recognised_tracks += 1
            return True

    def end_camera(self, camera_id: str) -> int:
        """Forget a camera's tracks (its stream ended); returns how many there were."""
        with self.lock:
            self._last_used.pop(camera_id, None)
            tracker = self._cameras.pop(camera_id, None)
            return len(tracker.tracks) if tracker else 0

    def active_tracks(self) -> int:
        """Tracks alive over all cameras (idle cameras forgotten first)."""
        with self.lock:
            self._prune_idle(self._monotonic())
            return sum(len(t.tracks) for t in self._cameras.values())
