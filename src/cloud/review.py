"""Review of unknown faces: list, assign to a student (optionally enrolling the crop),
dismiss, and the retention purge."""

from __future__ import annotations

import logging

from common.logs import log_event

from .attendance import Attendance
from .deps import ServiceDeps
from .errors import Conflict, InvalidInput, NotFound
from .records import UNKNOWN_STATUSES, AttendanceRecord, Sighting, UnknownFace
from .roster import Roster

log = logging.getLogger("rollcall.cloud.service")


class UnknownReview:
    """Unknown faces kept for review, and their purge after the retention period."""

    def __init__(self, deps: ServiceDeps, roster: Roster, attendance: Attendance) -> None:
        self.deps = deps
        self.roster = roster
        self.attendance = attendance

    def list_unknown_faces(self, status: str | None = "pending") -> list[UnknownFace]:
        """Unknown faces with ``status`` (None/"" = all), newest first."""
        if status not in (None, "", *UNKNOWN_STATUSES):
            raise InvalidInput(f"status must be one of {', '.join(UNKNOWN_STATUSES)}")
        return sorted(self.deps.store.list_unknown(status or None), key=lambda u: u.seen_ms, reverse=True)

    def get_unknown(self, unknown_id: str) -> UnknownFace:
        """The unknown face (NotFound if absent)."""
        unknown = self.deps.store.get_unknown(str(unknown_id))
        if unknown is None:
            raise NotFound(f"unknown face {str(unknown_id)[:70]!r} not found")
        return unknown

    def assign_unknown(self, unknown_id: str, student_id: str, enrol: bool = False) -> AttendanceRecord:
        """Say who a pending unknown face is: records attendance for its session
        (and, with ``enrol``, indexes the crop as a face of the student).
        Returns the student's attendance record. Conflict if not pending."""
        unknown = self.get_unknown(unknown_id)
        self.roster.get_student(student_id)
        if unknown.status != "pending":
            raise Conflict(f"unknown face {unknown_id} is already {unknown.status}")
        if unknown.session_id is None:
            raise Conflict(f"unknown face {unknown_id} was seen outside any session")
        if enrol:
            self.roster.enrol_photo(student_id, self.deps.evidence.get(unknown.evidence_ref))
        store = self.deps.store
        if not store.resolve_unknown(unknown_id, "assigned", student_id, self.deps.clock()):
            raise Conflict(f"unknown face {unknown_id} is no longer pending")
        store.record_sighting(
            Sighting(
                sighting_id=f"assign:{unknown_id}",
                session_id=unknown.session_id,
                student_id=student_id,
                camera_id=unknown.camera_id,
                seen_ms=unknown.seen_ms,
                similarity=None,
                evidence_ref=unknown.evidence_ref,
                trace_id=unknown.trace_id,
            )
        )
        log_event(
            log,
            "unknown_assigned",
            unknown_id=unknown_id,
            student_id=student_id,
            session_id=unknown.session_id,
            enrolled=enrol,
            trace_id=unknown.trace_id,
        )
        record = self.attendance.record_of(unknown.session_id, student_id)
        if record is None:  # pragma: no cover
            raise RuntimeError("attendance record missing right after recording")
        return record

    def dismiss_unknown(self, unknown_id: str) -> UnknownFace:
        """Mark a pending unknown face as reviewed-and-ignored."""
        unknown = self.get_unknown(unknown_id)
        if unknown.status != "pending" or not self.deps.store.resolve_unknown(
            unknown_id, "dismissed", None, self.deps.clock()
        ):
            raise Conflict(f"unknown face {unknown_id} is already {unknown.status}")
        return self.get_unknown(unknown_id)

    def purge_unknown_faces(self) -> int:
        """Delete pending/dismissed unknown faces (and crops) older than the
        retention period. Returns how many were deleted."""
        cutoff = self.deps.clock() - int(self.deps.settings.unknown_retention_days * 86_400_000)
        purged = 0
        for unknown in self.deps.store.list_unknown(None):
            if unknown.status in ("pending", "dismissed") and unknown.seen_ms < cutoff:
                self.deps.evidence.delete(unknown.evidence_ref)
                if self.deps.store.delete_unknown(unknown.unknown_id):
                    purged += 1
        if purged:
            self.deps.stats.inc("unknown_purged", purged)
            log_event(log, "unknown_purged", count=purged, cutoff_ms=cutoff)
        return purged
