"""Which live track each box of a frame continues: IoU first, then the same face where a track's
face was (a box that changed kind: face-derived <-> person box), then the nearest centre within
half a box size (fast movers, low frame rates). Each box and each track is used once."""

from __future__ import annotations

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two xyxy boxes."""
    ix1, iy1, ix2, iy2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def centre(box: Box) -> tuple[float, float]:
    """The centre of an xyxy box."""
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def centre_distance(a: Box, b: Box) -> float:
    """Distance between the centres of two xyxy boxes."""
    (ax, ay), (bx, by) = centre(a), centre(b)
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5


def same_face(a: Box, b: Box) -> bool:
    """Whether face boxes ``a`` and ``b`` (consecutive frames) sit within one face size of each other."""
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
    return centre_distance(a, b) <= size


def match_boxes(
    boxes: list[Box],
    faces: list[Box | None],
    track_boxes: list[Box],
    track_faces: list[Box | None],
    iou_threshold: float,
) -> dict[int, int]:
    """Box index -> track index for the boxes that continue a track (the others start new ones)."""
    assigned: dict[int, int] = {}
    used: set[int] = set()

    def take(bi: int, options: list[tuple[float, int]]) -> None:
        if options:
            _, ti = min(options)
            assigned[bi] = ti
            used.add(ti)

    pairs = sorted(
        ((iou(box, tb), bi, ti) for bi, box in enumerate(boxes) for ti, tb in enumerate(track_boxes)), reverse=True
    )
    for score, bi, ti in pairs:
        if score < iou_threshold:
            break
        if bi not in assigned and ti not in used:
            assigned[bi] = ti
            used.add(ti)
    for bi, face in enumerate(faces):
        if bi not in assigned and face is not None:
            take(
                bi,
                [
                    (centre_distance(face, tf), ti)
                    for ti, tf in enumerate(track_faces)
                    if ti not in used and tf is not None and same_face(face, tf)
                ],
            )
    for bi, box in enumerate(boxes):
        if bi not in assigned:
            size = max(box[2] - box[0], box[3] - box[1])
            take(
                bi,
                [
                    (d, ti)
                    for ti, tb in enumerate(track_boxes)
                    if ti not in used and (d := centre_distance(box, tb)) <= 0.5 * size
                ],
            )
    return assigned
