"""One global face-to-person assignment per frame (edge.association)."""

import itertools

import pytest

from edge.association import PERSON_MARGIN, assign_faces, box_around_face, face_cost
from edge.detection import Detection
from edge.faces import Face

W, H = 640, 480


def person(x1, y1, x2, y2, score=0.9):
    return Detection(box=(float(x1), float(y1), float(x2), float(y2)), score=score, class_id=0, class_name="person")


def face(x1, y1, x2, y2, score=0.9):
    return Face(box=(x1, y1, x2, y2), score=score, blur=200.0, face_px=min(x2 - x1, y2 - y1))


def faces_of(subjects):
    return [s.face for s in subjects if s.face is not None]


def test_two_overlapping_person_boxes_and_one_face_give_the_face_to_exactly_one():
    left = person(100, 50, 200, 350)
    right = person(150, 60, 250, 360)  # overlaps `left` by half its width
    head = face(135, 60, 165, 95)  # top centre of `left`, inside `right` too
    assert face_cost(head, left) is not None and face_cost(head, right) is not None
    for persons in ([left, right], [right, left]):  # the order of the boxes does not matter
        subjects = assign_faces(persons, [head], W, H)
        assert len(subjects) == 2  # the two people, no extra face-only subject
        owners = [s.person for s in subjects if s.face is head]
        assert owners == [left]  # the box whose head position it is
        assert [s.face for s in subjects if s.person is right] == [None]


def test_each_of_two_overlapping_people_keeps_their_own_face():
    left = person(100, 50, 220, 350)
    right = person(160, 60, 280, 360)
    left_head, right_head = face(145, 55, 175, 90), face(205, 65, 235, 100)
    for faces in ([left_head, right_head], [right_head, left_head]):
        subjects = assign_faces([left, right], faces, W, H)
        assert {(s.person, s.face) for s in subjects} == {(left, left_head), (right, right_head)}


def test_two_faces_in_one_person_box_give_two_subjects_with_faces():
    pair = person(100, 50, 300, 400)  # one box around two people standing close
    first, second = face(130, 60, 170, 100), face(230, 60, 270, 100)
    subjects = assign_faces([pair], [first, second], W, H)
    assert len(subjects) == 2
    assert sorted(id(f) for f in faces_of(subjects)) == sorted([id(first), id(second)])  # both, once each
    (boxed,) = [s for s in subjects if s.person is pair]
    (alone,) = [s for s in subjects if s.person is None]
    assert boxed.box == pair.box
    assert alone.box == box_around_face(alone.face, W, H)
    fx1, fy1, fx2, fy2 = alone.face.box
    x1, y1, x2, y2 = alone.box
    assert x1 <= fx1 < fx2 <= x2 and y1 <= fy1 < fy2 <= y2


def test_a_face_outside_every_person_box_becomes_its_own_subject():
    someone = person(20, 40, 120, 400)
    stray = face(500, 100, 540, 150)  # nobody detected there (occluded body, border of the frame)
    subjects = assign_faces([someone], [stray], W, H)
    assert [(s.person, s.face) for s in subjects] == [(someone, None), (None, stray)]
    x1, y1, x2, y2 = subjects[1].box
    assert (x1, y1, x2, y2) == (460.0, 75.0, 580.0, 250.0)  # head and shoulders: 1 face wide each side, 2 below
    assert face_cost(stray, someone) is None


def test_a_face_box_derived_near_the_border_stays_inside_the_frame():
    corner = face(610, 440, 640, 480)
    (subject,) = assign_faces([], [corner], W, H)
    x1, y1, x2, y2 = subject.box
    assert 0 <= x1 < 610 and 0 <= y1 < 440 and x2 == W and y2 == H


def test_persons_without_a_face_stay_subjects_in_order():
    persons = [person(0, 0, 100, 300), person(200, 0, 300, 300), person(400, 0, 500, 300)]
    subjects = assign_faces(persons, [], W, H)
    assert [s.person for s in subjects] == persons and [s.box for s in subjects] == [p.box for p in persons]
    assert all(s.face is None for s in subjects)
    assert assign_faces([], [], W, H) == []


def test_a_face_just_outside_the_box_counts_within_the_margin_only():
    body = person(100, 100, 200, 400)  # margin: 10 px sideways, 30 px vertically
    assert PERSON_MARGIN == 0.1
    assert face_cost(face(190, 85, 220, 115), body) is not None  # centre (205, 100): 5 px right of the box
    assert face_cost(face(200, 85, 230, 115), body) is None  # centre (215, 100): 15 px right
    assert face_cost(face(135, 55, 165, 85), body) is not None  # centre 30 px above the box: on the margin
    assert face_cost(face(135, 45, 165, 75), body) is None  # 40 px above


def test_the_head_position_is_cheaper_than_a_face_lower_down_or_aside():
    body = person(100, 100, 200, 400)
    top_centre = face_cost(face(135, 100, 165, 130), body)
    lower = face_cost(face(135, 250, 165, 280), body)
    aside = face_cost(face(170, 100, 200, 130), body)
    assert top_centre < lower and top_centre < aside


def test_every_face_is_used_at_most_once_whatever_the_layout():
    # A crowd of overlapping boxes and faces in every order: no face twice, none lost.
    persons = [person(x, 40, x + 120, 400) for x in (0, 60, 120, 180)]
    faces = [face(x, 50, x + 30, 85) for x in (30, 95, 150, 215, 330)]
    for order in itertools.permutations(range(len(faces)), len(faces)):
        subjects = assign_faces(persons, [faces[i] for i in order], W, H)
        used = [id(f) for f in faces_of(subjects)]
        assert sorted(used) == sorted(id(f) for f in faces)
        assert [s.person for s in subjects[: len(persons)]] == persons
        assert all(s.person is None and s.face is not None for s in subjects[len(persons):])


def test_a_widened_box_does_not_steal_its_neighbours_face():
    # classroom.gif frame 42: YOLO's box of the leftmost student widens over the next student.
    right, left_wide, middle, other = (person(282, 142, 358, 227), person(30, 126, 170, 225),
                                       person(106, 118, 160, 175), person(212, 119, 268, 177))
    right_face, middle_face, other_face, left_face = (face(313, 157, 331, 179), face(131, 129, 142, 143),
                                                      face(233, 129, 245, 145), face(69, 150, 87, 173))
    subjects = assign_faces([right, left_wide, middle, other], [right_face, middle_face, other_face, left_face], 480, 270)
    assert [(s.person, s.face) for s in subjects] == [
        (right, right_face), (left_wide, left_face), (middle, middle_face), (other, other_face)]
