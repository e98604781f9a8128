import cv2
import numpy as np
import pytest

from edge.detection import Detection
from edge.faces import Face, FaceFinder, QualityGate, crop_face, sharpness
from tests.conftest import require_asset


@pytest.fixture(scope="module")
def finder(yunet_model):
    return FaceFinder(yunet_model, score_threshold=0.6)


@pytest.mark.parametrize("photo", ["obama/1.jpg", "biden/1.jpg", "paul_allen/1.jpg", "rose_leslie/1.jpg", "guido_van_rossum/2.jpg"])
def test_one_face_in_each_enrolment_photo(finder, photo):
    image = cv2.imread(str(require_asset(f"faces/enroll/{photo}")))
    faces = finder.detect_faces(image)
    assert len(faces) == 1, faces
    (x1, y1, x2, y2), score = faces[0]
    assert score > 0.8 and x2 - x1 > 40 and y2 - y1 > 40


def test_faces_found_inside_the_classroom_people(finder, detector, classroom_frames):
    frame = classroom_frames[0]
    people = detector.detect(frame)
    faces = [finder.face_in_person(frame, p) for p in people]
    assert sum(f is not None for f in faces) == 4
    for person, face in zip(people, faces):
        fx1, fy1, fx2, fy2 = face.box
        px1, py1, px2, py2 = person.box
        assert px1 - 15 <= fx1 < fx2 <= px2 + 15 and py1 - 15 <= fy1 < fy2 <= py2 + 15
        assert face.face_px >= 12 and face.blur > 0


def test_no_face_in_a_plain_image(finder):
    assert finder.detect_faces(np.full((200, 200, 3), 127, np.uint8)) == []
    person = Detection(box=(10, 10, 150, 190), score=0.9, class_id=0, class_name="person")
    assert finder.face_in_person(np.full((200, 200, 3), 127, np.uint8), person) is None


def test_quality_gate():
    gate = QualityGate(min_face_px=20, min_blur=50, min_score=0.6)
    good = Face(box=(0, 0, 40, 40), score=0.9, blur=300, face_px=40)
    assert gate.reason_to_reject(good) is None
    assert gate.reason_to_reject(Face((0, 0, 10, 10), 0.9, 300, 10)) == "too_small"
    assert gate.reason_to_reject(Face((0, 0, 40, 40), 0.9, 5, 40)) == "blurry"
    assert gate.reason_to_reject(Face((0, 0, 40, 40), 0.3, 300, 40)) == "low_score"
    assert good.quality() > Face((0, 0, 30, 30), 0.9, 300, 30).quality()


def test_blur_measure_prefers_sharp_images():
    rng = np.random.default_rng(0)
    sharp = (rng.random((64, 64)) * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(sharp, (9, 9), 3)
    assert sharpness(sharp) > 10 * sharpness(blurred)


def test_crop_is_padded_and_clipped():
    frame = np.zeros((100, 200, 3), np.uint8)
    assert crop_face(frame, (50, 40, 70, 60), 0.25).shape[:2] == (30, 30)
    assert crop_face(frame, (0, 0, 20, 20), 0.5).shape[:2] == (30, 30)  # clipped at the corner
