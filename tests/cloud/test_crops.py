"""cloud.crops.CropProcessor: the crop path on its own, and through the facade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.crop_times import video_position
from cloud.crops import CropProcessor, unknown_id_for
from cloud.records import RecognitionOutcome
from cloud.roster import Roster
from cloud.service import AttendanceService
from cloud.sessions import Sessions
from cloud.settings import CloudSettings
from common.images import encode_jpeg
from common.protocol import MessageType

from .conftest import ImageMatchRecognizer, synthetic_face
from .domain_support import counters, crop, make_deps


@pytest.fixture
def recognizer() -> ImageMatchRecognizer:
    return ImageMatchRecognizer()


@pytest.fixture
def crops(tmp_path: Path, recognizer: ImageMatchRecognizer) -> CropProcessor:
    deps = make_deps(tmp_path, recognizer)
    Roster(deps).create_student("ada", "Ada")
    Roster(deps).enrol_photo("ada", synthetic_face(1))
    return CropProcessor(deps, Sessions(deps))


@pytest.mark.parametrize("classroom", ["_lab", "-x", ".hidden", "Room 101", "x" * 65])
def test_unaddressable_classroom_is_refused_not_created(crops: CropProcessor, recognizer: ImageMatchRecognizer,
                                                        classroom: str) -> None:
    reply = crops.process_crop(crop(synthetic_face(1), classroom=classroom))
    assert reply.header.type is MessageType.RESULT
    assert (reply.header.meta["status"], reply.header.meta["reason"]) == ("error", "invalid_classroom_id")
    assert counters(crops.deps)["crops_rejected_invalid_classroom_id"] == 1
    assert crops.deps.store.list_classrooms() == [] and recognizer.calls["search"] == 0


def test_recognised_then_duplicate(crops: CropProcessor, recognizer: ImageMatchRecognizer) -> None:
    crops.sessions.create_classroom("room-1")
    session = crops.sessions.open_session("room-1")
    message = crop(synthetic_face(1), camera_ms=12_500)
    first = crops.process_crop(message)
    assert (first.header.meta["status"], first.header.meta["student_id"]) == ("recognised", "ada")
    assert first.header.meta["session_id"] == session.session_id
    [record] = crops.deps.store.attendance_for_session(session.session_id)
    assert record.first_source_ms == 12_500 and record.evidence_ref
    again = crops.process_crop(message)
    assert again.header.meta["duplicate"] is True and recognizer.calls["search"] == 1
    assert counters(crops.deps)["crops_duplicate"] == 1


def test_no_session_evidence_and_unknown(crops: CropProcessor, recognizer: ImageMatchRecognizer) -> None:
    crops.sessions.create_classroom("room-1")
    assert crops.process_crop(crop(synthetic_face(1))).header.meta["reason"] == "no_open_session"
    assert recognizer.calls["search"] == 0
    crops.sessions.open_session("room-1")
    small = crops.process_crop(crop(synthetic_face(5), purpose="evidence"))
    assert (small.header.meta["status"], small.header.meta["reason"]) == ("unknown", "too_small")
    stranger = crop(synthetic_face(9))
    unknown = crops.process_crop(stranger)
    assert unknown.header.meta["unknown_id"] == unknown_id_for(stranger.header.msg_id)
    assert recognizer.calls["search"] == 1
    assert {u.reason for u in crops.deps.store.list_unknown(None)} == {"too_small", "no_match"}


def test_failures_fail_closed(crops: CropProcessor, recognizer: ImageMatchRecognizer,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    crops.sessions.create_classroom("room-1")
    crops.sessions.open_session("room-1")
    recognizer.fail_next = "throttled"
    throttled = crop(synthetic_face(1))
    meta = crops.process_crop(throttled).header.meta
    assert (meta["status"], meta["reason"], meta["retry"]) == ("error", "throttled", True)  # the edge tries again
    assert crops.deps.store.list_unknown(None) == []  # an error is never an unknown face...
    again = crops.process_crop(throttled).header.meta  # ...nor remembered: the resent crop is searched
    assert (again["status"], again["student_id"], recognizer.calls["search"]) == ("recognised", "ada", 2)
    corrupt = crops.process_crop(crop(b"\xff\xd8\xff not a jpeg")).header.meta
    assert (corrupt["reason"], corrupt["retry"]) == ("image_header_unreadable", False)  # the crop itself is at fault

    def broken(msg_id: str) -> None:
        raise RuntimeError("db down")

    monkeypatch.setattr(crops.deps.store, "get_sighting", broken)
    failed = crops.process_crop(crop(synthetic_face(1)))
    assert (failed.header.meta["status"], failed.header.meta["reason"]) == ("error", "internal")
    assert counters(crops.deps)["crops_failed_internal"] == 1


def test_a_resent_crop_with_no_face_is_answered_without_a_second_search(
    crops: CropProcessor, recognizer: ImageMatchRecognizer
) -> None:
    crops.sessions.create_classroom("room-1")
    crops.sessions.open_session("room-1")
    flat = crop(encode_jpeg(np.full((96, 96, 3), 128, np.uint8)))  # the stand-in finds no face in it
    first = crops.process_crop(flat).header.meta
    again = crops.process_crop(flat).header.meta
    assert (first["status"], again["status"], again["duplicate"]) == ("no_face", "no_face", True)
    assert recognizer.calls["search"] == 1


def test_video_position() -> None:
    assert [video_position(v) for v in (0, 12_500, 10**11 - 1)] == [0, 12_500, 10**11 - 1]
    assert [video_position(v) for v in (-1, 10**11, 1.5, True, "5", None)] == [None] * 6


class _Counting:
    def __init__(self, inner: ImageMatchRecognizer) -> None:
        self.inner, self.searches = inner, 0

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def search(self, image: bytes) -> RecognitionOutcome:
        self.searches += 1
        return self.inner.search(image)


def test_facade_dependency_swaps_reach_the_crop_path(tmp_path: Path, recognizer: ImageMatchRecognizer) -> None:
    """``service.recognizer = wrapper`` (the evaluation runner) and ``service.settings = ...`` reach CropProcessor."""
    deps = make_deps(tmp_path, recognizer)
    service = AttendanceService(deps.store, deps.evidence, recognizer, deps.settings)
    service.create_student("ada", "Ada")
    service.enrol_photo("ada", synthetic_face(1))
    service.create_classroom("room-1")
    service.open_session("room-1")
    counting = _Counting(service.recognizer)  # type: ignore[arg-type]
    service.recognizer = counting  # type: ignore[assignment]
    assert service.crops.deps.recognizer is counting and service.roster.deps.recognizer is counting
    assert service.process_crop(crop(synthetic_face(1))).header.meta["status"] == "recognised"
    assert counting.searches == 1
    service.settings = CloudSettings(data_dir=tmp_path, max_crop_bytes=1024)
    assert service.process_crop(crop(synthetic_face(1, noise=3))).header.meta["reason"] == "oversize"
