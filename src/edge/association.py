"""Who is who in one frame: each face goes to at most one person box.

One global assignment per frame: every (face, person) pair whose face lies inside the
(slightly enlarged) person box gets a cost - how far the face sits from the top centre of the
box, where a head is - and the assignment with the most pairs at the lowest total cost is taken
(scipy's ``linear_sum_assignment``), each face and each box used once. So two overlapping person
boxes never share a face, a wide box does not steal its neighbour's face, and the second face of
a box holding two people becomes a subject of its own with a box derived from the face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .detection import Detection
from .faces import Face

Box = tuple[float, float, float, float]

#: Margin around a person box (fraction of its size) inside which a face may belong to it.
PERSON_MARGIN = 0.1
#: Cost of a pair that is not allowed (face outside the box): larger than any real total.
_FORBIDDEN = 1e6


@dataclass
class Subject:
    """One person to track in a frame: the box the tracker follows, its face and its detection."""

    box: Box
    face: Face | None
    person: Detection | None


def _centre(box: tuple[float, ...]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def face_cost(face: Face, person: Detection) -> float | None:
    """How unlikely ``face`` is ``person``'s own face (None: outside the box)."""
    x1, y1, x2, y2 = person.box
    width, height = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    fx, fy = _centre(face.box)
    if not (
        x1 - PERSON_MARGIN * width <= fx <= x2 + PERSON_MARGIN * width
        and y1 - PERSON_MARGIN * height <= fy <= y2 + PERSON_MARGIN * height
    ):
        return None
    return abs(fx - (x1 + x2) / 2) / width + max(0.0, fy - y1) / height


def box_around_face(face: Face, frame_width: int, frame_height: int) -> Box:
    """A head-and-shoulders box for a face no person box claimed."""
    x1, y1, x2, y2 = face.box
    w, h = x2 - x1, y2 - y1
    return (
        max(0.0, x1 - w),
        max(0.0, y1 - 0.5 * h),
        min(float(frame_width), x2 + w),
        min(float(frame_height), y2 + 2 * h),
    )


def assign_faces(persons: list[Detection], faces: list[Face], frame_width: int, frame_height: int) -> list[Subject]:
    """Subjects of one frame: every person box (with its face, if one was assigned to it),
    then every face no box took, with a box derived from the face."""
    face_of: dict[int, int] = {}
    if faces and persons:
        costs = np.full((len(persons), len(faces)), _FORBIDDEN)
        for pi, person in enumerate(persons):
            for fi, face in enumerate(faces):
                cost = face_cost(face, person)
                if cost is not None:
                    costs[pi, fi] = cost
        rows, cols = linear_sum_assignment(costs)
        face_of = {int(pi): int(fi) for pi, fi in zip(rows, cols, strict=False) if costs[pi, fi] < _FORBIDDEN}
    taken = set(face_of.values())
    subjects = [
        Subject(box=person.box, face=faces[face_of[pi]] if pi in face_of else None, person=person)
        for pi, person in enumerate(persons)
    ]
    subjects += [
        Subject(box=box_around_face(face, frame_width, frame_height), face=face, person=None)
        for fi, face in enumerate(faces)
        if fi not in taken
    ]
    return subjects
