"""A session's recognised faces, so a student who comes back is counted without a new Rekognition
call (issue 15, item 4).

When the cloud records a crop Rekognition recognised, it keeps that face's embedding for the
session: dlib's ResNet (128-d) on the crop's largest face (dlib's HOG detector, 5-point
alignment), in memory only, never stored, dropped an hour after the session's last crop. A later crop of the same
session is embedded first; when its face is within ``match_distance`` of one student's kept faces
and clearly nearer them than any other student's (``MARGIN``), it is recorded as that student
without a call (counted ``session_face_hits``). Anything else - no face found, a face under
``small_face_px``, an ambiguous or far match, an embedding error - is searched as before: the
cache can save calls, never decide who someone new is.

Faces Rekognition matched to nobody are kept the same way, so that the same look searched moments
ago is not searched again as a new track: a later crop within ``SAME_LOOK_DISTANCE`` of such a face
(the same face in the same pose, whose search would say the same) and farther than
``match_distance`` from every kept student is recorded as an unknown face without a call
(``session_stranger_hits``) - for ``STRANGER_RETRY_MS`` after the search of a *clear stranger* (no
enrolled face even at the search floor, 50 % similarity), for ``NEAR_MISS_RETRY_MS`` after a *near
miss* (a best match of 50-80 %: perhaps a student's poor look). After that the next crop is searched
again. A stranger who stays still, or a looping video, costs one call per retry time rather than one
per new track; another look of anyone (a turn of the head, a sharper crop) is searched at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.dlib_resnet import face_recognizer
from common.logs import log_event
from common.models import DLIB_RESNET, DLIB_SHAPE_5, dlib_models_dir

log = logging.getLogger("rollcall.cloud.session_faces")

#: A second face must be at least this much farther than the nearest student's for a hit.
MARGIN = 0.1
FACES_PER_STUDENT = 4  # the most recent kept per student and session
MAX_SESSIONS = 64  # sessions with kept faces (least recently used dropped first)
IDLE_MS = 3_600_000  # a session's faces are dropped an hour after its last crop
EMBED_TIMEOUT_S = 5.0
#: A face matched to nobody is reused only for its same look: one photo re-cropped or JPEG-encoded
#: again is 0.08-0.2 from itself (the shared photos), two photos of one person 0.3-0.5.
SAME_LOOK_DISTANCE = 0.2
STRANGER_RETRY_MS = 30_000  # a clear stranger's look is searched again this long after its search
NEAR_MISS_RETRY_MS = 10_000  # a near miss's look
STRANGERS_PER_SESSION = 32  # the most recently searched kept

_worker_models: tuple[Any, Any, Any] | None = None  # (detector, predictor, resnet) in the worker process


def _worker_init(shape_path: str, resnet_path: str) -> None:
    import dlib

    global _worker_models
    _worker_models = (
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(shape_path),
        face_recognizer(Path(resnet_path)),
    )


def _worker_embed(rgb: np.ndarray) -> np.ndarray | None:
    """The embedding of the largest face dlib finds in ``rgb`` (None: no face)."""
    assert _worker_models is not None, "worker not initialised"
    detector, predictor, resnet = _worker_models
    faces = detector(rgb, 0) or detector(rgb, 1)  # upsample once for a small crop
    if not faces:
        return None
    face = max(faces, key=lambda r: r.area())
    return np.asarray(resnet.compute_face_descriptor(rgb, predictor(rgb, face)), dtype=np.float32)


class FaceEmbedder:
    """Face embeddings of crops, computed in one worker process."""

    _shared: FaceEmbedder | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        models = dlib_models_dir()  # ModelError when face-recognition-models is not installed
        self._args = (str(models / DLIB_SHAPE_5), str(models / DLIB_RESNET))
        self._lock = threading.Lock()
        self._pool = self._start()

    @classmethod
    def shared(cls) -> FaceEmbedder:
        """The process's embedder, started at the first call."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=self._args,
        )

    def submit(self, bgr: np.ndarray) -> Future[np.ndarray | None]:
        """Start embedding the largest face of a BGR crop."""
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        with self._lock:
            try:
                return self._pool.submit(_worker_embed, rgb)
            except RuntimeError:  # a broken pool (its worker died): start a new one
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
                return self._pool.submit(_worker_embed, rgb)


@dataclass(frozen=True)
class Hit:
    """A crop matched to a student already recognised in the session."""

    student_id: str
    distance: float
    similarity: float | None  # Rekognition's similarity when the matched face was recognised


@dataclass(frozen=True)
class StrangerHit:
    """A crop matched to a face Rekognition matched to nobody in the session moments ago."""

    distance: float
    searched_ms: int


@dataclass(frozen=True)
class Look:
    """What the session's kept faces said of one crop."""

    hit: Hit | None = None
    embedding: np.ndarray | None = None
    embedded: bool = False  # the worker looked at the crop (embedding None then: it found no face)
    stranger: StrangerHit | None = None


NO_LOOK = Look()


@dataclass
class _Stranger:
    embedding: np.ndarray
    searched_ms: int  # its last Rekognition search
    retry_ms: int  # reused this long after its search


@dataclass
class _Kept:
    faces: dict[str, list[tuple[np.ndarray, float | None]]]
    used_ms: int  # the session's last crop (matched or kept)
    strangers: list[_Stranger] = field(default_factory=list)


class SessionFaces:
    """Per session: the kept embeddings of recognised students; thread-safe, bounded."""

    def __init__(self, stats: Any, match_distance: float, small_face_px: int, clock: Any) -> None:
        self.stats = stats
        self.match_distance = match_distance
        self.small_face_px = small_face_px
        self.clock = clock
        self._sessions: OrderedDict[str, _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self._disabled = False

    def _embedder(self) -> FaceEmbedder | None:
        if self._disabled:
            return None
        try:
            return FaceEmbedder.shared()
        except Exception as exc:  # dlib or its models missing: every crop is searched, as without the cache
            self._disabled = True
            log_event(log, "session_faces_disabled", level=logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return None

    def warm_up(self) -> None:
        """Start the embedding worker now (spawn, dlib's models, the ONNX graph: seconds of CPU) rather
        than at the first crop, which would otherwise wait for it; returns at once."""
        embedder = self._embedder()
        if embedder is not None:
            embedder.submit(np.zeros((8, 8, 3), np.uint8))  # no face: the worker just loads and answers

    def _usable(self, face_px: int | None) -> bool:
        return face_px is None or face_px >= self.small_face_px

    def match(self, session_id: str, bgr: np.ndarray, face_px: int | None) -> Look:
        """The student this crop shows among the session's kept faces, or a kept stranger it shows
        (both None: search it), with its embedding when the worker computed one (kept, should
        Rekognition recognise it or find nobody)."""
        with self._lock:
            self._drop_idle()
            kept = self._sessions.get(session_id)
            if kept is not None:
                kept.used_ms = self.clock()
            candidates = {s: list(faces) for s, faces in kept.faces.items()} if kept else {}
            strangers = list(kept.strangers) if kept else []
        usable = self._usable(face_px)  # a small face may be a stranger's look, never a hit
        if not ((candidates and usable) or strangers):
            return NO_LOOK
        looked, embedding = self._embed(bgr)
        if embedding is None:
            return Look(embedded=looked)
        nearest = sorted(
            (min(float(np.linalg.norm(embedding - face)) for face, _ in faces), student, faces)
            for student, faces in candidates.items()
        )
        if nearest:
            distance, student, faces = nearest[0]
            runner_up = nearest[1][0] if len(nearest) > 1 else None
            clear = runner_up is None or runner_up - distance >= MARGIN
            if usable and distance <= self.match_distance and clear:
                self.stats.inc("session_face_hits")
                similarity = max((s for _, s in faces if s is not None), default=None)
                return Look(Hit(student, round(distance, 3), similarity), embedding, embedded=True)
            if usable:
                self.stats.inc("session_face_misses")
            if distance <= self.match_distance:  # near a student: never taken for a stranger
                return Look(embedding=embedding, embedded=True)
        stranger = self._stranger(strangers, embedding)
        return Look(embedding=embedding, embedded=True, stranger=stranger)

    def _stranger(self, strangers: list[_Stranger], embedding: np.ndarray) -> StrangerHit | None:
        """The nearest kept stranger's look ``embedding`` is the same look of, within its retry time."""
        now = self.clock()
        nearest = min(
            (
                (distance, s.searched_ms)
                for s in strangers
                if now - s.searched_ms < s.retry_ms
                and (distance := float(np.linalg.norm(embedding - s.embedding))) <= SAME_LOOK_DISTANCE
            ),
            default=None,
        )
        if nearest is None:
            return None
        self.stats.inc("session_stranger_hits")
        return StrangerHit(round(nearest[0], 3), nearest[1])

    def _embed(self, bgr: np.ndarray) -> tuple[bool, np.ndarray | None]:
        """(whether the worker looked at the crop, the embedding of its face or None)."""
        embedder = self._embedder()
        if embedder is None:
            return False, None
        started = time.perf_counter()
        future: Future[np.ndarray | None] | None = None
        try:
            future = embedder.submit(bgr)
            embedding = future.result(timeout=EMBED_TIMEOUT_S)
        except Exception as exc:  # worker died or too slow: search the crop
            if future is not None:
                future.cancel()  # not started yet: the worker skips it
            self.stats.inc("session_face_errors")
            log_event(log, "session_face_error", level=logging.WARNING, error=f"{type(exc).__name__}: {exc}")
            return False, None
        self.stats.observe("session_face_ms", (time.perf_counter() - started) * 1000)
        if embedding is None:
            self.stats.inc("session_face_no_face")
        return True, embedding

    def remember(
        self,
        session_id: str,
        student_id: str,
        similarity: float | None,
        bgr: np.ndarray,
        face_px: int | None,
        look: Look = NO_LOOK,
    ) -> None:
        """Keep the face of a crop recorded as ``student_id``: at once when :meth:`match` already
        embedded it (``look``), else when the worker has computed it (the RESULT does not wait)."""
        if not self._usable(face_px):
            return
        self._with_embedding(bgr, look, lambda embedding: self._keep(session_id, student_id, similarity, embedding))

    def remember_stranger(self, session_id: str, bgr: np.ndarray, near_miss: bool, look: Look = NO_LOOK) -> None:
        """Keep the face of a crop Rekognition matched to nobody: a clear stranger, or a ``near_miss``
        (a best match under the threshold), reused for less long (see the module doc)."""
        retry_ms = NEAR_MISS_RETRY_MS if near_miss else STRANGER_RETRY_MS
        searched_ms = self.clock()
        self._with_embedding(
            bgr, look, lambda embedding: self._keep_stranger(session_id, _Stranger(embedding, searched_ms, retry_ms))
        )

    def _with_embedding(self, bgr: np.ndarray, look: Look, keep: Callable[[np.ndarray], None]) -> None:
        """``keep`` the crop's embedding: at once when :meth:`match` computed it (``look``), else when
        the worker has (the RESULT does not wait); nothing when no face was found."""
        if look.embedded:  # the worker has looked at this crop already: not twice
            if look.embedding is not None:
                keep(look.embedding)
            return
        embedder = self._embedder()
        if embedder is None:
            return

        def done(future: Future[np.ndarray | None]) -> None:
            try:
                result = future.result()
            except Exception:  # counted; the next crop tries again
                self.stats.inc("session_face_errors")
                return
            if result is not None:
                keep(result)

        try:
            embedder.submit(bgr).add_done_callback(done)
        except Exception:
            self.stats.inc("session_face_errors")

    def _keep_stranger(self, session_id: str, stranger: _Stranger) -> None:
        with self._lock:
            kept = self._kept_for(session_id, stranger.searched_ms)
            kept.strangers = [  # the same look searched before is replaced
                s for s in kept.strangers if np.linalg.norm(stranger.embedding - s.embedding) > SAME_LOOK_DISTANCE
            ]
            kept.strangers.append(stranger)  # the newest look, searched now
            del kept.strangers[:-STRANGERS_PER_SESSION]
        self.stats.inc("session_strangers_kept")

    def _keep(self, session_id: str, student_id: str, similarity: float | None, embedding: np.ndarray) -> None:
        with self._lock:
            faces = self._kept_for(session_id, self.clock()).faces.setdefault(student_id, [])
            faces.append((embedding, similarity))
            del faces[:-FACES_PER_STUDENT]
        self.stats.inc("session_faces_kept")

    def _kept_for(self, session_id: str, now: int) -> _Kept:
        """The session's kept faces, created if new, marked used at ``now`` and most recent; the least
        recently used sessions past MAX_SESSIONS and the idle ones are dropped (lock held)."""
        self._drop_idle()
        kept = self._sessions.setdefault(session_id, _Kept({}, now))
        kept.used_ms = now
        self._sessions.move_to_end(session_id)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return kept

    def _drop_idle(self) -> None:
        """Drop the faces of sessions without a crop for IDLE_MS (called with the lock held)."""
        cutoff = self.clock() - IDLE_MS
        for sid in [sid for sid, kept in self._sessions.items() if kept.used_ms < cutoff]:
            del self._sessions[sid]

    def forget_student(self, student_id: str) -> None:
        """Drop every kept face of ``student_id`` (the student was erased)."""
        with self._lock:
            for kept in self._sessions.values():
                kept.faces.pop(student_id, None)

    def forget_strangers(self) -> None:
        """Drop every kept stranger (a face was enrolled: it may be one of them)."""
        with self._lock:
            for kept in self._sessions.values():
                kept.strangers.clear()

    def sessions(self) -> int:
        """Sessions with kept faces."""
        with self._lock:
            return len(self._sessions)
