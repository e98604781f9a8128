"""Issue 13 item 8: retention of every face crop (recognised, assigned, unknown), the erasure
of a student's biometric data with an audit entry, and how the API copes with a missing crop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.errors import NotFound
from cloud.records import Sighting, UnknownFace
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from cloud.storage.evidence import LocalEvidenceStore, evidence_ref_for
from cloud.storage.sqlite import SQLiteStore
from common.metrics import Metrics

from .conftest import ImageMatchRecognizer, synthetic_face
from .api_support import authed_client
from .domain_support import T0, MsClock

DAY = 86_400_000


@pytest.fixture
def clock() -> MsClock:
    return MsClock()


@pytest.fixture
def svc(tmp_path: Path, clock: MsClock) -> AttendanceService:
    settings = CloudSettings(data_dir=tmp_path, crop_retention_days=30, unknown_retention_days=30)
    return AttendanceService(SQLiteStore(tmp_path / "db.sqlite3"), LocalEvidenceStore(tmp_path),
                             ImageMatchRecognizer(), settings, metrics=Metrics(), clock=clock)


def seen(svc: AttendanceService, sid: str, student: str, session: str, t: int, sim: float = 95.0) -> str:
    """Record a recognised sighting with its crop; return the crop's reference."""
    ref = evidence_ref_for(f"crop:{sid}")
    svc.evidence.put(ref, synthetic_face(2))
    assert svc.store.record_sighting(Sighting(sighting_id=sid, session_id=session, student_id=student,
                                              camera_id="cam-1", seen_ms=t, similarity=sim, evidence_ref=ref))
    return ref


def unknown(svc: AttendanceService, uid: str, session: str, t: int) -> str:
    ref = evidence_ref_for(f"crop:{uid}")
    svc.evidence.put(ref, synthetic_face(3))
    assert svc.store.add_unknown(UnknownFace(unknown_id=uid, session_id=session, classroom_id="room-1",
                                             camera_id="cam-1", seen_ms=t, evidence_ref=ref))
    return ref


def gone(svc: AttendanceService, ref: str) -> bool:
    try:
        svc.get_evidence(ref)
    except NotFound:
        return True
    return False


def setup_class(svc: AttendanceService) -> str:
    svc.create_student("ada", "Ada")
    svc.create_student("bob", "Bob")
    svc.create_classroom("room-1")
    return svc.open_session("room-1").session_id


def test_retention_purges_old_recognised_assigned_and_unknown_crops_keeps_recent(svc: AttendanceService) -> None:
    session = setup_class(svc)
    old_seen = seen(svc, "old", "ada", session, T0 - 31 * DAY)
    new_seen = seen(svc, "new", "ada", session, T0 - 29 * DAY, sim=90.0)
    old_assigned = unknown(svc, "ua", session, T0 - 31 * DAY)
    new_assigned = unknown(svc, "ub", session, T0 - 1 * DAY)
    old_pending = unknown(svc, "up", session, T0 - 31 * DAY)
    new_pending = unknown(svc, "uq", session, T0 - 1 * DAY)
    svc.assign_unknown("ua", "bob")
    svc.assign_unknown("ub", "bob")

    assert svc.purge_crops() == {"sighting_crops": 2, "assigned_unknown_faces": 1}  # "old" and "assign:ua"
    assert svc.purge_unknown_faces() == 1  # "up"
    for ref in (old_seen, old_assigned, old_pending):
        assert gone(svc, ref), ref
    for ref in (new_seen, new_assigned, new_pending):
        assert not gone(svc, ref), ref
    assert {u.unknown_id for u in svc.list_unknown_faces(None)} == {"ub", "uq"}
    # the register stays: both students still attended, only the images went
    records = {r.student_id: r for r in svc.attendance_for_session(session)}
    assert records["ada"].sightings == 2 and records["ada"].evidence_ref is None  # its best crop was the old one
    assert records["bob"].sightings == 2 and records["bob"].evidence_ref is None  # its crop was the first one
    assert svc.store.get_sighting("assign:ub").evidence_ref == new_assigned
    assert svc.store.get_sighting("old").evidence_ref is None
    assert svc.store.get_sighting("new").evidence_ref == new_seen
    assert svc.purge_crops() == {"sighting_crops": 0, "assigned_unknown_faces": 0}
    entries = svc.privacy.audit.entries()
    assert [(e["actor"], e["action"], e["sighting_crops"]) for e in entries] == [("retention", "crops_purged", 2)]


def test_delete_student_erases_photos_crops_and_is_audited(svc: AttendanceService) -> None:
    session = setup_class(svc)
    photo = svc.enrol_photo("ada", synthetic_face(1)).photo_ref
    assert photo is not None
    crops = [seen(svc, "s1", "ada", session, T0 - 1000), seen(svc, "s2", "ada", session, T0 - 500)]
    assigned = unknown(svc, "ua", session, T0 - 100)
    svc.assign_unknown("ua", "ada")
    bobs = seen(svc, "s3", "bob", session, T0 - 100)
    pending = unknown(svc, "up", session, T0 - 100)

    counts = svc.delete_student("ada", actor="api", peer="127.0.0.1")
    assert counts == {"student_id": "ada", "faces": 1, "sighting_crops": 3, "assigned_unknown_faces": 1}
    assert svc.recognizer.faces == {}
    for ref in (photo, *crops, assigned):
        assert gone(svc, ref), ref
    assert not gone(svc, bobs) and not gone(svc, pending)  # other people's crops stay
    records = {r.student_id: r for r in svc.attendance_for_session(session)}
    assert records["ada"].evidence_ref is None and records["ada"].sightings == 3  # the register row stays
    assert records["bob"].evidence_ref == bobs
    (entry,) = svc.privacy.audit.entries()
    assert entry["action"] == "student_erased" and entry["actor"] == "api" and entry["peer"] == "127.0.0.1"
    assert (entry["student_id"], entry["faces"], entry["sighting_crops"], entry["ts_ms"]) == ("ada", 1, 3, T0)
    assert (Path(svc.settings.data_dir) / "audit.jsonl").read_text().count("\n") == 1
    with pytest.raises(NotFound):
        svc.delete_student("ada")
    assert len(svc.privacy.audit.entries()) == 1  # a refused erasure is not an erasure


def test_api_delete_audits_and_missing_evidence_is_a_clear_404(svc: AttendanceService) -> None:
    session = setup_class(svc)
    ref = seen(svc, "s1", "ada", session, T0 - 1000)
    app = create_app(service=svc, settings=svc.settings)
    client = authed_client(app)
    assert client.get(f"/api/evidence/{ref}").status_code == 200
    assert client.delete("/api/students/ada").status_code == 204
    response = client.get(f"/api/evidence/{ref}")
    assert response.status_code == 404
    assert "retention period or erased" in response.get_json()["error"]["message"]
    lines = (Path(svc.settings.data_dir) / "audit.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    # the token creation, the erasure (with the token as actor) and the generic change record
    assert [e["action"] for e in entries] == ["token_created", "student_erased", "http_change"]
    assert entries[1]["actor"].startswith("token:test-admin-") and entries[2]["status"] == 204
    body = client.get(f"/api/sessions/{session}/attendance").get_json()
    assert [(r["student_id"], r["evidence_ref"]) for r in body["records"]] == [("ada", None)]
