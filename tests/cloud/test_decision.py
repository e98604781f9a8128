"""The decision rule: confident matches count at once, others need a second look of the track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cloud.decision import MatchDecision, crop_fingerprint
from cloud.records import RecognitionOutcome
from cloud.recognition import outcome_from_matches
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics

from .conftest import ImageMatchRecognizer, synthetic_face
from .domain_support import MsClock, crop


def match(student: str, similarity: float, runner_up: float | None = None) -> RecognitionOutcome:
    return RecognitionOutcome(status="recognised", student_id=student, similarity=similarity,
                              runner_up_similarity=runner_up)


def test_best_student_and_runner_up_from_search_matches() -> None:
    matches = [
        {"Similarity": 97.0, "Face": {"ExternalImageId": "ada", "FaceId": "f1"}},
        {"Similarity": 95.0, "Face": {"ExternalImageId": "ada", "FaceId": "f2"}},  # same student: not a runner-up
        {"Similarity": 61.0, "Face": {"ExternalImageId": "bob", "FaceId": "f3"}},
    ]
    outcome = outcome_from_matches(matches, 80.0)
    assert (outcome.status, outcome.student_id, outcome.similarity, outcome.runner_up_similarity, outcome.face_id) == \
        ("recognised", "ada", 97.0, 61.0, "f1")
    below = outcome_from_matches([{"Similarity": 79.9, "Face": {"ExternalImageId": "ada"}}], 80.0)
    assert (below.status, below.reason, below.similarity) == ("unknown", "no_match", 79.9)
    assert outcome_from_matches([], 80.0).status == "unknown"


def test_confident_match_is_accepted_at_once() -> None:
    decision = MatchDecision(confident_similarity=90, min_margin=10)
    assert decision.decide(("s", "cam", 1), match("ada", 99.0, 60.0)).status == "recognised"
    assert decision.decide(("s", "cam", 2), match("ada", 95.0)).status == "recognised"  # nobody else close
    assert decision.pending() == 0


def test_weak_or_close_match_needs_an_agreeing_second_look() -> None:
    decision = MatchDecision(confident_similarity=90, min_margin=10)
    key = ("s", "cam", 1)
    first = decision.decide(key, match("ada", 84.0))
    assert (first.status, first.reason, first.candidate_id) == ("unknown", "unconfirmed", "ada")
    second = decision.decide(key, match("ada", 86.0))
    assert (second.status, second.student_id, second.reason) == ("recognised", "ada", "confirmed")
    # A close call between two students is not confident either, and a disagreeing look restarts.
    other = ("s", "cam", 2)
    assert decision.decide(other, match("ada", 96.0, 91.0)).reason == "unconfirmed"
    assert decision.decide(other, match("bob", 85.0)).reason == "unconfirmed"
    assert decision.decide(other, match("bob", 88.0)).status == "recognised"


def test_without_a_track_a_weak_match_is_never_confirmed() -> None:
    decision = MatchDecision()
    assert decision.decide(None, match("ada", 84.0)).status == "unknown"
    assert decision.decide(None, match("ada", 84.0)).status == "unknown"


def test_unconfirmed_candidates_expire_and_stay_bounded() -> None:
    now = [0]
    decision = MatchDecision(max_pending=3, pending_ttl_ms=1000, clock=lambda: now[0])
    for track in range(5):
        decision.decide(("s", "cam", track), match("ada", 84.0))
    assert decision.pending() == 3
    now[0] = 5000
    assert decision.decide(("s", "cam", 4), match("ada", 84.0)).reason == "unconfirmed"  # the old one expired
    assert decision.pending() == 1


class WeakRecognizer(ImageMatchRecognizer):
    """Says every face is 'ada' at 84: a weak match."""

    def search(self, image: bytes) -> RecognitionOutcome:
        self.calls["search"] += 1
        return match("ada", 84.0, 40.0)


def weak_service(tmp_path: Path) -> tuple[AttendanceService, Any]:
    """A service whose recognizer says 'ada' at 84 to every face, with a session open in room-1."""
    svc = AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path), WeakRecognizer(),
                            CloudSettings(data_dir=tmp_path), metrics=Metrics(), clock=MsClock())
    svc.create_student("ada", "Ada")
    svc.create_classroom("room-1", "Room 1")
    return svc, svc.open_session("room-1")


def test_service_records_a_weak_match_only_when_the_track_confirms_it(tmp_path: Path) -> None:
    svc, session = weak_service(tmp_path)
    first: Any = svc.process_crop(crop(synthetic_face(1), track=3, msg_id="a-1")).header.meta
    assert (first["status"], first["reason"], first["candidate_id"], first["student_id"]) == \
        ("unknown", "unconfirmed", "ada", None)
    assert svc.attendance_for_session(session.session_id) == []
    other_track = svc.process_crop(crop(synthetic_face(1), track=4, msg_id="b-1")).header.meta
    assert other_track["status"] == "unknown"  # another track's weak look confirms nothing
    again = svc.process_crop(crop(synthetic_face(1), track=3, msg_id="a-2")).header.meta
    assert again["reason"] == "unconfirmed"  # the same image again is no second look
    second = svc.process_crop(crop(synthetic_face(2), track=3, msg_id="a-3")).header.meta
    assert (second["status"], second["student_id"]) == ("recognised", "ada")
    [record] = svc.attendance_for_session(session.session_id)
    assert record.sightings == 1
    counters = svc.metrics()["counters"]
    assert counters["matches_unconfirmed"] == 3 and counters["matches_confirmed"] == 1


def test_a_track_whose_attempts_disagree_is_not_named() -> None:
    decision = MatchDecision(confident_similarity=95, min_margin=10)
    key = ("s", "cam", 9)
    assert decision.decide(key, match("paul", 84.0)).reason == "unconfirmed"
    # A confident-looking match that contradicts the track's earlier attempt is only a vote.
    assert decision.decide(key, match("guido", 99.0)).reason == "unconfirmed"
    assert decision.decide(key, match("guido", 99.0)).status == "recognised"  # now guido leads 2 to 1


def test_faces_matching_nobody_count_against_a_weak_candidate() -> None:
    decision = MatchDecision()
    key = ("s", "cam", 5)
    nobody = RecognitionOutcome(status="unknown", reason="no_match")
    assert decision.decide(key, match("ada", 84.0)).reason == "unconfirmed"
    assert decision.decide(key, nobody).status == "unknown"
    assert decision.decide(key, nobody).status == "unknown"
    assert decision.decide(key, match("ada", 84.0)).reason == "unconfirmed"  # 2 for ada, 2 for nobody
    assert decision.decide(key, match("ada", 84.0)).status == "recognised"  # 3 to 2


def test_the_same_look_twice_is_not_a_second_vote() -> None:
    decision = MatchDecision()
    key = ("s", "cam", 1)
    still = np.full((40, 40, 3), 120, np.uint8)
    moved = still.copy()
    moved[10:30, 10:30] = 200
    assert decision.decide(key, match("ada", 84.0), crop_fingerprint(still)).reason == "unconfirmed"
    assert decision.decide(key, match("ada", 84.0), crop_fingerprint(still.copy())).reason == "unconfirmed"
    assert decision.decide(key, match("ada", 84.0), crop_fingerprint(moved)).status == "recognised"


def test_a_small_face_is_named_only_by_a_confident_match() -> None:
    decision = MatchDecision(confident_similarity=95, min_margin=10, small_face_px=64)
    key = ("s", "cam", 1)
    # Two weak looks of a 50-px face (what strangers' small faces gave here) confirm nobody...
    for similarity in (94.3, 89.0, 88.0):
        weak = decision.decide(key, match("guido", similarity), crop_fingerprint(np.full((20, 20), similarity)), face_px=50)
        assert (weak.status, weak.reason, weak.candidate_id) == ("unknown", "unconfirmed", "guido")
        assert "50-px face needs a confident look" in (weak.detail or "")
    assert decision.pending() == 0  # and leave no votes behind
    # ...a confident look of it does, and so do two weak looks of a face of 64 px or more.
    assert decision.decide(key, match("guido", 97.6), face_px=51).status == "recognised"
    big = ("s", "cam", 2)
    assert decision.decide(big, match("ada", 86.0), crop_fingerprint(np.zeros((20, 20))), face_px=64).reason == "unconfirmed"
    assert decision.decide(big, match("ada", 88.0), crop_fingerprint(np.full((20, 20), 99.0)), face_px=90).reason == "confirmed"
    # Unknown size (an older edge): the rule does not apply.
    assert decision.decide(("s", "cam", 3), match("bob", 85.0), face_px=None).reason == "unconfirmed"
    assert decision.pending() == 1


def test_service_reads_the_face_size_from_the_crop(tmp_path: Path) -> None:
    svc, session = weak_service(tmp_path)
    for i in (1, 2, 3):  # three different weak looks of a 48-px face: never confirmed
        meta: Any = svc.process_crop(crop(synthetic_face(i), track=5, msg_id=f"s-{i}", quality={"face_px": 48})).header.meta
        assert (meta["status"], meta["reason"]) == ("unknown", "unconfirmed")
    assert svc.attendance_for_session(session.session_id) == []
    assert svc.metrics()["counters"]["matches_unconfirmed_small_face"] == 3
