"""Seed the demo through the cloud HTTP API: classroom, students + photos, open session."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.logs import log_event

from .client import ApiClient, ApiError
from .frames import select_probes, write_frames
from .settings import SeedSettings

PHOTO_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass
class SeedReport:
    """What the seeder did (all counts), printed at the end."""

    classroom_id: str = ""
    session_id: str = ""
    students_created: int = 0
    students_existing: int = 0
    photos_enrolled: int = 0
    photos_skipped: int = 0
    photos_failed: list[str] = field(default_factory=list)
    students_without_faces: list[str] = field(default_factory=list)
    frames_written: int = 0


def discover_students(enroll_dir: Path) -> dict[str, list[Path]]:
    """``{student_id: [photo paths]}`` from ``enroll_dir/<student_id>/<n>.jpg``."""
    if not enroll_dir.is_dir():
        raise FileNotFoundError(f"enrolment folder {enroll_dir} does not exist")
    students: dict[str, list[Path]] = {}
    for folder in sorted(p for p in enroll_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_TYPES and p.is_file())
        if photos:
            students[folder.name] = photos
    if not students:
        raise FileNotFoundError(f"no <student_id>/<n>.jpg photos under {enroll_dir}")
    return students


def display_name(student_id: str) -> str:
    """``guido_van_rossum`` -> ``Guido Van Rossum``."""
    return " ".join(part.capitalize() for part in student_id.replace("-", "_").split("_") if part)


def ensure_classroom(client: ApiClient, classroom_id: str, name: str) -> bool:
    """Create the classroom; False when it already existed."""
    try:
        client.json("POST", "/api/classrooms", {"classroom_id": classroom_id, "name": name})
        return True
    except ApiError as exc:
        if exc.status == 409:
            return False
        raise


def ensure_student(
    client: ApiClient, student_id: str, photos: list[Path], report: SeedReport, log: logging.Logger
) -> None:
    """Create the student and enrol its photos, unless faces are already enrolled (re-runs)."""
    try:
        client.json("POST", "/api/students", {"student_id": student_id, "name": display_name(student_id)})
        report.students_created += 1
    except ApiError as exc:
        if exc.status != 409:
            raise
        report.students_existing += 1
    faces = (client.json("GET", f"/api/students/{student_id}/photos") or {}).get("faces", [])
    if faces:
        report.photos_skipped += len(photos)
        return
    enrolled = 0
    for photo in photos:
        try:
            client.request(
                "POST",
                f"/api/students/{student_id}/photos",
                raw=photo.read_bytes(),
                content_type=PHOTO_TYPES[photo.suffix.lower()],
            )
            enrolled += 1
        except ApiError as exc:
            if exc.status in (0,) or exc.status >= 500:
                raise
            report.photos_failed.append(f"{student_id}/{photo.name}: {exc.code}")
            log_event(
                log,
                "seed_photo_rejected",
                level=logging.WARNING,
                student_id=student_id,
                photo=photo.name,
                status=exc.status,
                code=exc.code,
                detail=exc.message,
            )
    report.photos_enrolled += enrolled
    if not enrolled:
        report.students_without_faces.append(student_id)


def ensure_open_session(client: ApiClient, classroom_id: str, name: str) -> dict[str, Any]:
    """The classroom's open session, opened now if there is none."""
    listing = client.json("GET", "/api/sessions", query={"classroom_id": classroom_id, "status": "open"}) or {}
    sessions = listing.get("sessions", [])
    if sessions:
        return sessions[0]
    return client.json("POST", "/api/sessions", {"classroom_id": classroom_id, "name": name})


def close_open_sessions(client: ApiClient, classroom_id: str) -> list[str]:
    """Close every open session of the classroom; their ids."""
    listing = client.json("GET", "/api/sessions", query={"classroom_id": classroom_id, "status": "open"}) or {}
    closed = []
    for session in listing.get("sessions", []):
        try:
            client.json("POST", f"/api/sessions/{session['session_id']}/close")
        except ApiError as exc:
            if exc.status != 409:  # closed meanwhile
                raise
        closed.append(str(session["session_id"]))
    return closed


def run_seed(settings: SeedSettings, client: ApiClient, log: logging.Logger) -> SeedReport:
    """Everything the demo needs before the cameras start. Idempotent."""
    report = SeedReport(classroom_id=settings.classroom_id)
    students = discover_students(settings.enroll_dir)
    client.wait_healthy(settings.wait_s)
    created = ensure_classroom(client, settings.classroom_id, settings.classroom_name)
    log_event(log, "seed_classroom", classroom_id=settings.classroom_id, classroom_created=created)
    for student_id, photos in students.items():
        ensure_student(client, student_id, photos, report, log)
    session = ensure_open_session(client, settings.classroom_id, settings.session_name)
    report.session_id = str(session.get("session_id", ""))
    log_event(log, "seed_session", classroom_id=settings.classroom_id, session_id=report.session_id)
    if settings.frames_dir is not None:
        enrolled = set(students) - set(report.students_without_faces)
        probes = select_probes(settings.manifest, settings.probe_dir, enrolled, settings.include_unknown)
        report.frames_written = len(
            write_frames(probes, settings.frames_dir, settings.frame_width, settings.frame_height)
        )
        if not report.frames_written:
            raise FileNotFoundError(f"no demo frames could be made from {settings.probe_dir} ({settings.manifest})")
    return report
