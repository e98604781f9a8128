"""Person boxes beside the face path: the person detector no longer sits between a frame and its
face crops.

A face crop needs the frame's faces (YuNet, ~10-20 ms) and a track; the person detector (YOLO,
~200 ms of CPU for a whole frame here) only keeps tracks steady and tells people apart. So each
frame is handled in two parts:

1. the face path (the worker): faces, then the camera's latest person boxes - each moved by the
   displacement of the face it held when it was detected (:meth:`PersonBoxes.follow`) - then
   association, tracking and the crops, which leave at once;
2. the people path (:class:`PeopleStage`): the person detector (with its motion regions) on the
   camera's newest frame, whose boxes the camera's next frames use.

With ``threaded`` the people path runs on its own thread at the detector's nice value, one frame
per camera waiting at most (a newer frame replaces it: ``people_frames_superseded``), cameras
served oldest first. When the detector keeps up, boxes are one frame old; when it does not
(many cameras), they get older but faces and crops keep flowing instead of frames queueing or
being dropped. Without ``threaded`` (the attendance evaluation, tests) the detector runs at once
after each frame's crops, so a run is deterministic: the boxes are always the previous frame's.

A scene cut or a new frame size ends a camera's boxes (they belong to another picture); boxes
detected before that are ignored when they arrive (the camera's ``epoch``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from common.bounded import MAX_CAMERAS
from common.logs import log_event
from common.metrics import Metrics

from .association import assign_faces
from .detection import Detection, PersonDetector, detect_for_camera
from .faces import Face
from .track_matching import centre, centre_distance

FaceBox = tuple[int, int, int, int]

#: Most pixel bytes of frames waiting for the people thread (one per camera at most); past it the
#: frame that waited longest is dropped (``people_frames_dropped``): its camera's boxes get older.
MAX_WAITING_BYTES = 128 * 1024 * 1024

#: Boxes older than this (camera time) are dropped: with the detector far behind (many cameras on a
#: loaded edge), a box whose person left and whose face never came back would otherwise stay forever.
MAX_BOX_AGE_MS = 30_000

#: A face is the same face as a person's anchor face when their centres are closer than this many
#: face sizes (the larger side of the anchor face).
FOLLOW_MAX_SHIFT = 1.5


@dataclass
class _Person:
    detection: Detection
    face: FaceBox | None  # the face this person held when last seen (anchor), if any


@dataclass
class _Camera:
    shape: tuple[int, ...]
    epoch: int = 0
    people: list[_Person] = field(default_factory=list)
    detected_ms: int | None = None  # camera time of the frame the boxes were detected on


class PersonBoxes:
    """Each camera's latest person boxes, moved along with their faces between detections.
    Thread-safe; at most ``max_cameras`` cameras (least recently seen forgotten first)."""

    def __init__(self, max_cameras: int = MAX_CAMERAS) -> None:
        self.max_cameras = max_cameras
        self._cameras: OrderedDict[str, _Camera] = OrderedDict()
        self._lock = threading.Lock()

    def follow(
        self, camera_id: str, shape: tuple[int, ...], faces: list[Face], cut: bool, camera_ms: int | None = None
    ) -> tuple[list[Detection], int]:
        """The person boxes for a new frame of ``camera_id`` (at ``camera_ms``) and the camera's epoch
        (pass it to :meth:`update`). A scene cut or a new frame size ends the camera's boxes (none
        returned); boxes detected over ``MAX_BOX_AGE_MS`` before ``camera_ms`` are dropped."""
        with self._lock:
            state = self._cameras.pop(camera_id, None)
            if state is None:
                state = _Camera(shape)
            elif cut or state.shape != shape:
                state = _Camera(shape, epoch=state.epoch + 1)
            elif (
                camera_ms is not None
                and state.detected_ms is not None
                and abs(camera_ms - state.detected_ms) > MAX_BOX_AGE_MS
            ):
                state.people, state.detected_ms = [], None
            self._move_with_faces(state, faces)
            self._cameras[camera_id] = state
            while len(self._cameras) > self.max_cameras:
                self._cameras.popitem(last=False)
            return [p.detection for p in state.people], state.epoch

    def update(
        self,
        camera_id: str,
        epoch: int,
        detections: list[Detection],
        faces: list[Face],
        width: int,
        height: int,
        camera_ms: int | None = None,
    ) -> bool:
        """New boxes detected on a frame of ``camera_id`` whose faces were ``faces``. Ignored (False)
        when the camera moved on to another picture (``epoch``) or was forgotten meanwhile."""
        people = []
        for subject in assign_faces(detections, faces, width, height):
            if subject.person is not None:
                people.append(_Person(subject.person, subject.face.box if subject.face is not None else None))
        with self._lock:
            state = self._cameras.get(camera_id)
            if state is None or state.epoch != epoch:
                return False
            state.people, state.detected_ms = people, camera_ms
            return True

    def age_ms(self, camera_id: str, camera_ms: int) -> int | None:
        """How old (camera time) the boxes of ``camera_id`` are at ``camera_ms`` (None: none yet)."""
        with self._lock:
            state = self._cameras.get(camera_id)
            if state is None or state.detected_ms is None:
                return None
            return max(0, camera_ms - state.detected_ms)

    def forget(self, camera_id: str) -> None:
        """Drop a camera (its stream ended)."""
        with self._lock:
            self._cameras.pop(camera_id, None)

    @staticmethod
    def _move_with_faces(state: _Camera, faces: list[Face]) -> None:
        """Move each anchored person box by its face's displacement: the nearest of ``faces``
        within ``FOLLOW_MAX_SHIFT`` face sizes of its anchor, each face used once (closest first)."""
        pairs = []
        for pi, person in enumerate(state.people):
            if person.face is None:
                continue
            size = max(person.face[2] - person.face[0], person.face[3] - person.face[1], 1)
            for fi, face in enumerate(faces):
                distance = centre_distance(face.box, person.face)
                if distance <= FOLLOW_MAX_SHIFT * size:
                    pairs.append((distance, pi, fi))
        used_people: set[int] = set()
        used_faces: set[int] = set()
        for _, pi, fi in sorted(pairs):
            if pi in used_people or fi in used_faces:
                continue
            used_people.add(pi)
            used_faces.add(fi)
            person, face = state.people[pi], faces[fi]
            anchor = person.face
            if anchor is None:  # only anchored people were paired
                continue
            (ax, ay), (fx, fy) = centre(anchor), centre(face.box)
            dx, dy = fx - ax, fy - ay
            d = person.detection
            x1, y1, x2, y2 = d.box
            state.people[pi] = _Person(
                Detection((x1 + dx, y1 + dy, x2 + dx, y2 + dy), d.score, d.class_id, d.class_name), face.box
            )


@dataclass
class _Job:
    camera_id: str
    epoch: int
    frame: np.ndarray
    faces: list[Face]
    camera_ms: int | None


class PeopleStage:
    """Runs the person detector for :class:`PersonBoxes`: at once (``threaded=False``) or on its
    own thread on each camera's newest frame (``start``/``stop``)."""

    def __init__(
        self,
        detector: PersonDetector,
        boxes: PersonBoxes,
        metrics: Metrics,
        logger: logging.Logger | None = None,
        threaded: bool = False,
    ) -> None:
        self.detector = detector
        self.boxes = boxes
        self.metrics = metrics
        self.log = logger or logging.getLogger("rollcall.edge")
        self.threaded = threaded
        self.max_waiting_bytes = MAX_WAITING_BYTES
        self._waiting: OrderedDict[str, _Job] = OrderedDict()
        self._waiting_bytes = 0
        self._ready = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def submit(
        self, camera_id: str, epoch: int, frame: np.ndarray, faces: list[Face], camera_ms: int | None = None
    ) -> None:
        """Detect the people of ``frame`` (after its crops left): now, or on the stage's thread,
        where a newer frame of the same camera replaces one still waiting."""
        job = _Job(camera_id, epoch, frame, faces, camera_ms)
        if not self.threaded:
            self._run(job)
            return
        with self._ready:
            replaced = self._waiting.pop(camera_id, None)
            if replaced is not None:
                self._waiting_bytes -= replaced.frame.nbytes
                self.metrics.inc("people_frames_superseded")
            self._waiting[camera_id] = job  # the end of the queue: cameras served oldest first
            self._waiting_bytes += frame.nbytes
            while len(self._waiting) > 1 and (
                len(self._waiting) > self.boxes.max_cameras or self._waiting_bytes > self.max_waiting_bytes
            ):
                _, dropped = self._waiting.popitem(last=False)
                self._waiting_bytes -= dropped.frame.nbytes
                self.metrics.inc("people_frames_dropped")
            self.metrics.set_gauge("people_waiting", len(self._waiting))
            self._ready.notify()

    def forget(self, camera_id: str) -> None:
        """Drop a camera's waiting frame and its boxes (its stream ended)."""
        with self._ready:
            job = self._waiting.pop(camera_id, None)
            if job is not None:
                self._waiting_bytes -= job.frame.nbytes
        self.boxes.forget(camera_id)
        forget = getattr(self.detector, "forget", None)
        if forget is not None:
            forget(camera_id)

    def start(self) -> PeopleStage:
        """Start the stage's thread (``threaded`` only)."""
        if self.threaded and self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="edge-people", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (the detection under way finishes); waiting frames are dropped."""
        with self._ready:
            self._stopping = True
            self._waiting.clear()
            self._waiting_bytes = 0
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._ready:
                while not self._waiting and not self._stopping:
                    self._ready.wait(0.5)
                if self._stopping:
                    return
                _, job = self._waiting.popitem(last=False)
                self._waiting_bytes -= job.frame.nbytes
                self.metrics.set_gauge("people_waiting", len(self._waiting))
            try:
                self._run(job)
            except Exception:  # deliberately broad: one bad frame must not stop person detection
                self.metrics.inc("people_errors")
                self.log.exception("person detection error", extra={"event": "people_error"})

    def _run(self, job: _Job) -> None:
        started = time.perf_counter()
        detections = detect_for_camera(self.detector, job.camera_id, job.frame)
        self.metrics.observe("inference_ms", (time.perf_counter() - started) * 1000)
        self.metrics.inc("people_frames_detected")
        self.metrics.inc("persons_detected", len(detections))
        height, width = job.frame.shape[:2]
        if not self.boxes.update(job.camera_id, job.epoch, detections, job.faces, width, height, job.camera_ms):
            self.metrics.inc("people_results_stale")
            log_event(self.log, "people_result_stale", level=logging.DEBUG, camera_id=job.camera_id)
