"""Attendance records of sessions and students, and the CSV export."""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

from common.logs import log_event

from .attendance_states import AttendanceRoll
from .deps import ServiceDeps
from .records import AttendanceRecord, iso
from .roster import Roster
from .sessions import Sessions

log = logging.getLogger("rollcall.cloud.service")

CSV_COLUMNS = (
    "session_id",
    "classroom_id",
    "session_name",
    "student_id",
    "name",
    "first_seen",
    "last_seen",
    "camera_id",
    "best_similarity",
    "sightings",
    "evidence_ref",
    "first_seen_video_s",
    "last_seen_video_s",
    "state",
    "on_roster",
    "marked_by",
    "marked_at",
    "reason",
)


def csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in exported text cells."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class Attendance:
    """Reading attendance (with student names) and exporting it."""

    def __init__(self, deps: ServiceDeps, roster: Roster, sessions: Sessions) -> None:
        self.deps = deps
        self.roster = roster
        self.sessions = sessions
        self.roll = AttendanceRoll(deps, sessions)

    def with_names(self, records: list[AttendanceRecord]) -> list[AttendanceRecord]:
        """The records with each student's current name (None for a deleted student)."""
        names: dict[str, str | None] = {}
        out = []
        for record in records:
            if record.student_id not in names:
                student = self.deps.store.get_student(record.student_id)
                names[record.student_id] = student.name if student else None
            out.append(AttendanceRecord(**{**record.to_dict(), "name": names[record.student_id]}))
        return out

    def attendance_for_session(self, session_id: str) -> list[AttendanceRecord]:
        """Attendance records of the session, by first seen."""
        self.sessions.get_session(session_id)
        records = self.deps.store.attendance_for_session(session_id)
        return sorted(self.with_names(records), key=lambda r: (r.first_seen_ms, r.student_id))

    def attendance_for_student(self, student_id: str) -> list[AttendanceRecord]:
        """Every attendance record of the student, newest first."""
        self.roster.get_student(student_id)
        records = self.deps.store.attendance_for_student(student_id)
        return sorted(self.with_names(records), key=lambda r: r.first_seen_ms, reverse=True)

    def record_of(self, session_id: str, student_id: str) -> AttendanceRecord | None:
        """The student's record in the session (with name), or None."""
        for record in self.deps.store.attendance_for_session(session_id):
            if record.student_id == student_id:
                return self.with_names([record])[0]
        return None

    def export_csv(self, session_id: str) -> str:
        """The session's roll as CSV text: every roster student with their ``state`` (absent ones
        too; see :mod:`cloud.attendance_states`), then the visitors (``state`` ``visitor``, ``on_roster``
        0); also stored in the evidence store (S3 ``<prefix>exports/`` when configured, else
        ``<data_dir>/exports``).

        ``first_seen_video_s`` / ``last_seen_video_s`` are the first / last sighting as seconds into
        the camera's video (1 decimal; empty when unknown, e.g. live cameras). ``marked_by``,
        ``marked_at`` and ``reason`` are the teacher's newest change of the state (empty if none)."""
        roll = self.roll.roll(session_id)
        session = roll.session
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        lines = [*roll.students, *roll.visitors]
        for line in lines:
            r, m = line.record, line.mark
            seen = (
                [
                    iso(r.first_seen_ms),
                    iso(r.last_seen_ms),
                    r.camera_id,
                    "" if r.best_similarity is None else f"{r.best_similarity:.2f}",
                    r.sightings,
                    r.evidence_ref or "",
                    *("" if ms is None else f"{ms / 1000:.1f}" for ms in (r.first_source_ms, r.last_source_ms)),
                ]
                if r is not None
                else ["", "", "", "", 0, "", "", ""]
            )
            marked = [m.actor, iso(m.marked_ms), m.reason] if m is not None else ["", "", ""]
            values = (
                session.session_id,
                session.classroom_id,
                session.name,
                line.student_id,
                line.name or "",
                *seen,
                line.state,
                int(line.on_roster),
                *marked,
            )
            writer.writerow([csv_safe(v) for v in values])
        records = lines
        text = buffer.getvalue()
        try:
            where = self.deps.evidence.put_export(f"attendance-{session.session_id}.csv", text)
            log_event(log, "attendance_exported", session_id=session_id, records=len(records), location=where)
        except Exception as exc:  # the export itself is still returned
            self.deps.stats.inc("export_store_errors")
            log_event(log, "export_store_failed", level=logging.ERROR, session_id=session_id, detail=str(exc)[:300])
        return text
