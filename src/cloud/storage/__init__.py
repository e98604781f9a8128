"""Attendance storage backends (SQLite, DynamoDB) and evidence stores (local, S3)."""

from .base import AttendanceStore
from .evidence import EvidenceStore, LocalEvidenceStore, evidence_ref_for, valid_ref

__all__ = ["AttendanceStore", "EvidenceStore", "LocalEvidenceStore", "evidence_ref_for", "valid_ref"]
