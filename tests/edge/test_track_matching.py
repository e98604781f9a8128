from edge.track_matching import iou, match_boxes, same_face


def test_iou_first_then_the_same_face_then_the_nearest_centre_each_used_once():
    track_boxes = [(0, 0, 100, 200), (300, 0, 400, 200), (600, 0, 700, 200)]
    track_faces = [(30, 10, 70, 50), (330, 10, 370, 50), None]
    boxes = [
        (5, 0, 105, 200),  # overlaps track 0
        (280, 0, 330, 100),  # a face-derived box around track 1's face: little overlap, same face
        (640, 0, 740, 200),  # IoU 0.43 with track 2 at threshold 0.5: the nearest centre
        (2000, 0, 2100, 200),  # nobody's
    ]
    faces = [(31, 10, 71, 50), (332, 12, 372, 52), None, None]
    assert iou(boxes[2], track_boxes[2]) < 0.5
    assert match_boxes(boxes, faces, track_boxes, track_faces, 0.5) == {0: 0, 1: 1, 2: 2}


def test_a_track_is_continued_by_one_box_only():
    matched = match_boxes([(0, 0, 10, 10), (0, 0, 10, 10)], [None, None], [(0, 0, 10, 10)], [None], 0.3)
    assert list(matched.values()) == [0]  # two identical boxes: one continues the track, one starts anew


def test_same_face_means_within_one_face_size():
    assert same_face((0, 0, 40, 40), (40, 0, 80, 40))
    assert not same_face((0, 0, 40, 40), (41, 0, 81, 40))
