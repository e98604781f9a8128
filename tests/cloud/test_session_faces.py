"""A student the cloud already recognised in a session comes back as a new track: recorded without
a new Rekognition call (cloud.session_faces, issue 15 item 4). Real faces (shared assets), real dlib
embeddings in the worker process; the Rekognition stand-in counts its calls."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Future
from pathlib import Path

import cv2
import numpy as np
import pytest

from cloud.records import RecognitionOutcome
from cloud.service import AttendanceService
from cloud.session_faces import NEAR_MISS_RETRY_MS, STRANGER_RETRY_MS, FaceEmbedder, Look, SessionFaces
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.images import encode_jpeg
from common.metrics import Metrics
from common.protocol import Message, MessageType, make_image_message
from tests.conftest import require_asset

from .conftest import ImageMatchRecognizer
from .domain_support import T0, MsClock

#: The worker process starts at the first embedding (spawn + dlib's models).
WORKER_START_S = 60.0


def face_crop(person: str, n: int = 1, side: int = 160, shift: int = 0) -> np.ndarray:
    """An enrolment photo of ``person`` as an edge crop: at most ``side`` px, optionally shifted."""
    image = cv2.imread(str(require_asset(f"faces/enroll/{person}/{n}.jpg")))
    assert image is not None
    if shift:
        image = image[shift:, shift:]
    scale = side / max(image.shape[:2])
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def crop_message(pixels: np.ndarray, track: int, face_px: int = 100) -> Message:
    jpeg = encode_jpeg(pixels, 90)
    height, width = pixels.shape[:2]
    return make_image_message(
        MessageType.FACE_CROP,
        jpeg,
        width,
        height,
        "cam-1",
        "room-1",
        meta={"track_id": track, "quality": {"face_px": face_px}},
        ts={"captured": T0 - 500, "edge_sent": T0 - 100},
    )


def wait_kept(faces: SessionFaces, kept: int) -> None:
    deadline = time.monotonic() + WORKER_START_S
    while faces.stats.count("session_faces_kept") < kept and time.monotonic() < deadline:
        time.sleep(0.05)
    assert faces.stats.count("session_faces_kept") >= kept, "the recognised face was never kept"


def make_service(
    tmp_path: Path, recognizer: ImageMatchRecognizer | None = None, clock: MsClock | None = None, **settings: object
) -> AttendanceService:
    """Obama and Biden enrolled (with photos of their own), room-1 registered."""
    service = AttendanceService(
        SQLiteStore(tmp_path / "db.sqlite3"),
        LocalEvidenceStore(tmp_path),
        recognizer or ImageMatchRecognizer(),
        CloudSettings(data_dir=tmp_path, **settings),
        metrics=Metrics(),
        clock=clock or MsClock(),
    )
    for person, n in (("obama", 1), ("biden", 2)):
        service.create_student(person, person.title())
        service.enrol_photo(person, encode_jpeg(face_crop(person, n), 95))
    service.create_classroom("room-1", "Room 1")
    return service


@pytest.fixture
def svc(tmp_path: Path) -> AttendanceService:
    return make_service(tmp_path)


def test_a_student_who_comes_back_is_recorded_without_a_call(svc: AttendanceService) -> None:
    session = svc.open_session("room-1")
    recognizer = svc.recognizer
    first = svc.process_crop(crop_message(face_crop("obama"), track=1))
    assert (first.header.meta["status"], first.header.meta["student_id"]) == ("recognised", "obama")
    assert recognizer.calls["search"] == 1
    faces = svc.crops.faces
    assert faces is not None
    wait_kept(faces, 1)

    # Obama leaves and comes back: a new track, a slightly different crop.
    back = svc.process_crop(crop_message(face_crop("obama", shift=6, side=150), track=2))
    meta = back.header.meta
    assert (meta["status"], meta["student_id"], meta["reason"]) == ("recognised", "obama", "session_face")
    assert recognizer.calls["search"] == 1, "the returning student cost a Rekognition call"
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.student_id, record.sightings) == ("obama", 2)

    # Someone else is searched as before, and recorded as who Rekognition says.
    other = svc.process_crop(crop_message(face_crop("biden", 2), track=3))
    assert (other.header.meta["status"], other.header.meta["student_id"]) == ("recognised", "biden")
    assert other.header.meta.get("reason") != "session_face"
    assert recognizer.calls["search"] == 2
    counters = svc.metrics()["counters"]
    assert counters["session_face_hits"] == 1 and counters["session_face_misses"] == 1


def test_faces_are_kept_per_session_and_small_faces_are_searched(svc: AttendanceService) -> None:
    first = svc.open_session("room-1")
    svc.process_crop(crop_message(face_crop("obama"), track=1))
    faces = svc.crops.faces
    assert faces is not None
    wait_kept(faces, 1)
    # A small face is searched even in the session that knows it.
    small = svc.process_crop(crop_message(face_crop("obama", shift=4), track=2, face_px=40))
    assert small.header.meta.get("reason") != "session_face"
    assert svc.recognizer.calls["search"] == 2
    # The next class starts from nothing: its first sighting of Obama is searched.
    svc.close_session(first.session_id)
    svc.open_session("room-1", name="next class")
    again = svc.process_crop(crop_message(face_crop("obama", shift=6), track=3))
    assert (again.header.meta["student_id"], again.header.meta.get("reason")) == ("obama", None)
    assert svc.recognizer.calls["search"] == 3


def test_off_searches_every_crop(tmp_path: Path) -> None:
    service = make_service(tmp_path, session_face_cache=False)
    service.open_session("room-1")
    assert service.crops.faces is None
    for track in (1, 2):
        service.process_crop(crop_message(face_crop("obama", shift=3 * track), track=track))
    assert service.recognizer.calls["search"] == 2


def test_an_erased_student_is_forgotten(svc: AttendanceService) -> None:
    svc.open_session("room-1")
    svc.process_crop(crop_message(face_crop("obama"), track=1))
    faces = svc.crops.faces
    assert faces is not None
    wait_kept(faces, 1)
    svc.delete_student("obama")
    assert all(not kept.faces for kept in faces._sessions.values())
    back = svc.process_crop(crop_message(face_crop("obama", shift=6), track=2))
    assert back.header.meta.get("reason") != "session_face" and back.header.meta["status"] != "recognised"


def test_faces_of_an_idle_session_are_dropped_after_an_hour() -> None:
    clock = MsClock()
    faces = SessionFaces(Metrics(), match_distance=0.45, small_face_px=64, clock=clock)
    faces._keep("s-1", "obama", 99.0, np.zeros(128, dtype=np.float32))
    assert faces.sessions() == 1
    clock.t += 3_599_000
    faces._keep("s-2", "biden", 99.0, np.ones(128, dtype=np.float32))
    assert faces.sessions() == 2  # s-1 was last used 59:59 ago
    clock.t += 2_000
    look = faces.match("s-1", np.zeros((10, 10, 3), np.uint8), 100)
    assert look.hit is None and not look.embedded
    assert faces.sessions() == 1  # s-1 dropped (no embedding computed for it); s-2 is recent


def test_a_crop_the_worker_looked_at_is_not_embedded_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[np.ndarray] = []

    class CountingEmbedder:
        def submit(self, bgr: np.ndarray) -> Future[np.ndarray | None]:
            submitted.append(bgr)
            done: Future[np.ndarray | None] = Future()
            done.set_result(np.zeros(128, dtype=np.float32))
            return done

    monkeypatch.setattr(FaceEmbedder, "shared", classmethod(lambda cls: CountingEmbedder()))
    faces = SessionFaces(Metrics(), match_distance=0.45, small_face_px=64, clock=MsClock())
    crop = np.zeros((10, 10, 3), np.uint8)
    faces.remember("s-1", "obama", 99.0, crop, 100, Look(embedded=True))  # looked at: no face found
    assert submitted == [] and faces.sessions() == 0
    faces.remember("s-1", "obama", 99.0, crop, 100)  # never looked at: the worker embeds it
    assert len(submitted) == 1 and faces.sessions() == 1


class FloorRecognizer(ImageMatchRecognizer):
    """As Rekognition searched down to its floor: a face like no enrolled one comes back with no
    match at all (similarity None); a near miss keeps its similarity."""

    def __init__(self, floor: float) -> None:
        super().__init__()
        self.floor = floor

    def search(self, image: bytes) -> RecognitionOutcome:
        outcome = super().search(image)
        if outcome.reason == "no_match" and (outcome.similarity or 0.0) < self.floor:
            return dataclasses.replace(outcome, similarity=None)
        return outcome


def wait_strangers(faces: SessionFaces, kept: int) -> None:
    deadline = time.monotonic() + WORKER_START_S
    while faces.stats.count("session_strangers_kept") < kept and time.monotonic() < deadline:
        time.sleep(0.05)
    assert faces.stats.count("session_strangers_kept") >= kept, "the stranger's face was never kept"


def test_a_stranger_who_comes_back_costs_no_call_until_the_retry_time(tmp_path: Path) -> None:
    clock = MsClock()
    svc = make_service(tmp_path, recognizer=FloorRecognizer(floor=80.0), clock=clock)
    session = svc.open_session("room-1")
    faces = svc.crops.faces
    assert faces is not None
    first = svc.process_crop(crop_message(face_crop("guido_van_rossum"), track=1))
    assert (first.header.meta["status"], first.header.meta["reason"]) == ("unknown", "no_match")
    wait_strangers(faces, 1)

    # The stranger comes back as a new track: recorded as an unknown face for review, no call.
    back = svc.process_crop(crop_message(face_crop("guido_van_rossum", shift=3), track=2))
    assert (back.header.meta["status"], back.header.meta["reason"]) == ("unknown", "session_stranger")
    assert svc.recognizer.calls["search"] == 1
    assert len(svc.list_unknown_faces()) == 2
    # An enrolled student is still searched and recognised, never taken for the stranger.
    obama = svc.process_crop(crop_message(face_crop("obama"), track=3))
    assert (obama.header.meta["status"], obama.header.meta["student_id"]) == ("recognised", "obama")
    assert svc.recognizer.calls["search"] == 2

    # After STRANGER_RETRY_MS the stranger is searched again (and kept again).
    clock.t += STRANGER_RETRY_MS
    again = svc.process_crop(crop_message(face_crop("guido_van_rossum", shift=2), track=4))
    assert again.header.meta["reason"] == "no_match"
    assert svc.recognizer.calls["search"] == 3
    assert svc.metrics()["counters"]["session_stranger_hits"] == 1
    assert svc.attendance_for_session(session.session_id)[0].student_id == "obama"


def test_a_near_miss_is_reused_only_for_the_same_look_and_briefly(tmp_path: Path) -> None:
    clock = MsClock()
    svc = make_service(tmp_path, clock=clock)  # ImageMatchRecognizer: a no-match keeps its best similarity
    svc.open_session("room-1")
    faces = svc.crops.faces
    assert faces is not None
    first = svc.process_crop(crop_message(face_crop("guido_van_rossum"), track=1))
    assert first.header.meta["reason"] == "no_match" and first.header.meta.get("similarity") is not None
    wait_strangers(faces, 1)
    same_look = svc.process_crop(crop_message(face_crop("guido_van_rossum", shift=1), track=2))
    assert same_look.header.meta["reason"] == "session_stranger"
    assert svc.recognizer.calls["search"] == 1
    # Another photo of him (another pose: perhaps the look Rekognition would match) is searched.
    other_look = svc.process_crop(crop_message(face_crop("guido_van_rossum", 2), track=3))
    assert other_look.header.meta["reason"] == "no_match"
    assert svc.recognizer.calls["search"] == 2
    clock.t += NEAR_MISS_RETRY_MS  # and the same look again after the near miss's retry time
    svc.process_crop(crop_message(face_crop("guido_van_rossum", shift=2), track=4))
    assert svc.recognizer.calls["search"] == 3


def test_a_stranger_enrolled_meanwhile_is_searched_at_once(tmp_path: Path) -> None:
    svc = make_service(tmp_path, recognizer=FloorRecognizer(floor=80.0))
    svc.open_session("room-1")
    faces = svc.crops.faces
    assert faces is not None
    svc.process_crop(crop_message(face_crop("guido_van_rossum"), track=1))
    wait_strangers(faces, 1)
    svc.create_student("guido", "Guido")
    svc.enrol_photo("guido", encode_jpeg(face_crop("guido_van_rossum"), 95))
    back = svc.process_crop(crop_message(face_crop("guido_van_rossum", shift=3), track=2))
    assert (back.header.meta["status"], back.header.meta["student_id"]) == ("recognised", "guido")
    assert svc.recognizer.calls["search"] == 2


def test_a_stranger_is_reused_only_for_the_same_look(monkeypatch: pytest.MonkeyPatch) -> None:
    stranger = np.zeros(128, dtype=np.float32)
    looks: list[np.ndarray] = []

    class FixedEmbedder:
        def submit(self, bgr: np.ndarray) -> Future[np.ndarray | None]:
            done: Future[np.ndarray | None] = Future()
            done.set_result(looks.pop(0))
            return done

    def at(distance: float) -> np.ndarray:
        look = stranger.copy()
        look[0] = distance
        return look

    monkeypatch.setattr(FaceEmbedder, "shared", classmethod(lambda cls: FixedEmbedder()))
    clock = MsClock()
    faces = SessionFaces(Metrics(), match_distance=0.45, small_face_px=64, clock=clock)
    crop = np.zeros((10, 10, 3), np.uint8)
    looks.append(stranger)
    faces.remember_stranger("s-1", crop, near_miss=False)  # a clear stranger
    looks.extend([at(0.25), at(0.15), at(0.15), at(0.15)])
    assert faces.match("s-1", crop, 100).stranger is None  # another look: searched
    assert faces.match("s-1", crop, 100).stranger is not None  # the same look
    assert faces.match("s-1", crop, 40).stranger is not None  # a small face too
    clock.t += STRANGER_RETRY_MS
    assert faces.match("s-1", crop, 100).stranger is None  # searched again after the retry time


def test_warm_up_starts_the_worker_before_the_first_crop(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[np.ndarray] = []

    class CountingEmbedder:
        def submit(self, bgr: np.ndarray) -> Future[np.ndarray | None]:
            submitted.append(bgr)
            return Future()  # never answered: warm_up does not wait

    monkeypatch.setattr(FaceEmbedder, "shared", classmethod(lambda cls: CountingEmbedder()))
    SessionFaces(Metrics(), match_distance=0.45, small_face_px=64, clock=MsClock()).warm_up()
    assert len(submitted) == 1

    def unavailable(cls: type) -> None:
        raise RuntimeError("dlib missing")

    monkeypatch.setattr(FaceEmbedder, "shared", classmethod(unavailable))
    faces = SessionFaces(Metrics(), match_distance=0.45, small_face_px=64, clock=MsClock())
    faces.warm_up()  # logged, not raised: every crop is then searched
    assert faces._embedder() is None
