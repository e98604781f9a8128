import cv2
import numpy as np
import pytest

from edge.detection import Detection
from edge.association import assign_faces
from edge.faces import QUALITY_SIZE_CAP_PX, Face, FaceFinder, QualityGate, crop_face, sharpness
from edge.tracker import iou
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


def test_faces_of_the_whole_frame_each_go_to_one_classroom_person(finder, detector, classroom_frames):
    frame = classroom_frames[0]
    people = detector.detect(frame)
    faces = finder.detect(frame)
    assert len(people) == 4 and len(faces) == 4
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)  # best first
    subjects = assign_faces(people, faces, frame.shape[1], frame.shape[0])
    assert len(subjects) == 4  # every face claimed by a person box, no face-only subject
    assert sorted(id(s.face) for s in subjects) == sorted(id(f) for f in faces)  # each face exactly once
    for subject in subjects:
        face, person = subject.face, subject.person
        fx1, fy1, fx2, fy2 = face.box
        px1, py1, px2, py2 = person.box
        assert px1 - 15 <= fx1 < fx2 <= px2 + 15 and py1 - 15 <= fy1 < fy2 <= py2 + 15
        # 480x270 classroom: faces are 11-20 px, below the 40 px recognition minimum
        assert 10 <= face.face_px < 40 and face.blur > 0
        assert len(face.landmarks) == 5
        assert all(fx1 - 2 <= x <= fx2 + 2 and fy1 - 2 <= y <= fy2 + 2 for x, y in face.landmarks)
    gate = QualityGate()
    assert gate.min_face_px == 40
    assert {gate.reason_to_reject(f) for f in faces} == {"too_small"}


def test_no_face_in_a_plain_image(finder):
    plain = np.full((200, 200, 3), 127, np.uint8)
    assert finder.detect_faces(plain) == [] and finder.detect(plain) == []
    person = Detection(box=(10, 10, 150, 190), score=0.9, class_id=0, class_name="person")
    (subject,) = assign_faces([person], finder.detect(plain), 200, 200)
    assert subject.face is None and subject.person is person


def test_detect_measures_landmarks_and_sharpness(finder):
    image = cv2.imread(str(require_asset("faces/enroll/obama/1.jpg")))
    (face,) = finder.detect(image)
    (box, score), = finder.detect_faces(image)
    assert face.box == box and face.score == score
    assert face.face_px == min(box[2] - box[0], box[3] - box[1]) and face.blur > 20
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    assert lex < nx < rex and max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose above the mouth
    assert lmx < rmx
    assert finder.detect(image, measure=False)[0].blur == 0.0


def test_huge_frames_are_searched_downscaled_with_boxes_in_frame_pixels(yunet_model):
    image = cv2.imread(str(require_asset("faces/probe/obama-1080p.jpg")))
    assert image.shape[:2] == (1080, 1920)
    (full,) = FaceFinder(yunet_model, max_side=1920).detect(image)
    (small,) = FaceFinder(yunet_model, max_side=640).detect(image)  # searched at 640x360
    assert iou(full.box, small.box) > 0.8
    assert abs(small.face_px - full.face_px) < 0.15 * full.face_px
    for (ax, ay), (bx, by) in zip(full.landmarks, small.landmarks):
        assert abs(ax - bx) < 15 and abs(ay - by) < 15


def test_quality_gate():
    gate = QualityGate(min_face_px=20, min_blur=50, min_score=0.6)
    good = Face(box=(0, 0, 40, 40), score=0.9, blur=300, face_px=40)
    assert gate.reason_to_reject(good) is None
    assert gate.reason_to_reject(Face((0, 0, 10, 10), 0.9, 300, 10)) == "too_small"
    assert gate.reason_to_reject(Face((0, 0, 40, 40), 0.9, 5, 40)) == "blurry"
    assert gate.reason_to_reject(Face((0, 0, 40, 40), 0.3, 300, 40)) == "low_score"
    assert good.quality() > Face((0, 0, 30, 30), 0.9, 300, 30).quality()
    assert QualityGate().min_face_px == 40  # Rekognition's own smallest face


# Landmarks as YuNet gives them: two eyes, nose tip, two mouth corners (x, y in frame pixels).
SYMMETRIC = ((40.0, 50.0), (60.0, 50.0), (50.0, 60.0), (42.0, 70.0), (58.0, 70.0))
TURNED = ((40.0, 50.0), (60.0, 50.0), (56.0, 60.0), (42.0, 70.0), (58.0, 70.0))  # nose 6 px off the midline
PROFILE = ((40.0, 50.0), (55.0, 50.0), (62.0, 60.0), (42.0, 70.0), (55.0, 70.0))  # nose beyond the far eye


def face(landmarks=SYMMETRIC, px=100, score=0.9, blur=300.0):
    return Face(box=(0, 0, px, px), score=score, blur=blur, face_px=px, landmarks=landmarks)


def test_frontal_is_lower_for_a_turned_head():
    assert face(SYMMETRIC).frontal() == pytest.approx(1.0)
    assert face(TURNED).frontal() == pytest.approx(1.0 - 2 * 6 / 20)
    assert face(PROFILE).frontal() == 0.0
    assert face(SYMMETRIC).frontal() > face(TURNED).frontal() > face(PROFILE).frontal()
    mirrored = tuple((100 - x, y) for x, y in TURNED)
    assert face(mirrored).frontal() == pytest.approx(face(TURNED).frontal())  # either side
    assert face(()).frontal() == 1.0  # no landmarks: no opinion
    collapsed = ((50.0, 50.0), (50.0, 50.0), (50.0, 60.0), (45.0, 70.0), (55.0, 70.0))
    assert face(collapsed).frontal() == 0.0  # both eyes on one point: no pose, lowest rank


def test_quality_prefers_frontal_then_size_sharpness_and_score():
    assert face(SYMMETRIC).quality() > face(TURNED).quality() > face(PROFILE).quality() > 0
    assert face(SYMMETRIC, px=40).quality() < face(SYMMETRIC, px=80).quality()
    cap = int(QUALITY_SIZE_CAP_PX)
    assert face(SYMMETRIC, px=cap).quality() == face(SYMMETRIC, px=4 * cap).quality()  # bigger adds nothing
    assert face(SYMMETRIC, blur=30).quality() < face(SYMMETRIC, blur=300).quality()
    assert face(SYMMETRIC, blur=300).quality() == face(SYMMETRIC, blur=3000).quality()  # sharp is sharp
    assert face(SYMMETRIC, score=0.7).quality() < face(SYMMETRIC, score=0.95).quality()
    # a big profile loses to a smaller frontal face
    assert face(PROFILE, px=160).quality() < face(SYMMETRIC, px=60).quality()


def test_blur_measure_prefers_sharp_images():
    rng = np.random.default_rng(0)
    sharp = (rng.random((64, 64)) * 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(sharp, (9, 9), 3)
    assert sharpness(sharp) > 10 * sharpness(blurred)


def test_crop_is_padded_and_clipped():
    frame = np.zeros((100, 200, 3), np.uint8)
    assert crop_face(frame, (50, 40, 70, 60), 0.25).shape[:2] == (30, 30)
    assert crop_face(frame, (0, 0, 20, 20), 0.5).shape[:2] == (30, 30)  # clipped at the corner
