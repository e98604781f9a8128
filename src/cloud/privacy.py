"""Privacy: retention of every face crop, and the erasure of a student's biometric data.

* :meth:`Privacy.purge_crops` deletes the evidence crops of recognised sightings and of assigned
  unknown faces older than ``crop_retention_days`` (pending and dismissed unknown faces follow
  ``unknown_retention_days``, :meth:`cloud.review.UnknownReview.purge_unknown_faces`). The
  attendance record stays; its ``evidence_ref`` (and the sighting's) becomes None.
* :meth:`Privacy.erase_student` is the GDPR erasure behind ``DELETE /api/students/<id>``: the
  student's faces leave the collection, their enrolment photos and every crop of them
  (sightings, assigned unknown faces) are deleted, and the audit log records who and how much.
  Attendance rows stay, under the student id, as the school's register (docs/cloud.md "Privacy").
"""

from __future__ import annotations

import logging
from typing import Any

from common.logs import log_event

from .audit import AUDIT_FILE, AuditLog
from .deps import ServiceDeps
from .roster import Roster

log = logging.getLogger("rollcall.cloud.service")

DAY_MS = 86_400_000


class Privacy:
    """Crop retention and student erasure, with an audit trail."""

    def __init__(self, deps: ServiceDeps, roster: Roster) -> None:
        self.deps = deps
        self.roster = roster
        self._audit: AuditLog | None = None

    @property
    def audit(self) -> AuditLog:
        """The audit log, ``<data_dir>/audit.jsonl`` (follows a replaced ``settings``)."""
        path = self.deps.settings.data_dir / AUDIT_FILE
        if self._audit is None or self._audit.path != path:
            self._audit = AuditLog(path)
        return self._audit

    def _erase_crops(self, before_ms: int | None, student_id: str | None) -> tuple[int, int]:
        """Delete the crops of matching sightings and assigned unknown faces; (sightings, unknowns)."""
        store, evidence = self.deps.store, self.deps.evidence
        sightings = 0
        for sighting in store.sightings_with_evidence(before_ms=before_ms, student_id=student_id):
            if sighting.evidence_ref:
                evidence.delete(sighting.evidence_ref)
            store.clear_sighting_evidence(sighting)
            sightings += 1
        unknowns = 0
        for unknown in store.list_unknown("assigned"):
            if (before_ms is None or unknown.seen_ms < before_ms) and (
                student_id is None or unknown.student_id == student_id
            ):
                evidence.delete(unknown.evidence_ref)
                if store.delete_unknown(unknown.unknown_id):
                    unknowns += 1
        return sightings, unknowns

    def purge_crops(self) -> dict[str, int]:
        """Delete recognised and assigned crops older than ``crop_retention_days``; the counts."""
        cutoff = self.deps.clock() - int(self.deps.settings.crop_retention_days * DAY_MS)
        sightings, unknowns = self._erase_crops(cutoff, None)
        counts = {"sighting_crops": sightings, "assigned_unknown_faces": unknowns}
        if sightings or unknowns:
            self.deps.stats.inc("crops_purged", sightings + unknowns)
            log_event(log, "crops_purged", cutoff_ms=cutoff, **counts)
            self.audit.record(self.deps.clock(), "retention", "crops_purged", cutoff_ms=cutoff, **counts)
        return counts

    def erase_student(self, student_id: str, actor: str = "api", peer: str | None = None) -> dict[str, Any]:
        """Delete the student, their faces (collection + enrolment photos) and every crop of them;
        audit it. NotFound if absent; RecognitionUnavailable (nothing changed) if the collection
        cannot be reached. Attendance rows stay under the student id."""
        faces = self.roster.delete_student(student_id)
        sightings, unknowns = self._erase_crops(None, student_id)
        counts = {"faces": faces, "sighting_crops": sightings, "assigned_unknown_faces": unknowns}
        self.deps.stats.inc("students_erased")
        self.audit.record(self.deps.clock(), actor, "student_erased", student_id=student_id, peer=peer, **counts)
        return {"student_id": student_id, **counts}
