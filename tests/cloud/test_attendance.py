"""cloud.attendance.Attendance: records with names, and the CSV export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cloud.attendance import CSV_COLUMNS, Attendance, csv_safe
from cloud.errors import NotFound
from cloud.records import Sighting
from cloud.roster import Roster
from cloud.sessions import Sessions

from .conftest import ImageMatchRecognizer
from .domain_support import T0, counters, make_deps


@pytest.fixture
def attendance(tmp_path: Path) -> Attendance:
    deps = make_deps(tmp_path, ImageMatchRecognizer())
    return Attendance(deps, Roster(deps), Sessions(deps))


def sighting(session_id: str, student_id: str, msg: str, seen_ms: int, similarity: float | None,
             source_ms: int | None = None) -> Sighting:
    return Sighting(sighting_id=msg, session_id=session_id, student_id=student_id, camera_id="cam-1",
                    seen_ms=seen_ms, similarity=similarity, source_ms=source_ms)


def test_records_carry_current_names_and_survive_deleted_students(attendance: Attendance) -> None:
    attendance.roster.create_student("ada", "Ada")
    attendance.roster.create_student("bob", "Bob")
    attendance.sessions.create_classroom("room-1")
    session = attendance.sessions.open_session("room-1")
    store = attendance.deps.store
    store.record_sighting(sighting(session.session_id, "bob", "m1", T0 + 10, 90.0))
    store.record_sighting(sighting(session.session_id, "ada", "m2", T0 + 5, 99.0))
    store.record_sighting(sighting(session.session_id, "ada", "m3", T0 + 20, 97.0))
    records = attendance.attendance_for_session(session.session_id)
    assert [(r.student_id, r.name, r.sightings) for r in records] == [("ada", "Ada", 2), ("bob", "Bob", 1)]
    attendance.roster.delete_student("bob")
    assert attendance.record_of(session.session_id, "bob").name is None  # type: ignore[union-attr]
    assert attendance.record_of(session.session_id, "nobody") is None
    assert [r.session_id for r in attendance.attendance_for_student("ada")] == [session.session_id]
    with pytest.raises(NotFound):
        attendance.attendance_for_session("0123456789abcdef")
    with pytest.raises(NotFound):
        attendance.attendance_for_student("bob")


def test_csv_export_neutralises_formulas_and_is_stored(attendance: Attendance, tmp_path: Path) -> None:
    attendance.roster.create_student("eve", "=HYPERLINK(\"x\")")
    attendance.sessions.create_classroom("room-1")
    session = attendance.sessions.open_session("room-1", name="+Maths")
    attendance.deps.store.record_sighting(sighting(session.session_id, "eve", "m1", T0, 98.5, source_ms=61_000))
    text = attendance.export_csv(session.session_id)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    row = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert row["name"].startswith("'=") and row["session_name"] == "'+Maths"
    assert (row["best_similarity"], row["first_seen_video_s"]) == ("98.50", "61.0")
    assert (tmp_path / "exports" / f"attendance-{session.session_id}.csv").read_text() == text


def test_export_still_returned_when_storing_it_fails(attendance: Attendance, monkeypatch: pytest.MonkeyPatch) -> None:
    attendance.sessions.create_classroom("room-1")
    session = attendance.sessions.open_session("room-1")

    def broken(name: str, text: str) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(attendance.deps.evidence, "put_export", broken)
    assert attendance.export_csv(session.session_id).startswith("session_id,")
    assert counters(attendance.deps)["export_store_errors"] == 1


def test_csv_safe() -> None:
    cells = ("=1", "+1", "-1", "@x", "\tx", "ok", 5)
    assert [csv_safe(v) for v in cells] == ["'=1", "'+1", "'-1", "'@x", "'\tx", "ok", 5]
