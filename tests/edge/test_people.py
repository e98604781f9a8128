"""edge.people: person boxes beside the face path, following their faces between detections."""

import threading
import time

import numpy as np

from common.metrics import Metrics
from edge.detection import Detection
from edge.faces import Face
from edge.people import PeopleStage, PersonBoxes

SHAPE = (480, 640, 3)


def face(x1, y1, size=40):
    return Face(box=(x1, y1, x1 + size, y1 + size), score=0.9, blur=100.0, face_px=size)


def person(x1, y1, x2, y2):
    return Detection((x1, y1, x2, y2), 0.9, 0, "person")


def test_boxes_move_with_the_face_they_held():
    boxes = PersonBoxes()
    people, epoch = boxes.follow("cam", SHAPE, [face(100, 50)], cut=False)
    assert people == []  # nothing detected yet
    assert boxes.update("cam", epoch, [person(80, 40, 160, 300), person(400, 40, 480, 300)], [face(100, 50)], 640, 480)
    # One frame later the first person moved 30 px right and 10 down; the second shows no face.
    people, _ = boxes.follow("cam", SHAPE, [face(130, 60)], cut=False)
    assert [p.box for p in people] == [(110, 50, 190, 310), (400, 40, 480, 300)]
    # A face that jumped farther than 1.5 face sizes is somebody else: the box stays.
    people, _ = boxes.follow("cam", SHAPE, [face(300, 60)], cut=False)
    assert [p.box for p in people] == [(110, 50, 190, 310), (400, 40, 480, 300)]


def test_each_face_moves_one_box_closest_first():
    boxes = PersonBoxes()
    _, epoch = boxes.follow("cam", SHAPE, [], cut=False)
    boxes.update(
        "cam", epoch, [person(0, 0, 100, 300), person(100, 0, 200, 300)], [face(30, 10), face(130, 10)], 640, 480
    )
    people, _ = boxes.follow("cam", SHAPE, [face(40, 10)], cut=False)  # only the left face is seen
    assert [p.box for p in people] == [(10, 0, 110, 300), (100, 0, 200, 300)]


def test_a_scene_cut_or_a_new_size_ends_the_boxes_and_late_results_are_ignored():
    boxes = PersonBoxes()
    _, epoch = boxes.follow("cam", SHAPE, [], cut=False)
    assert boxes.update("cam", epoch, [person(0, 0, 100, 300)], [], 640, 480)
    people, new_epoch = boxes.follow("cam", SHAPE, [], cut=True)
    assert people == [] and new_epoch != epoch
    assert not boxes.update("cam", epoch, [person(0, 0, 100, 300)], [], 640, 480)  # detected before the cut
    assert boxes.follow("cam", SHAPE, [], cut=False)[0] == []
    assert boxes.update("cam", new_epoch, [person(0, 0, 100, 300)], [], 640, 480)
    assert boxes.follow("cam", (720, 1280, 3), [], cut=False)[0] == []


def test_cameras_are_bounded():
    boxes = PersonBoxes(max_cameras=3)
    for i in range(10):
        _, epoch = boxes.follow(f"cam-{i}", SHAPE, [], cut=False)
        boxes.update(f"cam-{i}", epoch, [person(0, 0, 10, 10)], [], 640, 480)
    assert len(boxes._cameras) == 3
    assert boxes.age_ms("cam-0", 0) is None and boxes.follow("cam-9", SHAPE, [], cut=False)[0]


class GatedDetector:
    """Detects one person per frame; blocks until released (to hold the stage's thread busy)."""

    def __init__(self):
        self.release = threading.Event()
        self.frames: list[int] = []

    def detect(self, frame):
        self.release.wait(5)
        self.frames.append(int(frame[0, 0, 0]))
        return [person(0, 0, 50, 100)]


def test_inline_stage_detects_right_after_each_frame():
    detector = GatedDetector()
    detector.release.set()
    metrics = Metrics()
    stage = PeopleStage(detector, PersonBoxes(), metrics)
    _, epoch = stage.boxes.follow("cam", SHAPE, [], cut=False)
    stage.submit("cam", epoch, np.full(SHAPE, 7, np.uint8), [], camera_ms=1000)
    assert detector.frames == [7] and metrics.count("people_frames_detected") == 1
    assert stage.boxes.follow("cam", SHAPE, [], cut=False)[0] == [person(0, 0, 50, 100)]
    assert stage.boxes.age_ms("cam", 1500) == 500


def test_threaded_stage_works_on_each_cameras_newest_frame():
    detector = GatedDetector()
    metrics = Metrics()
    stage = PeopleStage(detector, PersonBoxes(), metrics, threaded=True).start()
    try:
        _, epoch = stage.boxes.follow("cam", SHAPE, [], cut=False)
        stage.submit("cam", epoch, np.full(SHAPE, 1, np.uint8), [])
        time.sleep(0.2)  # the thread took frame 1 and waits in the detector
        for value in (2, 3, 4):  # frames 2 and 3 are replaced while they wait
            stage.submit("cam", epoch, np.full(SHAPE, value, np.uint8), [])
        detector.release.set()
        deadline = time.monotonic() + 5
        while metrics.count("people_frames_detected") < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert detector.frames == [1, 4]
        assert metrics.count("people_frames_superseded") == 2
        assert stage.boxes.follow("cam", SHAPE, [], cut=False)[0] == [person(0, 0, 50, 100)]
    finally:
        detector.release.set()
        stage.stop()
    assert stage._thread is None


def test_a_failing_detection_is_counted_and_the_stage_goes_on():
    class Flaky:
        calls = 0

        def detect(self, frame):
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise RuntimeError("boom")
            return []

    metrics = Metrics()
    stage = PeopleStage(Flaky(), PersonBoxes(), metrics, threaded=True).start()
    try:
        _, epoch = stage.boxes.follow("cam", SHAPE, [], cut=False)
        stage.submit("cam", epoch, np.zeros(SHAPE, np.uint8), [])
        deadline = time.monotonic() + 5
        while metrics.count("people_errors") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        stage.submit("cam", epoch, np.zeros(SHAPE, np.uint8), [])
        while metrics.count("people_frames_detected") < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert metrics.count("people_errors") == 1 and metrics.count("people_frames_detected") == 1
    finally:
        stage.stop()


def test_waiting_frames_are_bounded_in_bytes_oldest_camera_dropped_first():
    detector = GatedDetector()
    metrics = Metrics()
    stage = PeopleStage(detector, PersonBoxes(), metrics, threaded=True)
    stage.max_waiting_bytes = 3 * int(np.prod(SHAPE))  # room for three frames
    for i in range(5):  # the thread is not started: everything waits
        stage.submit(f"cam-{i}", 0, np.full(SHAPE, i, np.uint8), [])
    assert list(stage._waiting) == ["cam-2", "cam-3", "cam-4"]
    assert stage._waiting_bytes == 3 * int(np.prod(SHAPE)) and metrics.count("people_frames_dropped") == 2
    stage.forget("cam-3")
    assert list(stage._waiting) == ["cam-2", "cam-4"] and stage._waiting_bytes == 2 * int(np.prod(SHAPE))
    stage.stop()
    assert stage._waiting_bytes == 0


def test_boxes_too_old_are_dropped():
    boxes = PersonBoxes()
    _, epoch = boxes.follow("cam", SHAPE, [], cut=False, camera_ms=0)
    boxes.update("cam", epoch, [person(0, 0, 50, 100)], [], 640, 480, camera_ms=0)
    assert boxes.follow("cam", SHAPE, [], cut=False, camera_ms=29_000)[0] == [person(0, 0, 50, 100)]
    assert boxes.follow("cam", SHAPE, [], cut=False, camera_ms=31_000)[0] == []  # the detector fell 31 s behind
    assert boxes.age_ms("cam", 31_000) is None
