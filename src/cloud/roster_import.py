"""The roster CSV import: ``student_id,name,email,course`` (a header row; ``email`` and ``course``
optional). :meth:`RosterImport.run` with ``apply=False`` is the preview: what would change, row by
row, and each bad row's error; ``apply=True`` does it (rows with an error are skipped, never half
applied). A course named in the file that does not exist is created (with no classroom yet).
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from typing import Any

from common import rules
from common.logs import log_event

from .courses import Courses
from .deps import ServiceDeps
from .errors import InvalidInput
from .records import Student
from .teacher_records import Course, CourseMember

log = logging.getLogger("rollcall.cloud.courses")

COLUMNS = ("student_id", "name", "email", "course")
MAX_ROWS = 5000
MAX_BYTES = 2 * 1024 * 1024


@dataclass
class RowPlan:
    """What one CSV row does (``actions``) or why it cannot (``error``)."""

    line: int
    student_id: str
    name: str
    email: str | None
    course: str | None
    actions: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"the roster file has {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the roster file is not UTF-8 text") from None


class RosterImport:
    """Preview and apply a roster CSV."""

    def __init__(self, deps: ServiceDeps, courses: Courses) -> None:
        self.deps = deps
        self.courses = courses

    def _rows(self, text: str) -> list[tuple[int, dict[str, str]]]:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in ("student_id", "name") if c not in header]
        if missing:
            raise InvalidInput(
                f"the roster file needs a header row with {', '.join(COLUMNS)} (missing: {', '.join(missing)})"
            )
        unknown = [h for h in header if h not in COLUMNS]
        if unknown:
            raise InvalidInput(f"unknown column(s) {', '.join(unknown)[:100]}; expected {', '.join(COLUMNS)}")
        reader.fieldnames = header
        rows: list[tuple[int, dict[str, str]]] = []
        for raw in reader:
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(f"the roster file has more than {MAX_ROWS} rows")
            values = {k: (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
            if not any(values.values()):
                continue  # blank line
            extra = raw.get(None)  # type: ignore[call-overload,unused-ignore]
            if extra:
                values["_extra"] = "1"
            rows.append((reader.line_num, values))
        return rows

    def _plan(
        self,
        line: int,
        values: dict[str, str],
        seen: dict[str, tuple[str, str | None]],
        new_courses: set[str],
        rosters: dict[str, set[str]],
    ) -> RowPlan:
        plan = RowPlan(
            line,
            values.get("student_id", ""),
            values.get("name", ""),
            values.get("email") or None,
            values.get("course") or None,
        )
        try:
            if values.get("_extra"):
                raise rules.RuleViolation("more fields than the header has columns")
            rules.check_id("student_id", plan.student_id)
            plan.name = rules.check_name("name", plan.name)
            plan.email = rules.check_email(plan.email)
            if plan.course is not None:
                rules.check_id("course", plan.course)
        except rules.RuleViolation as exc:
            plan.error = str(exc)
            return plan
        earlier = seen.get(plan.student_id)
        if earlier is not None and earlier != (plan.name, plan.email):
            plan.error = f"student {plan.student_id} appears earlier with another name or email"
            return plan
        store = self.deps.store
        if earlier is None:
            seen[plan.student_id] = (plan.name, plan.email)
            student = store.get_student(plan.student_id)
            if student is None:
                plan.actions.append("create_student")
            elif (student.name, student.email) != (plan.name, plan.email):
                plan.actions.append("update_student")
        if plan.course is not None:
            if plan.course not in new_courses and store.get_course(plan.course) is None:
                new_courses.add(plan.course)
                plan.actions.append("create_course")
            if plan.course not in rosters:
                rosters[plan.course] = {m.student_id for m in store.list_members(plan.course)}
            if plan.student_id not in rosters[plan.course]:
                rosters[plan.course].add(plan.student_id)  # a repeated row is not a second enrolment
                plan.actions.append("enrol")
        return plan

    def run(self, data: bytes | str, apply: bool = False, actor: str = "api") -> dict[str, Any]:
        """Plan every row; with ``apply`` carry out the rows without errors. The report:
        ``rows`` (line, values, actions, error), ``summary`` counts and ``applied``."""
        seen: dict[str, tuple[str, str | None]] = {}
        new_courses: set[str] = set()
        rosters: dict[str, set[str]] = {}  # course -> student ids on it (read once per course)
        plans = [self._plan(line, values, seen, new_courses, rosters) for line, values in self._rows(_text(data))]
        rejected = sum(p.error is not None for p in plans)
        if rejected:
            self.deps.stats.inc("roster_rows_rejected", rejected)
        if apply:
            self.deps.stats.inc("roster_imports")
            for plan in plans:
                if plan.error is None:
                    self._apply(plan)
            log_event(
                log, "roster_imported", actor=actor, rows=len(plans), errors=sum(p.error is not None for p in plans)
            )
        count = lambda action: sum(action in p.actions for p in plans)  # noqa: E731
        summary = {
            "rows": len(plans),
            "errors": sum(p.error is not None for p in plans),
            "students_created": count("create_student"),
            "students_updated": count("update_student"),
            "enrolments": count("enrol"),
            "courses_created": sorted(new_courses),
            "unchanged": sum(p.error is None and not p.actions for p in plans),
        }
        return {"applied": apply, "summary": summary, "rows": [p.to_dict() for p in plans]}

    def _apply(self, plan: RowPlan) -> None:
        store, now = self.deps.store, self.deps.clock()
        if "create_student" in plan.actions:
            store.create_student(Student(plan.student_id, plan.name, plan.email, now))
        elif "update_student" in plan.actions:
            old = store.get_student(plan.student_id)
            store.update_student(Student(plan.student_id, plan.name, plan.email, old.created_ms if old else now))
        if plan.course is not None:
            if "create_course" in plan.actions and store.get_course(plan.course) is None:
                store.create_course(Course(plan.course, plan.course, None, now))
            store.add_member(CourseMember(plan.course, plan.student_id, now))
