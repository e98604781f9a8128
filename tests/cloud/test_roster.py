"""cloud.roster.Roster: students and enrolment faces on the shared dependencies."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.errors import Conflict, EnrolmentError, InvalidInput, NotFound, RecognitionUnavailable
from cloud.roster import MAX_PHOTO_BYTES, Roster

from .conftest import ImageMatchRecognizer, blank_image, synthetic_face
from .domain_support import T0, counters, make_deps


@pytest.fixture
def recognizer() -> ImageMatchRecognizer:
    return ImageMatchRecognizer()


@pytest.fixture
def roster(tmp_path: Path, recognizer: ImageMatchRecognizer) -> Roster:
    return Roster(make_deps(tmp_path, recognizer))


def test_students_follow_the_shared_rules(roster: Roster) -> None:
    ada = roster.create_student("ada", "  Ada Lovelace ", " ada@example.org ")
    assert (ada.name, ada.email, ada.created_ms) == ("Ada Lovelace", "ada@example.org", T0)
    with pytest.raises(Conflict):
        roster.create_student("ada", "Again")
    for bad_id in ("_lab", "-x", ".hidden", "a b", "x" * 65, "a\n"):
        with pytest.raises(InvalidInput, match="starting with a letter or digit"):
            roster.create_student(bad_id, "Name")
    for bad_email in ("a@b", "a b@c.org", "nope"):
        with pytest.raises(InvalidInput, match="e-mail"):
            roster.create_student("bob", "Bob", bad_email)
    with pytest.raises(InvalidInput):
        roster.create_student("bob", "x" * 201)
    assert roster.update_student("ada", name=" Ada L. ").name == "Ada L."
    assert roster.update_student("ada", email="").email is None
    assert roster.update_student("ada") == roster.get_student("ada")
    assert [s.student_id for s in roster.list_students()] == ["ada"]


def test_enrol_and_remove_faces(roster: Roster, recognizer: ImageMatchRecognizer) -> None:
    roster.create_student("ada", "Ada")
    face = roster.enrol_photo("ada", synthetic_face(1))
    assert face.photo_ref and roster.deps.evidence.get(face.photo_ref)[:2] == b"\xff\xd8"
    assert counters(roster.deps)["enrolments"] == 1
    with pytest.raises(EnrolmentError, match="no usable face"):
        roster.enrol_photo("ada", blank_image())
    with pytest.raises(InvalidInput, match="limit"):
        roster.enrol_photo("ada", b"\xff" * (MAX_PHOTO_BYTES + 1))
    roster.remove_face("ada", face.face_id)
    assert roster.list_faces("ada") == [] and recognizer.faces == {}
    with pytest.raises(NotFound):
        roster.remove_face("ada", face.face_id)


def test_delete_student_removes_faces_first_and_keeps_all_when_recognition_is_down(
        roster: Roster, recognizer: ImageMatchRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    roster.create_student("ada", "Ada")
    roster.enrol_photo("ada", synthetic_face(1))

    def down(face_ids: list[str]) -> None:
        raise RecognitionUnavailable("down")

    monkeypatch.setattr(recognizer, "delete_faces", down)
    with pytest.raises(RecognitionUnavailable):
        roster.delete_student("ada")
    assert len(roster.list_faces("ada")) == 1
    monkeypatch.undo()
    roster.delete_student("ada")
    assert recognizer.faces == {}
    with pytest.raises(NotFound):
        roster.get_student("ada")
