"""The teacher's dashboard: server-rendered page shells, data from the JSON API.

Every page is a Jinja template plus vanilla JavaScript in ``static/`` that
calls the API (no CDN, no external fonts: it works offline). The live page
polls the attendance endpoint every two seconds.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from cloud.api.validation import require_id
from cloud.auth import admin_only

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Navigation entries: (endpoint, label).
NAV = (
    ("dashboard.live", "Live"),
    ("dashboard.students", "Students"),
    ("dashboard.classrooms", "Classrooms"),
    ("dashboard.sessions", "Sessions"),
    ("dashboard.courses", "Courses"),
    ("dashboard.reports", "Reports"),
    ("dashboard.unknown_faces", "Unknown faces"),
    ("dashboard.users", "Users"),
)

#: Navigation entries only admins see.
ADMIN_NAV = frozenset({"dashboard.users"})

#: Milliseconds between two polls of the live attendance.
POLL_MS = 2000


@bp.app_context_processor
def _layout_context() -> dict[str, object]:
    return {"nav": NAV, "admin_nav": ADMIN_NAV, "poll_ms": POLL_MS}


@bp.get("/")
def live() -> str:
    """Live attendance of a classroom's open session."""
    return render_template("live.html", page="live")


@bp.get("/students")
def students() -> str:
    """Students and photo enrolment."""
    return render_template("students.html", page="students")


@bp.get("/classrooms")
def classrooms() -> str:
    """Classrooms, opening and closing sessions."""
    return render_template("classrooms.html", page="classrooms")


@bp.get("/sessions")
def sessions() -> str:
    """Session history with CSV downloads."""
    return render_template("sessions.html", page="sessions")


@bp.get("/sessions/<session_id>")
def session_detail(session_id: str) -> str:
    """Attendance of one session."""
    return render_template("session.html", page="session", session_id=require_id(session_id, "session_id"))


@bp.get("/unknown")
def unknown_faces() -> str:
    """Review of faces nobody matched."""
    return render_template("unknown.html", page="unknown")


@bp.get("/users")
@admin_only
def users() -> str:
    """Users and API tokens (admins only)."""
    return render_template("users.html", page="users")


from . import teacher_pages  # noqa: E402,F401  (courses, course, reports pages on this blueprint)
