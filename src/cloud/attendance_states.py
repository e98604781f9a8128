"""Attendance states of every student of a session, and the teacher's changes to them.

A session of a course lists every student on the course's roster with one state:

* ``present_camera``: a camera saw them within ``late_grace_minutes`` of the start;
* ``late``: the first sighting came after that grace period;
* ``absent``: not seen;
* ``present_manual`` / ``late`` / ``excused`` / ``absent`` set by a teacher: the newest mark
  wins over what the cameras saw. Removing a wrong match is a mark (``absent``): the
  camera's record and its evidence crop stay, shown with the mark.

A recognised student who is not on the roster is a *visitor*: listed apart, never counted
present. A session without a course lists the students seen (and marked) in it.
Every mark is stored (who, when, why, the state before) and appended to the audit log.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from dataclasses import dataclass
from typing import Any

from common.logs import log_event
from common.protocol import new_id

from .audit import AUDIT_FILE, AuditLog
from .deps import ServiceDeps
from .errors import InvalidInput, NotFound
from .records import AttendanceRecord, Session
from .sessions import Sessions
from .teacher_records import MARK_STATES, PRESENT_STATES, STATES, VISITOR, AttendanceMark

log = logging.getLogger("rollcall.cloud.attendance")

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class StudentState:
    """One student's line in a session's roll."""

    student_id: str
    name: str | None
    state: str
    on_roster: bool
    source: str  # camera | manual | none
    record: AttendanceRecord | None = None
    mark: AttendanceMark | None = None
    camera_state: str = "absent"  # what the cameras alone say

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "student_id": self.student_id,
            "name": self.name,
            "state": self.state,
            "on_roster": self.on_roster,
            "source": self.source,
            "camera_state": self.camera_state,
        }
        r = self.record
        out.update(
            first_seen_ms=r.first_seen_ms if r else None,
            last_seen_ms=r.last_seen_ms if r else None,
            camera_id=r.camera_id if r else None,
            best_similarity=r.best_similarity if r else None,
            sightings=r.sightings if r else 0,
            evidence_ref=r.evidence_ref if r else None,
            emotion=r.emotion if r else None,
        )
        m = self.mark
        out.update(
            marked_by=m.actor if m else None, marked_ms=m.marked_ms if m else None, reason=m.reason if m else None
        )
        return out


@dataclass(frozen=True)
class SessionRoll:
    """A session's roster with states, its visitors and the counts."""

    session: Session
    students: list[StudentState]
    visitors: list[StudentState]
    emotions_enabled: bool = False  # ROLLCALL_CLOUD_DETECT_EMOTIONS

    def counts(self) -> dict[str, int]:
        """How many students in each state, ``present`` (all present-like states), ``roster`` and ``visitors``."""
        out = {state: sum(s.state == state for s in self.students) for state in STATES}
        out["present"] = sum(s.state in PRESENT_STATES for s in self.students)
        out["roster"] = len(self.students)
        out["visitors"] = len(self.visitors)
        return out

    def emotions(self) -> dict[str, int]:
        """Dominant emotion of each present student's best crop (seed 003), counted."""
        out: dict[str, int] = {}
        for s in self.students:
            if s.record is not None and s.record.emotion and s.state in PRESENT_STATES:
                out[s.record.emotion] = out.get(s.record.emotion, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def to_dict(self) -> dict[str, Any]:
        return {
            "session": self.session.to_dict(),
            "students": [s.to_dict() for s in self.students],
            "visitors": [s.to_dict() for s in self.visitors],
            "counts": self.counts(),
            "emotions": self.emotions(),
            "emotions_enabled": self.emotions_enabled,
        }


class AttendanceRoll:
    """Computes rolls and records the teacher's marks."""

    def __init__(self, deps: ServiceDeps, sessions: Sessions) -> None:
        self.deps = deps
        self.sessions = sessions
        self._sequence = itertools.count()

    def audit(self) -> AuditLog:
        """The audit log (``<data_dir>/audit.jsonl``, shared with the privacy actions)."""
        return AuditLog(self.deps.settings.data_dir / AUDIT_FILE)

    def camera_state(self, session: Session, record: AttendanceRecord | None) -> str:
        """present_camera / late / absent from the camera record alone."""
        if record is None:
            return "absent"
        grace_ms = int(self.deps.settings.late_grace_minutes * 60_000)
        return "late" if record.first_seen_ms > session.starts_ms + grace_ms else "present_camera"

    def roll(self, session_id: str) -> SessionRoll:
        """Every roster student of the session with a state, and the visitors."""
        session = self.sessions.get_session(session_id)
        store = self.deps.store
        records = {r.student_id: r for r in store.attendance_for_session(session_id)}
        marks: dict[str, AttendanceMark] = {}
        for mark in store.marks_for_session(session_id):  # oldest first: the newest wins
            marks[mark.student_id] = mark
        if session.course_id is not None:
            end = session.end_ms() if session.status_at(self.deps.clock()) == "closed" else None
            members = store.list_members(session.course_id, include_removed=True)
            roster = [m.student_id for m in members if m.member_during(session.starts_ms, end)]
        else:
            roster = sorted(set(records) | set(marks))
        names: dict[str, str | None] = {}
        for student_id in set(roster) | set(records):
            student = store.get_student(student_id)
            names[student_id] = student.name if student else None
        students = []
        for student_id in roster:
            record, latest = records.get(student_id), marks.get(student_id)
            camera = self.camera_state(session, record)
            state = latest.state if latest else camera
            source = "manual" if latest else ("camera" if record else "none")
            students.append(StudentState(student_id, names[student_id], state, True, source, record, latest, camera))
        on_roster = set(roster)
        visitors = [
            StudentState(sid, names[sid], VISITOR, False, "camera", rec, None, self.camera_state(session, rec))
            for sid, rec in records.items()
            if sid not in on_roster
        ]
        students.sort(key=lambda s: ((s.name or "").lower(), s.student_id))
        visitors.sort(key=lambda s: s.record.first_seen_ms if s.record else 0)
        return SessionRoll(session, students, visitors, bool(self.deps.settings.detect_emotions))

    def mark(
        self, session_id: str, student_id: str, state: str, reason: str, actor: str = "api", peer: str | None = None
    ) -> StudentState:
        """Set a roster student's state by hand (who, when, why kept; audited). InvalidInput for a
        state that is not one of :data:`MARK_STATES` or an empty reason; NotFound if the student
        is not in the session's roll."""
        if state not in MARK_STATES:
            raise InvalidInput(f"state must be one of {', '.join(MARK_STATES)}, not {str(state)[:30]!r}")
        reason = (reason or "").strip() if isinstance(reason, str) else ""
        if not reason:
            raise InvalidInput("say why (reason) the state changes; it is kept in the audit trail")
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"reason is longer than {MAX_REASON_CHARS} characters")
        before = self._line(self.roll(session_id), student_id)
        now = self.deps.clock()
        mark = AttendanceMark(
            session_id=session_id,
            mark_id=f"{now:013d}-{next(self._sequence):08d}-{new_id()[:8]}",  # ordered within a ms
            student_id=student_id,
            state=state,
            actor=actor or "api",
            marked_ms=now,
            reason=reason,
            previous_state=before.state,
        )
        self.deps.store.add_mark(mark)
        self.deps.stats.inc("attendance_marks")
        evidence = before.record.evidence_ref if before.record else None
        self.audit().record(
            now,
            mark.actor,
            "attendance_marked",
            session_id=session_id,
            student_id=student_id,
            state=state,
            previous_state=before.state,
            reason=reason,
            evidence_ref=evidence,
            peer=peer,
        )
        log_event(log, "attendance_marked", session_id=session_id, student_id=student_id, state=state)
        return dataclasses.replace(before, state=state, source="manual", mark=mark)

    def history(self, session_id: str) -> list[AttendanceMark]:
        """Every mark of the session, oldest first."""
        self.sessions.get_session(session_id)
        return self.deps.store.marks_for_session(session_id)

    def _line(self, roll: SessionRoll, student_id: str) -> StudentState:
        for line in roll.students:
            if line.student_id == student_id:
                return line
        if roll.session.course_id is None:  # no roster: any registered student can be marked
            student = self.deps.store.get_student(str(student_id))
            if student is not None:
                return StudentState(student.student_id, student.name, "absent", True, "none")
            raise NotFound(f"student {str(student_id)[:70]!r} not found")
        raise NotFound(f"student {str(student_id)[:70]!r} is not on the roster of course {roll.session.course_id!r}")
