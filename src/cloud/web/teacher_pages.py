"""Dashboard pages of the teacher workflows: courses (roster import, timetable, exports),
one course, and the per-student attendance report."""

from __future__ import annotations

from flask import current_app, render_template

from cloud.api.context import EXTENSION_KEY
from cloud.api.validation import require_id

from . import bp


def _timezone() -> str:
    return str(current_app.extensions[EXTENSION_KEY]["settings"].school_timezone)


@bp.get("/courses")
def courses() -> str:
    """Courses, new course, roster CSV import with preview."""
    return render_template("courses.html", page="courses")


@bp.get("/courses/<course_id>")
def course_detail(course_id: str) -> str:
    """One course: classroom, timetable, roster, sessions, term export."""
    course_id = require_id(course_id, "course_id")
    return render_template("course.html", page="course", course_id=course_id, timezone=_timezone())


@bp.get("/reports")
def reports() -> str:
    """A student's attendance rate over a date range."""
    return render_template("reports.html", page="reports", timezone=_timezone())
