"""AttendanceService: the facade's rules, with an honest image-matching recognizer
(and a Stubber-backed Rekognition recognizer for the fail-closed paths)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.stub import Stubber

from cloud.errors import Conflict, EnrolmentError, InvalidInput, NotFound, RecognitionUnavailable
from cloud.recognition import RekognitionRecognizer, make_rekognition_client
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.images import encode_jpeg
from common.metrics import Metrics
from common.protocol import Message, MessageType, make_image_message
from tests.common.bombs import jpeg_with_size, junk_before_sof, sof_offset

from .conftest import ImageMatchRecognizer, blank_image, synthetic_face
from .domain_support import T0, MsClock, crop

@pytest.fixture
def clock() -> MsClock:
    return MsClock()


@pytest.fixture
def recognizer() -> ImageMatchRecognizer:
    return ImageMatchRecognizer()


def make_service(store: Any, evidence: Any, recognizer: Any, clock: MsClock, **settings: Any) -> AttendanceService:
    return AttendanceService(store, evidence, recognizer, CloudSettings(**settings), metrics=Metrics(), clock=clock)


@pytest.fixture
def svc(tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock) -> AttendanceService:
    return make_service(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), recognizer, clock,
                        data_dir=tmp_path)


def enrolled(svc: AttendanceService, student: str = "ada", seed: int = 1) -> None:
    svc.create_student(student, student.title())
    svc.enrol_photo(student, synthetic_face(seed))


# ----------------------------------------------------------------------------- students
def test_student_crud_and_validation(svc: AttendanceService) -> None:
    s = svc.create_student("ada", "Ada Lovelace", "ada@example.org")
    assert s.to_dict()["email"] == "ada@example.org"
    with pytest.raises(Conflict):
        svc.create_student("ada", "Again")
    for bad in ("", "has space", "a/b", "x" * 65, None):
        with pytest.raises(InvalidInput):
            svc.create_student(bad, "Name")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        svc.create_student("bob", "  ")
    with pytest.raises(InvalidInput):
        svc.create_student("bob", "Bob", "not-an-email")
    assert svc.update_student("ada", name="Ada L.").name == "Ada L."
    assert svc.update_student("ada", email="").email is None
    assert [x.student_id for x in svc.list_students()] == ["ada"]
    with pytest.raises(NotFound):
        svc.get_student("nobody")
    svc.delete_student("ada")
    with pytest.raises(NotFound):
        svc.delete_student("ada")


def test_enrol_list_remove_faces(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    svc.create_student("ada", "Ada")
    e1 = svc.enrol_photo("ada", synthetic_face(1))
    e2 = svc.enrol_photo("ada", synthetic_face(1, noise=4))
    assert e1.student_id == "ada" and e1.face_id != e2.face_id
    assert svc.get_evidence(e1.photo_ref)[:3] == b"\xff\xd8\xff"
    assert {f.face_id for f in svc.list_faces("ada")} == {e1.face_id, e2.face_id}
    svc.remove_face("ada", e1.face_id)
    assert e1.face_id not in recognizer.faces and e2.face_id in recognizer.faces
    with pytest.raises(NotFound):
        svc.remove_face("ada", e1.face_id)
    with pytest.raises(NotFound):
        svc.enrol_photo("nobody", synthetic_face(1))
    svc.delete_student("ada")
    assert recognizer.faces == {}


def test_enrol_rejects_bad_photos(svc: AttendanceService) -> None:
    svc.create_student("ada", "Ada")
    with pytest.raises(EnrolmentError, match="no usable face"):
        svc.enrol_photo("ada", blank_image())
    with pytest.raises(EnrolmentError, match="not a readable"):
        svc.enrol_photo("ada", b"\xff\xd8\xff garbage")
    with pytest.raises(InvalidInput):
        svc.enrol_photo("ada", b"")
    assert issubclass(EnrolmentError, InvalidInput)
    assert svc.list_faces("ada") == []


def test_delete_student_keeps_everything_when_rekognition_down(tmp_path: Path, clock: MsClock, aws_env: None) -> None:
    client = make_rekognition_client("us-east-1", "http://127.0.0.1:1", 1.0)
    rec = RekognitionRecognizer(client, "c", metrics=Metrics(), sleep=lambda s: None)
    svc = make_service(SQLiteStore(":memory:"), LocalEvidenceStore(tmp_path), rec, clock)
    svc.create_student("ada", "Ada")
    with Stubber(client) as stub:
        stub.add_response("index_faces", {"FaceRecords": [{"Face": {"FaceId": "f1"}}]})
        svc.enrol_photo("ada", synthetic_face(1))
        stub.add_client_error("delete_faces", "AccessDeniedException", "denied", 403)
        with pytest.raises(RecognitionUnavailable):
            svc.delete_student("ada")
    assert svc.get_student("ada") and [f.face_id for f in svc.list_faces("ada")] == ["f1"]


# ----------------------------------------------------------------------------- sessions
def test_open_close_session(svc: AttendanceService, clock: MsClock) -> None:
    with pytest.raises(NotFound):
        svc.open_session("room-1")
    svc.create_classroom("room-1", "Room 1")
    s = svc.open_session("room-1", name="Maths")
    assert s.status == "open" and s.to_dict()["starts_at"].endswith("Z")
    with pytest.raises(Conflict):
        svc.open_session("room-1")
    assert svc.current_session("room-1").session_id == s.session_id
    clock.t += 1000
    closed = svc.close_session(s.session_id)
    assert closed.status == "closed" and closed.closed_ms == T0 + 1000
    with pytest.raises(Conflict):
        svc.close_session(s.session_id)
    assert svc.current_session("room-1") is None
    s2 = svc.open_session("room-1")  # a new one after closing is fine
    assert [x.session_id for x in svc.list_sessions("room-1", "open")] == [s2.session_id]
    assert [x.session_id for x in svc.list_sessions(status="closed")] == [s.session_id]
    with pytest.raises(InvalidInput):
        svc.list_sessions(status="bogus")
    with pytest.raises(NotFound):
        svc.get_session("nope")


def test_scheduled_session_opens_and_auto_closes(svc: AttendanceService, clock: MsClock) -> None:
    svc.create_classroom("room-1", "Room 1")
    s = svc.open_session("room-1", starts_at="2027-01-15T08:00:00Z", ends_at="2027-01-15T09:00:00+00:00")
    start, end = s.starts_ms, s.ends_ms
    assert end - start == 3_600_000 and s.scheduled
    clock.t = start - 1
    assert svc.get_session(s.session_id).status == "scheduled" and svc.current_session("room-1") is None
    clock.t = start
    assert svc.get_session(s.session_id).status == "open"
    assert svc.current_session("room-1").session_id == s.session_id
    clock.t = end
    got = svc.get_session(s.session_id)
    assert got.status == "closed" and got.to_dict()["closed_at"] == "2027-01-15T09:00:00Z"
    assert svc.current_session("room-1") is None


def test_scheduled_session_rules(svc: AttendanceService, clock: MsClock) -> None:
    svc.create_classroom("room-1", "Room 1")
    svc.open_session("room-1", starts_at="2027-01-15T08:00:00", ends_at="2027-01-15T09:00:00")  # naive = UTC
    with pytest.raises(Conflict):  # overlaps
        svc.open_session("room-1", starts_at="2027-01-15T08:30:00Z", ends_at="2027-01-15T10:00:00Z")
    later = svc.open_session("room-1", starts_at="2027-01-15T09:00:00Z", ends_at="2027-01-15T10:00:00Z")  # adjacent
    assert later.status == "scheduled"
    with pytest.raises(Conflict):  # an open-ended session now would overlap the future ones
        svc.open_session("room-1")
    with pytest.raises(InvalidInput):
        svc.open_session("room-1", starts_at="2027-02-01T10:00:00Z", ends_at="2027-02-01T09:00:00Z")
    with pytest.raises(InvalidInput):
        svc.open_session("room-1", starts_at="yesterday")
    with pytest.raises(InvalidInput):
        svc.open_session("room-1", ends_at="2020-01-01T00:00:00Z")
    cancelled = svc.close_session(later.session_id)  # cancelling a future session frees the slot
    assert cancelled.status == "closed"
    svc.open_session("room-1", starts_at="2027-01-15T09:00:00Z", ends_at="2027-01-15T09:30:00Z")


# ----------------------------------------------------------------------------- crops
def test_recognised_crop_records_attendance_once(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    message = crop(synthetic_face(1, noise=6), msg_id="m-1")
    result = svc.process_crop(message)
    meta = result.header.meta
    assert result.header.type is MessageType.RESULT
    assert (meta["status"], meta["student_id"], meta["session_id"], meta["ack_of"], meta["track_id"]) == \
        ("recognised", "ada", session.session_id, "m-1", 7)
    assert meta["similarity"] > 80
    assert {"captured", "edge_sent", "cloud_received", "recognised", "recorded"} <= set(result.header.ts)
    assert result.header.trace_id == message.header.trace_id and result.header.msg_id != "m-1"
    again = svc.process_crop(crop(synthetic_face(1, noise=6), msg_id="m-1"))  # same crop delivered twice
    assert again.header.meta["status"] == "recognised" and again.header.meta["duplicate"] is True
    svc.process_crop(crop(synthetic_face(1, noise=6), msg_id="m-2", camera="cam-2"))
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.student_id, record.name, record.sightings, record.camera_id) == ("ada", "Ada", 2, "cam-1")
    assert svc.get_evidence(record.evidence_ref)[:2] == b"\xff\xd8"
    assert recognizer.calls["search"] == 2  # the duplicate never reached the recognizer
    assert [r.session_id for r in svc.attendance_for_student("ada")] == [session.session_id]
    counters = svc.metrics()["counters"]
    assert counters["attendance_recorded"] == 2 and counters["crops_duplicate"] == 1


def test_unknown_face_stored_assigned_and_dismissed(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.create_student("bob", "Bob")
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    r1 = svc.process_crop(crop(synthetic_face(2), msg_id="u-1"))
    r2 = svc.process_crop(crop(synthetic_face(3), msg_id="u-2"))
    assert r1.header.meta["status"] == "unknown" and r1.header.meta["student_id"] is None
    assert svc.process_crop(crop(synthetic_face(2), msg_id="u-1")).header.meta["duplicate"] is True
    pending = svc.list_unknown_faces()
    assert sorted(u.msg_id for u in pending) == ["u-1", "u-2"]
    u1 = r1.header.meta["unknown_id"]
    record = svc.assign_unknown(u1, "bob", enrol=True)
    assert (record.student_id, record.session_id, record.sightings) == ("bob", session.session_id, 1)
    assert len(svc.list_faces("bob")) == 1  # the crop was enrolled
    with pytest.raises(Conflict):
        svc.assign_unknown(u1, "bob")
    dismissed = svc.dismiss_unknown(r2.header.meta["unknown_id"])
    assert dismissed.status == "dismissed"
    with pytest.raises(Conflict):
        svc.dismiss_unknown(dismissed.unknown_id)
    assert svc.list_unknown_faces() == []
    assert len(svc.list_unknown_faces(None)) == 2
    with pytest.raises(NotFound):
        svc.assign_unknown("nope", "bob")
    # bob is now enrolled: his face is recognised from here on
    assert svc.process_crop(crop(synthetic_face(2, noise=4), msg_id="u-3")).header.meta["student_id"] == "bob"


def test_no_face_and_errors_fail_closed(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    assert svc.process_crop(crop(blank_image(), msg_id="b-1")).header.meta["status"] == "no_face"
    recognizer.fail_next = "access_denied"
    result = svc.process_crop(crop(synthetic_face(1), msg_id="b-2"))  # would match ada
    assert (result.header.meta["status"], result.header.meta["student_id"], result.header.meta["reason"]) == \
        ("error", None, "access_denied")
    assert svc.attendance_for_session(session.session_id) == []
    assert svc.list_unknown_faces() == []


def _headers_only(side: int = 96) -> bytes:
    """A JPEG of ``side`` x ``side`` cut right after its frame header: readable header, no image."""
    jpeg = encode_jpeg(np.zeros((side, side, 3), np.uint8))
    pos = sof_offset(jpeg)
    return jpeg[: pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")]


@pytest.mark.parametrize("payload,reason", [
    (b"\xff\xd8\xff\xe0 not really a jpeg", "image_header_unreadable"),
    (b"\xff\xd8" + b"\0" * 5000, "oversize"),
    (_headers_only(), "corrupt_image"),
    (encode_jpeg(np.zeros((40, 50, 3), np.uint8)), "image_size_mismatch"),  # the message says 96x96
    (junk_before_sof(96), "image_header_unreadable"),
    (jpeg_with_size(encode_jpeg(np.zeros((96, 96, 3), np.uint8)), 2100, 2000), "image_too_large"),
])
def test_bad_crops_are_counted_errors(svc: AttendanceService, recognizer: ImageMatchRecognizer, payload: bytes, reason: str) -> None:
    svc.settings = CloudSettings(max_crop_bytes=4096)
    result = svc.process_crop(crop(payload))
    assert (result.header.meta["status"], result.header.meta["reason"]) == ("error", reason)
    assert svc.metrics()["counters"][f"crops_rejected_{reason}"] == 1
    assert recognizer.calls["search"] == 0


def test_no_open_session_is_not_recognised(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    result = svc.process_crop(crop(synthetic_face(1)))  # registered classroom, no session
    assert result.header.meta == {**result.header.meta, "status": "unknown", "reason": "no_open_session", "session_id": None}
    assert recognizer.calls["search"] == 0
    assert svc.metrics()["counters"]["crops_no_open_session"] == 1
    assert svc.list_unknown_faces(None) == []


def test_unknown_classroom_without_auto_create(tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock) -> None:
    svc = make_service(SQLiteStore(":memory:"), LocalEvidenceStore(tmp_path), recognizer, clock, auto_create_classrooms=False)
    result = svc.process_crop(crop(synthetic_face(1), classroom="ghost"))
    assert (result.header.meta["status"], result.header.meta["reason"]) == ("error", "unknown_classroom")
    with pytest.raises(NotFound):
        svc.get_classroom("ghost")


def test_auto_open_session_and_emotions(tmp_path: Path, recognizer: ImageMatchRecognizer, clock: MsClock) -> None:
    svc = make_service(SQLiteStore(":memory:"), LocalEvidenceStore(tmp_path), recognizer, clock,
                       auto_open_session=True, detect_emotions=True)
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    result = svc.process_crop(crop(synthetic_face(1, noise=3)))
    assert result.header.meta["status"] == "recognised" and result.header.meta["session_id"]
    [record] = svc.attendance_for_session(result.header.meta["session_id"])
    assert record.emotion == "CALM"


def test_deleted_student_face_is_never_recorded(svc: AttendanceService, recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.store.delete_student("ada")  # store-only delete: the collection still has the face
    svc.create_classroom("room-1", "Room 1")
    svc.open_session("room-1")
    result = svc.process_crop(crop(synthetic_face(1)))
    assert (result.header.meta["status"], result.header.meta["reason"]) == ("unknown", "stale_face")


def test_wrong_message_type_is_an_error(svc: AttendanceService) -> None:
    from common.protocol import Header

    result = svc.process_crop(Message(header=Header(type=MessageType.HEARTBEAT, camera_id="c", classroom_id="r")))
    assert (result.header.meta["status"], result.header.meta["reason"]) == ("error", "wrong_type")


def test_export_csv(svc: AttendanceService, tmp_path: Path) -> None:
    svc.create_student("ada", "=HYPERLINK(\"evil\")")
    svc.enrol_photo("ada", synthetic_face(1))
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    svc.process_crop(crop(synthetic_face(1, noise=3)))
    text = svc.export_csv(session.session_id)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1 and rows[0]["student_id"] == "ada" and rows[0]["sightings"] == "1"
    assert rows[0]["name"].startswith("'=")  # formula neutralised
    assert (tmp_path / "exports" / f"attendance-{session.session_id}.csv").read_text() == text


def test_purge_unknown_faces_after_retention(svc: AttendanceService, clock: MsClock) -> None:
    svc.create_classroom("room-1", "Room 1")
    svc.open_session("room-1")
    r = svc.process_crop(crop(synthetic_face(5), msg_id="old"))
    ref = svc.get_unknown(r.header.meta["unknown_id"]).evidence_ref
    clock.t += int(29 * 86_400_000)
    assert svc.purge_unknown_faces() == 0
    clock.t += int(2 * 86_400_000)
    assert svc.purge_unknown_faces() == 1
    assert svc.list_unknown_faces(None) == []
    with pytest.raises(NotFound):
        svc.get_evidence(ref)


def test_health_and_metrics(svc: AttendanceService) -> None:
    health = svc.health()
    assert health["status"] == "ok" and health["storage"]["ok"] and health["rekognition"]["ok"]
    metrics = svc.metrics()
    assert {"counters", "gauges", "timings", "streams_ended"} <= set(metrics)


def test_health_reports_rekognition_down(tmp_path: Path, clock: MsClock, aws_env: None) -> None:
    client = make_rekognition_client("us-east-1", "http://127.0.0.1:1", 1.0)
    rec = RekognitionRecognizer(client, "c", metrics=Metrics(), sleep=lambda s: None)
    svc = make_service(SQLiteStore(":memory:"), LocalEvidenceStore(tmp_path), rec, clock)
    health = svc.health()
    assert health["status"] == "degraded" and not health["rekognition"]["ok"]
    assert "unreachable" in health["rekognition"]["detail"]


# ----------------------------------------------------------------------------- Stubber-backed end to end
def test_process_crop_with_stubbed_rekognition(tmp_path: Path, clock: MsClock, aws_env: None) -> None:
    client = make_rekognition_client("us-east-1", "http://127.0.0.1:1", 1.0)
    sleeps: list[float] = []
    rec = RekognitionRecognizer(client, "rc", max_retries=2, backoff_s=0.01, metrics=Metrics(), sleep=sleeps.append)
    svc = make_service(SQLiteStore(":memory:"), LocalEvidenceStore(tmp_path), rec, clock)
    svc.create_student("ada", "Ada")
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    image = synthetic_face(1)
    with Stubber(client) as stub:
        stub.add_client_error("search_faces_by_image", "ThrottlingException", "", 400)
        stub.add_response("search_faces_by_image", {"FaceMatches": [{"Similarity": 99.1, "Face": {"FaceId": "f", "ExternalImageId": "ada"}}]})
        ok = svc.process_crop(crop(image, msg_id="s-1"))
        for _ in range(3):
            stub.add_client_error("search_faces_by_image", "ThrottlingException", "", 400)
        throttled = svc.process_crop(crop(image, msg_id="s-2"))
        stub.add_client_error("search_faces_by_image", "AccessDeniedException", "", 403)
        denied = svc.process_crop(crop(image, msg_id="s-3"))
        stub.assert_no_pending_responses()
    assert (ok.header.meta["status"], ok.header.meta["student_id"]) == ("recognised", "ada")
    assert (throttled.header.meta["status"], throttled.header.meta["reason"]) == ("error", "throttled")
    assert (denied.header.meta["status"], denied.header.meta["reason"]) == ("error", "access_denied")
    [record] = svc.attendance_for_session(session.session_id)
    assert record.sightings == 1 and record.best_similarity == pytest.approx(99.1)


# ----------------------------------------------------------------------------- both backends
def test_crop_flow_on_every_backend(store: Any, evidence: Any, recognizer: ImageMatchRecognizer, clock: MsClock) -> None:
    svc = make_service(store, evidence, recognizer, clock)
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    for msg_id in ("a", "a", "b"):
        svc.process_crop(crop(synthetic_face(1, noise=3), msg_id=msg_id))
    r = svc.process_crop(crop(synthetic_face(9), msg_id="c"))
    [record] = svc.attendance_for_session(session.session_id)
    assert (record.student_id, record.sightings) == ("ada", 2)
    assert svc.get_evidence(record.evidence_ref)[:2] == b"\xff\xd8"
    assert [u.unknown_id for u in svc.list_unknown_faces()] == [r.header.meta["unknown_id"]]
    assert "ada" in svc.export_csv(session.session_id)


def test_video_position_in_record_and_csv_on_every_backend(store: Any, tmp_path: Path, recognizer: ImageMatchRecognizer,
                                                          clock: MsClock) -> None:
    svc = make_service(store, LocalEvidenceStore(tmp_path), recognizer, clock)
    enrolled(svc, "ada", seed=1)
    enrolled(svc, "bob", seed=2)
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    # ada: two crops of a replayed video (meta.camera_ms = ms into the file)
    svc.process_crop(crop(synthetic_face(1, noise=3), msg_id="a1", camera_ms=12_300))
    svc.process_crop(crop(synthetic_face(1, noise=3), msg_id="a2", camera_ms=45_000))
    # bob: a live camera (camera_ms is epoch ms) and malformed values: no video position
    for msg_id, camera_ms in (("b1", T0 - 500), ("b2", -1), ("b3", True), ("b4", "12"), ("b5", 10**11)):
        svc.process_crop(crop(synthetic_face(2, noise=3), msg_id=msg_id, camera_ms=camera_ms))
    records = {r.student_id: r for r in svc.attendance_for_session(session.session_id)}
    assert (records["ada"].first_source_ms, records["ada"].last_source_ms, records["ada"].sightings) == (12_300, 45_000, 2)
    assert (records["bob"].first_source_ms, records["bob"].last_source_ms, records["bob"].sightings) == (None, None, 5)
    assert svc.store.get_sighting("a1").source_ms == 12_300 and svc.store.get_sighting("b1").source_ms is None
    assert records["ada"].to_dict()["first_source_ms"] == 12_300  # the JSON API's dict carries the new fields
    text = svc.export_csv(session.session_id)
    header = text.splitlines()[0].split(",")
    assert header == ["session_id", "classroom_id", "session_name", "student_id", "name", "first_seen", "last_seen",
                      "camera_id", "best_similarity", "sightings", "evidence_ref", "first_seen_video_s", "last_seen_video_s",
                      "state", "on_roster", "marked_by", "marked_at", "reason"]
    rows = {r["student_id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["ada"]["first_seen_video_s"], rows["ada"]["last_seen_video_s"]) == ("12.3", "45.0")
    assert (rows["bob"]["first_seen_video_s"], rows["bob"]["last_seen_video_s"]) == ("", "")


def test_internal_failure_fails_closed_and_logs(svc: AttendanceService, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    svc.create_classroom("room-1", "Room 1")
    svc.open_session("room-1")

    def broken(*_: Any) -> None:
        raise OSError("disk full")

    svc.store.add_unknown = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="rollcall"):
        result = svc.process_crop(crop(synthetic_face(4)))
    assert (result.header.meta["status"], result.header.meta["reason"]) == ("error", "internal")
    assert any(getattr(r, "event", None) == "crop_processing_failed" and "disk full" in r.traceback for r in caplog.records)


def test_evidence_crop_is_kept_for_review_and_never_searched(svc: AttendanceService,
                                                             recognizer: ImageMatchRecognizer) -> None:
    enrolled(svc)
    svc.create_classroom("room-1", "Room 1")
    session = svc.open_session("room-1")
    message = crop(synthetic_face(1, noise=6), msg_id="tiny-1")
    message.header.meta["purpose"] = "evidence"
    meta = svc.process_crop(message).header.meta
    assert (meta["status"], meta["reason"], meta["student_id"], meta["session_id"]) == \
        ("unknown", "too_small", None, session.session_id)
    assert recognizer.calls["search"] == 0  # a face too small to recognise is never searched
    [unknown] = svc.list_unknown_faces()
    assert (unknown.reason, unknown.msg_id) == ("too_small", "tiny-1")
    assert svc.attendance_for_session(session.session_id) == []
    assert svc.metrics()["counters"]["evidence_crops"] == 1
