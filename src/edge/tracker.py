"""People tracking per camera (greedy IoU matching with a centroid fallback, identity-safe)
and the crop policy that decides which face crops of a track go to the cloud.

Identity safety: a track never continues across a change of person. A scene cut ends every
track of the camera (:class:`edge.appearance.SceneCutDetector`), and a track whose person box
suddenly looks different (colour signature) is split: the old track ends, a new one starts.

Crop policy (per track; anchor: Frigate's several attempts per tracked object):

1. The first crop that passes the quality gate is sent at once (low latency).
2. While a crop waits for its RESULT nothing else is sent; the best crop seen meanwhile
   (quality: frontal pose, size, sharpness, detector score) is kept as the next candidate.
3. After ``unknown`` / ``no_face`` / ``error`` the candidate goes out once ``retry_interval``
   has passed since the last send, doubling the wait after each unknown (an unconfirmed
   match is retried after half that interval, without doubling: the cloud needs a second look
   to confirm it), up to
   ``max_attempts`` crops. Past that, only a clearly better crop (quality gain >= 25 %) is
   sent, up to ``max_crops``.
4. Nothing more once the cloud has answered ``recognised`` for the track.
5. The crop that is out is delivered at least once by the edge's outbox (:mod:`edge.outbox`):
   while the outbox still holds it (cloud down, busy or throttled), the track waits for its
   answer. A crop the outbox no longer holds with no RESULT (dropped past the outbox's bounds,
   or no outbox at all) frees the track after ``result_timeout``; a RESULT that answers an older
   crop than the one pending does not free it.
6. A face below the recognition minimum is never searched; one crop of it per track may go out
   as *evidence* (stored by the cloud for review, reason ``too_small``), outside this policy.

Times are camera times in ms (``edge.pipeline.camera_time_ms``: the frame's ``meta.source_ms``,
else ``ts.captured``), so the policy behaves the same however fast frames are processed.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.bounded import MAX_CAMERAS

from .appearance import (
    APPEARANCE_SPLIT_DISTANCE,
    SCENE_CUT_DIFF,
    SceneCutDetector,
    blend_signatures,
    signature_distance,
)
from .track_matching import Box, match_boxes, same_face
from .track_matching import iou as iou  # re-exported: callers measure box agreement with edge.tracker.iou

#: After ``max_attempts``, a crop must be this much better than every crop sent to go out.
LATE_MIN_GAIN = 1.25
#: Longest wait between two attempts (the doubling stops here).
MAX_RETRY_WAIT_MS = 8000
#: RESULT reason of an evidence crop (a face too small to search, stored for review only).
EVIDENCE_REASON = "too_small"
#: RESULT reasons that ask for another look soon (no backoff).
CONFIRM_REASONS = frozenset({"unconfirmed"})

#: A camera that sent nothing for this many (wall-clock) seconds and never sent END_OF_STREAM
#: (a live camera that died, a one-off camera id) has its tracker forgotten.
IDLE_CAMERA_S = 600.0


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
    last_reason: str | None = None
    pending: bool = False  # a crop is out and its RESULT has not come back
    pending_msg_id: str | None = None  # the crop that is out
    unknowns: int = 0  # RESULTs other than recognised so far
    evidence_sent: bool = False  # the one evidence crop of a face too small to search went out
    candidate: Candidate | None = field(default=None, repr=False)
    signature: np.ndarray | None = field(default=None, repr=False)
    face_box: Box | None = None  # the track's face when last seen with one
    box_from_face: bool = False  # its box was derived from the face (no person box held it)


class IouTracker:
    """Tracks of one camera."""

    def __init__(
        self,
        iou_threshold: float,
        ttl_ms: int,
        ids: Iterator[int],
        split_distance: float = APPEARANCE_SPLIT_DISTANCE,
        scene: SceneCutDetector | None = None,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.ttl_ms = ttl_ms
        self.split_distance = split_distance
        self.scene = scene or SceneCutDetector()
        self._ids = ids
        self.tracks: dict[int, Track] = {}
        self.last_time_ms: int | None = None
        self.splits = 0

    def end_all(self) -> list[Track]:
        """End every track (a scene cut); returns them."""
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended

    def update(
        self,
        boxes: list[Box],
        now_ms: int,
        signatures: list[np.ndarray | None] | None = None,
        faces: list[Box | None] | None = None,
        from_face: list[bool] | None = None,
    ) -> tuple[list[Track], list[Track]]:
        """Match ``boxes`` to tracks (new tracks for the rest); expire unseen tracks.
        Returns (the track of each box in order, the tracks that ended: expired or split).

        ``signatures`` (one per box, optional) are colour signatures: a match whose signature
        is farther than ``split_distance`` from the track's is not the same person - the old
        track ends and the box starts a new one.

        ``now_ms`` is the camera's time. If it goes backwards (the camera's stream restarted),
        every track expires: nothing seen before the restart can be matched reliably.

        ``faces`` (one face box or None per box) and ``from_face`` (whether the box was derived
        from the face because no person box held it) keep a track through a change of box kind:
        a box left unmatched by IoU goes to the track whose last face is within one face size of
        its face, and when the kind of box changed on a match whose face stayed put since the
        camera's previous frame, the colour signature (now of another region) starts afresh instead
        of splitting the track. A track missing from the previous frame gets no such exemption: a
        new person sitting down where it was is split off by the signature as before."""
        restarted = self.last_time_ms is not None and now_ms < self.last_time_ms
        previous_frame_ms, self.last_time_ms = self.last_time_ms, now_ms
        expired = [t for t in self.tracks.values() if restarted or now_ms - t.last_seen_ms > self.ttl_ms]
        for track in expired:
            del self.tracks[track.track_id]
        live = list(self.tracks.values())
        faces = faces if faces is not None else [None] * len(boxes)
        from_face = from_face if from_face is not None else [False] * len(boxes)
        matches = match_boxes(boxes, faces, [t.box for t in live], [t.face_box for t in live], self.iou_threshold)
        assigned: dict[int, Track] = {bi: live[ti] for bi, ti in matches.items()}
        signatures = signatures if signatures is not None else [None] * len(boxes)
        ended = list(expired)
        renewed: set[int] = set()
        for bi, track in list(assigned.items()):
            new, old = signatures[bi], track.signature
            face = faces[bi]
            if (
                from_face[bi] != track.box_from_face
                and track.last_seen_ms == previous_frame_ms  # seen on the camera's previous frame
                and face is not None
                and track.face_box is not None
                and same_face(face, track.face_box)
            ):
                renewed.add(bi)  # the signature's region changed with the box: not a new person
                continue
            if new is not None and old is not None and signature_distance(new, old) > self.split_distance:
                del assigned[bi]
                self.tracks.pop(track.track_id, None)
                ended.append(track)
                self.splits += 1
        result = []
        for bi, box in enumerate(boxes):
            matched = assigned.get(bi)
            signature = signatures[bi]
            if matched is None:
                track = Track(
                    track_id=next(self._ids),
                    box=box,
                    first_seen_ms=now_ms,
                    last_seen_ms=now_ms,
                    signature=signature,
                    face_box=faces[bi],
                    box_from_face=from_face[bi],
                )
                self.tracks[track.track_id] = track
            else:
                track = matched
                track.box, track.last_seen_ms = box, now_ms
                track.hits += 1
                track.box_from_face = from_face[bi]
                if faces[bi] is not None:
                    track.face_box = faces[bi]
                if bi in renewed:
                    track.signature = signature
                elif signature is not None:
                    track.signature = (
                        signature if track.signature is None else blend_signatures(track.signature, signature)
                    )
            result.append(track)
        return result, ended


class CropPolicy:
    """Decides per track whether a crop is sent now, kept as a candidate, or suppressed."""

    SEND, HOLD, SUPPRESS = "send", "hold", "suppress"

    def __init__(
        self,
        retry_interval_ms: int = 1000,
        max_crops: int = 8,
        max_attempts: int = 4,
        result_timeout_ms: int = 5000,
        outstanding: Callable[[str], bool] | None = None,
    ) -> None:
        self.retry_interval_ms = retry_interval_ms
        self.max_crops = max_crops
        self.max_attempts = min(max_attempts, max_crops)
        self.result_timeout_ms = result_timeout_ms
        #: True while a crop (by message id) is still being delivered (the outbox holds it).
        self.outstanding = outstanding

    def retry_wait_ms(self, track: Track) -> int:
        """Camera time to wait after the last send before the next attempt of ``track``."""
        if track.last_reason in CONFIRM_REASONS:
            return self.retry_interval_ms // 2
        if track.last_status == "error":
            return self.retry_interval_ms
        return min(MAX_RETRY_WAIT_MS, self.retry_interval_ms * 2 ** max(0, track.unknowns - 1))

    def offer(self, track: Track, candidate: Candidate, now_ms: int) -> tuple[str, Candidate | None]:
        """Offer this frame's crop of ``track``; returns (decision, the crop to send or None)."""
        if track.recognised or track.crops_sent >= self.max_crops:
            return self.SUPPRESS, None
        if track.crops_sent == 0 and not track.pending:
            return self.SEND, candidate
        if track.candidate is None or candidate.quality > track.candidate.quality:
            track.candidate = candidate
        since = now_ms - (track.last_sent_ms if track.last_sent_ms is not None else now_ms)
        if track.pending:
            if since < self.result_timeout_ms or self._in_delivery(track):
                return self.HOLD, None
            track.pending = False  # the crop and its RESULT were lost: the track may try again
        if since < self.retry_wait_ms(track):
            return self.HOLD, None
        best = track.candidate
        if track.crops_sent >= self.max_attempts and best.quality < track.best_sent_quality * LATE_MIN_GAIN:
            return self.HOLD, None
        return self.SEND, best

    def _in_delivery(self, track: Track) -> bool:
        msg_id = track.pending_msg_id
        return msg_id is not None and self.outstanding is not None and self.outstanding(msg_id)

    @staticmethod
    def sent(track: Track, candidate: Candidate, now_ms: int, msg_id: str | None = None) -> None:
        """Record that ``candidate`` (message ``msg_id``) went out for ``track``; it now waits
        for its RESULT."""
        track.crops_sent += 1
        track.last_sent_ms = now_ms
        track.pending = True
        track.pending_msg_id = msg_id
        track.best_sent_quality = max(track.best_sent_quality, candidate.quality)
        if track.candidate is candidate:
            track.candidate = None


class TrackRegistry:
    """Trackers of every camera, shared by the workers and the RESULT reader (locked).

    Bounded: a camera idle for ``idle_camera_s`` is forgotten, and beyond ``max_cameras`` the least
    recently used camera is (``cameras_forgotten``), so new camera ids cannot grow it without
    limit. Both in O(1) per frame: cameras are kept in order of last use.
    """

    def __init__(
        self,
        iou_threshold: float,
        ttl_ms: int,
        idle_camera_s: float = IDLE_CAMERA_S,
        monotonic: Callable[[], float] = time.monotonic,
        split_distance: float = APPEARANCE_SPLIT_DISTANCE,
        scene_cut_diff: float = SCENE_CUT_DIFF,
        ids: Iterator[int] | None = None,
        max_cameras: int = MAX_CAMERAS,
    ) -> None:
        self.iou_threshold = iou_threshold
        self.ttl_ms = ttl_ms
        self.idle_camera_s = idle_camera_s
        self.split_distance = split_distance
        self.scene_cut_diff = scene_cut_diff
        self.max_cameras = max_cameras
        self._monotonic = monotonic
        self.lock = threading.RLock()
        #: Track ids, unique over all cameras (and across restarts when the ids come from the outbox).
        self._ids: Iterator[int] = ids if ids is not None else itertools.count(1)
        self._cameras: dict[str, IouTracker] = {}
        self._last_used: OrderedDict[str, float] = OrderedDict()  # same cameras, least recently used first
        self.recognised_tracks = 0
        self.cameras_forgotten = 0

    def tracker(self, camera_id: str) -> IouTracker:
        """The tracker of ``camera_id`` (created on first use). Hold ``lock`` while using it."""
        with self.lock:
            now = self._monotonic()
            self._prune_idle(now)
            self._last_used[camera_id] = now
            self._last_used.move_to_end(camera_id)
            tracker = self._cameras.get(camera_id)
            if tracker is None:
                scene = SceneCutDetector(self.scene_cut_diff)
                tracker = self._cameras[camera_id] = IouTracker(
                    self.iou_threshold, self.ttl_ms, self._ids, split_distance=self.split_distance, scene=scene
                )
                while len(self._cameras) > self.max_cameras:
                    self._forget(next(iter(self._last_used)))  # never this one: it was used last
            return tracker

    def _prune_idle(self, now: float) -> None:
        """Forget cameras idle for ``idle_camera_s``, so trackers of cameras that vanished without
        END_OF_STREAM neither pile up nor count as active tracks forever. Caller holds ``lock``."""
        while self._last_used:
            camera_id, last = next(iter(self._last_used.items()))
            if now - last <= self.idle_camera_s:
                return
            self._forget(camera_id)

    def _forget(self, camera_id: str) -> None:
        del self._last_used[camera_id]
        self._cameras.pop(camera_id, None)
        self.cameras_forgotten += 1

    def cameras(self) -> int:
        """Cameras with a tracker."""
        with self.lock:
            return len(self._cameras)

    def apply_result(
        self, camera_id: str, track_id: int, status: str, reason: str | None = None, ack_of: str | None = None
    ) -> bool:
        """Record the cloud's verdict on crop ``ack_of`` of a track; True if the track is known.
        A verdict on an older crop than the pending one still counts if it is ``recognised``,
        but does not free the track for its next attempt."""
        with self.lock:
            tracker = self._cameras.get(camera_id)
            track = tracker.tracks.get(track_id) if tracker else None
            if track is None:
                return False
            if reason == EVIDENCE_REASON:
                return True  # the answer to an evidence crop: nothing was searched, nothing to decide
            stale = ack_of is not None and track.pending_msg_id is not None and ack_of != track.pending_msg_id
            if status == "recognised" and not track.recognised:
                track.recognised = True
                track.candidate = None
                self.recognised_tracks += 1
            if stale:
                return True
            track.last_status, track.last_reason = status, reason
            track.pending, track.pending_msg_id = False, None
            if status in ("unknown", "no_face") and reason not in CONFIRM_REASONS:
                track.unknowns += 1
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
