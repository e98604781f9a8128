"""Students and their enrolment faces (in the store and the recognizer's collection)."""

from __future__ import annotations

import logging
from typing import Any

from common.images import ImageDecodeError, decode_image, encode_jpeg, image_kind
from common.logs import log_event

from .deps import ServiceDeps
from .errors import EnrolmentError, InvalidInput, NotFound
from .inputs import check_email, check_id, check_name
from .records import Enrolment, Student
from .storage.evidence import evidence_ref_for

log = logging.getLogger("rollcall.cloud.service")

#: Largest enrolment photo Rekognition accepts as raw bytes.
MAX_PHOTO_BYTES = 5 * 1024 * 1024


class Roster:
    """Student CRUD and face enrolment. Deleting faces asks the recognizer first, so a
    Rekognition outage (RecognitionUnavailable) leaves store and collection unchanged."""

    def __init__(self, deps: ServiceDeps) -> None:
        self.deps = deps

    def create_student(self, student_id: str, name: str, email: str | None = None) -> Student:
        """Register a student (Conflict if the id exists)."""
        student = Student(
            student_id=check_id("student_id", student_id),
            name=check_name("name", name) or "",
            email=check_email(email),
            created_ms=self.deps.clock(),
        )
        self.deps.store.create_student(student)
        log_event(log, "student_created", student_id=student.student_id)
        return student

    def get_student(self, student_id: str) -> Student:
        """The student (NotFound if absent)."""
        student = self.deps.store.get_student(str(student_id))
        if student is None:
            raise NotFound(f"student {str(student_id)[:70]!r} not found")
        return student

    def list_students(self) -> list[Student]:
        """Every student, by id."""
        return sorted(self.deps.store.list_students(), key=lambda s: s.student_id)

    def update_student(self, student_id: str, name: str | None = None, email: str | None = None) -> Student:
        """Change name and/or email (``email=""`` clears it)."""
        student = self.get_student(student_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = check_name("name", name)
        if email is not None:
            changes["email"] = check_email(email)
        if not changes:
            return student
        updated = Student(**{**student.to_dict(), **changes})
        self.deps.store.update_student(updated)
        return updated

    def delete_student(self, student_id: str) -> int:
        """Delete the student and their faces (in the collection too, and their enrolment photos);
        return how many faces. Attendance records stay as history (the crops go too through
        :meth:`cloud.privacy.Privacy.erase_student`). RecognitionUnavailable leaves everything as is."""
        self.get_student(student_id)
        store, evidence = self.deps.store, self.deps.evidence
        faces = store.list_faces(student_id)
        if faces:
            self.deps.recognizer.delete_faces([f.face_id for f in faces])
        for face in faces:
            store.delete_face(student_id, face.face_id)
            if face.photo_ref:
                evidence.delete(face.photo_ref)
        store.delete_student(student_id)
        log_event(log, "student_deleted", student_id=student_id, faces_removed=len(faces))
        return len(faces)

    def enrol_photo(self, student_id: str, image_bytes: bytes) -> Enrolment:
        """Index the one face of a JPEG/PNG photo for the student.

        EnrolmentError if the photo has no face or several; InvalidInput if it
        is not an image; RecognitionUnavailable if Rekognition cannot be used.
        """
        self.get_student(student_id)
        if not isinstance(image_bytes, (bytes, bytearray)) or not image_bytes:
            raise InvalidInput("the photo is empty")
        if len(image_bytes) > MAX_PHOTO_BYTES:
            raise InvalidInput(f"the photo has {len(image_bytes)} bytes; the limit is {MAX_PHOTO_BYTES}")
        image_bytes = bytes(image_bytes)
        try:
            decoded = decode_image(image_bytes)
        except ImageDecodeError as exc:
            raise EnrolmentError(f"the photo is not a readable JPEG/PNG image ({exc})") from None
        kind = image_kind(image_bytes)
        if kind is None:  # decodable but not JPEG/PNG (BMP, ...): Rekognition wants JPEG
            image_bytes, kind = encode_jpeg(decoded, 95), "jpeg"
        face = self.deps.recognizer.index_face(student_id, image_bytes)
        photo_ref = evidence_ref_for(f"enrol:{face.face_id}", kind)
        self.deps.evidence.put(photo_ref, image_bytes)
        enrolment = Enrolment(
            face_id=face.face_id,
            student_id=student_id,
            image_id=face.image_id,
            confidence=face.confidence,
            bounding_box=face.bounding_box,
            photo_ref=photo_ref,
            created_ms=self.deps.clock(),
        )
        self.deps.store.add_face(enrolment)
        self.deps.stats.inc("enrolments")
        log_event(log, "face_enrolled", student_id=student_id, face_id=face.face_id)
        return enrolment

    def list_faces(self, student_id: str) -> list[Enrolment]:
        """The faces enrolled for the student."""
        self.get_student(student_id)
        return sorted(self.deps.store.list_faces(student_id), key=lambda f: f.created_ms)

    def remove_face(self, student_id: str, face_id: str) -> None:
        """Remove one enrolled face (from the collection and the store)."""
        faces = {f.face_id: f for f in self.list_faces(student_id)}
        face = faces.get(face_id)
        if face is None:
            raise NotFound(f"face {str(face_id)[:70]!r} of student {student_id!r} not found")
        self.deps.recognizer.delete_faces([face_id])
        self.deps.store.delete_face(student_id, face_id)
        if face.photo_ref:
            self.deps.evidence.delete(face.photo_ref)
        log_event(log, "face_removed", student_id=student_id, face_id=face_id)
