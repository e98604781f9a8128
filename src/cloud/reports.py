"""Attendance reports: a student's attendance rate over a date range, and a course's term
export (CSV and XLSX through openpyxl): one row per student, one column per session, each cell
the student's state (see :mod:`cloud.attendance_states`).

Dates are local dates of the school (``school_timezone``), both ends included. Only sessions that
have started count (scheduled ones and ones cancelled before they started are left out).
The rate is (present_camera + present_manual + late) / (sessions - excused); None when that is 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .attendance import csv_safe
from .attendance_states import AttendanceRoll, SessionRoll
from .courses import Courses
from .deps import ServiceDeps
from .errors import InvalidInput
from .records import Session, iso
from .teacher_records import PRESENT_STATES, STATES

DEFAULT_DAYS = 120
MAX_DAYS = 400


@dataclass(frozen=True)
class DateRange:
    """Local dates [first, last] and their epoch-ms bounds [from_ms, to_ms)."""

    first: date
    last: date
    from_ms: int
    to_ms: int


def rate(counts: dict[str, int]) -> float | None:
    """The attendance rate of state counts (None when no session counts)."""
    expected = sum(counts.get(s, 0) for s in STATES) - counts.get("excused", 0)
    present = sum(counts.get(s, 0) for s in PRESENT_STATES)
    return round(present / expected, 4) if expected > 0 else None


class Reports:
    """Per-student and per-course attendance over a date range."""

    def __init__(self, deps: ServiceDeps, courses: Courses, roll: AttendanceRoll) -> None:
        self.deps = deps
        self.courses = courses
        self.roll = roll

    def date_range(self, first: str | None, last: str | None) -> DateRange:
        """Parse ``YYYY-MM-DD`` dates (defaults: the last 120 days up to today)."""
        zone = ZoneInfo(self.deps.settings.school_timezone)
        today = datetime.fromtimestamp(self.deps.clock() / 1000, zone).date()
        try:
            end = date.fromisoformat(last) if last else today
            start = date.fromisoformat(first) if first else end - timedelta(days=DEFAULT_DAYS)
        except ValueError:
            raise InvalidInput("dates must be YYYY-MM-DD") from None
        if end < start:
            raise InvalidInput("the range ends before it starts")
        if (end - start).days > MAX_DAYS:
            raise InvalidInput(f"the range is longer than {MAX_DAYS} days")

        def ms(day: date) -> int:
            return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)

        return DateRange(start, end, ms(start), ms(end + timedelta(days=1)))

    def course_sessions(self, course_id: str, span: DateRange) -> list[Session]:
        """The course's sessions that started within the range, oldest first."""
        now = self.deps.clock()
        out = []
        for s in self.deps.store.list_sessions():
            if s.course_id != course_id or not span.from_ms <= s.starts_ms < span.to_ms:
                continue
            end = s.end_ms()
            if s.starts_ms > now or (end is not None and end <= s.starts_ms):
                continue  # not started yet, or cancelled before it started
            out.append(s.resolved(now))
        return sorted(out, key=lambda s: s.starts_ms)

    def student_report(self, student_id: str, first: str | None = None, last: str | None = None) -> dict[str, Any]:
        """The student's state in each session of their courses in the range, per course and overall rates."""
        student = self.courses.roster.get_student(student_id)
        span = self.date_range(first, last)
        sessions: list[dict[str, Any]] = []
        per_course: list[dict[str, Any]] = []
        total: dict[str, int] = {}
        for course in self.courses.courses_of_student(student_id, include_former=True):
            counts: dict[str, int] = {}
            for session in self.course_sessions(course.course_id, span):
                line = next(
                    (s for s in self.roll.roll(session.session_id).students if s.student_id == student_id), None
                )
                if line is None:
                    continue
                counts[line.state] = counts.get(line.state, 0) + 1
                total[line.state] = total.get(line.state, 0) + 1
                sessions.append(
                    {
                        "session_id": session.session_id,
                        "course_id": course.course_id,
                        "name": session.name,
                        "starts_ms": session.starts_ms,
                        "starts_at": iso(session.starts_ms),
                        "state": line.state,
                        "reason": line.mark.reason if line.mark else None,
                    }
                )
            per_course.append(
                {"course_id": course.course_id, "name": course.name, "counts": counts, "rate": rate(counts)}
            )
        sessions.sort(key=lambda s: s["starts_ms"])
        return {
            "student": student.to_dict(),
            "from": span.first.isoformat(),
            "to": span.last.isoformat(),
            "courses": per_course,
            "sessions": sessions,
            "counts": total,
            "rate": rate(total),
        }

    def course_table(self, course_id: str, first: str | None = None, last: str | None = None) -> dict[str, Any]:
        """The course's term: sessions (columns), students (rows) with their states, counts and rate."""
        course = self.courses.get_course(course_id)
        span = self.date_range(first, last)
        rolls: list[SessionRoll] = [self.roll.roll(s.session_id) for s in self.course_sessions(course_id, span)]
        names: dict[str, str | None] = {s.student_id: s.name for s in self.courses.roster_of(course_id)}
        for r in rolls:
            for line in r.students:
                names.setdefault(line.student_id, line.name)
        rows = []
        for student_id in sorted(names, key=lambda sid: ((names[sid] or "").lower(), sid)):
            states = []
            for r in rolls:
                cell = next((s for s in r.students if s.student_id == student_id), None)
                states.append(cell.state if cell else "")
            counts = {s: states.count(s) for s in STATES}
            rows.append(
                {
                    "student_id": student_id,
                    "name": names[student_id],
                    "states": states,
                    "counts": counts,
                    "rate": rate(counts),
                }
            )
        zone = ZoneInfo(self.deps.settings.school_timezone)
        columns = [
            {
                "session_id": r.session.session_id,
                "name": r.session.name,
                "local_start": datetime.fromtimestamp(r.session.starts_ms / 1000, zone).strftime("%Y-%m-%d %H:%M"),
            }
            for r in rolls
        ]
        return {
            "course": course.to_dict(),
            "from": span.first.isoformat(),
            "to": span.last.isoformat(),
            "sessions": columns,
            "rows": rows,
        }

    @staticmethod
    def _grid(table: dict[str, Any]) -> list[list[Any]]:
        header = ["student_id", "name", *(c["local_start"] for c in table["sessions"]), *STATES, "rate"]
        grid: list[list[Any]] = [header]
        for row in table["rows"]:
            grid.append(
                [
                    row["student_id"],
                    row["name"] or "",
                    *row["states"],
                    *(row["counts"][s] for s in STATES),
                    "" if row["rate"] is None else row["rate"],
                ]
            )
        return grid

    def course_csv(self, course_id: str, first: str | None = None, last: str | None = None) -> str:
        """The term export as CSV text (formulas neutralised)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row in self._grid(self.course_table(course_id, first, last)):
            writer.writerow([csv_safe(v) for v in row])
        return buffer.getvalue()

    def course_xlsx(self, course_id: str, first: str | None = None, last: str | None = None) -> bytes:
        """The term export as an XLSX workbook: sheet ``attendance`` (the grid) and ``sessions``."""
        from openpyxl import Workbook
        from openpyxl.styles import Font

        table = self.course_table(course_id, first, last)
        book = Workbook()
        sheet = book.active
        sheet.title = "attendance"
        for row in self._grid(table):
            sheet.append([csv_safe(v) if isinstance(v, str) else v for v in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "C2"
        sessions = book.create_sheet("sessions")
        sessions.append(["local_start", "session_id", "name"])
        for c in table["sessions"]:
            sessions.append([c["local_start"], c["session_id"], csv_safe(c["name"])])
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
