import numpy as np
import pytest

from edge.detection import DetectorConfigError, letterbox, letterbox_shape, parse_names, resolve_person_classes


def test_parse_names_from_ultralytics_metadata_string():
    assert parse_names("{0: 'person', 1: 'bicycle'}") == {0: "person", 1: "bicycle"}
    assert parse_names(["a", "b"]) == {0: "a", 1: "b"}
    assert parse_names("not a dict") == {}


def test_person_classes_by_name_or_id():
    names = {0: "Normal", 1: "Fall"}
    assert resolve_person_classes(["normal", "Fall"], names, 2) == {0: "Normal", 1: "Fall"}
    assert resolve_person_classes(["1"], names, 2) == {1: "Fall"}
    coco = {0: "person", 1: "bicycle", 2: "car"}
    assert resolve_person_classes(["person"], coco, 3) == {0: "person"}


def test_wrong_person_class_is_a_clear_error():
    with pytest.raises(DetectorConfigError, match="ROLLCALL_EDGE_PERSON_CLASSES"):
        resolve_person_classes(["person"], {0: "Normal", 1: "Fall"}, 2)
    with pytest.raises(DetectorConfigError, match="out of range"):
        resolve_person_classes(["5"], {0: "Normal"}, 1)
    with pytest.raises(DetectorConfigError):
        resolve_person_classes([], {0: "person"}, 1)


def test_letterbox_maps_boxes_back_to_the_frame():
    frame = np.zeros((270, 480, 3), np.uint8)
    padded, geo = letterbox(frame, 640)
    assert padded.shape == (640, 640, 3)
    assert geo.pad_x == 0 and geo.pad_y == 140 and geo.scale == pytest.approx(640 / 480)
    # A box drawn in model-input pixels lands where it should in the frame.
    box_in_input = np.array([[64.0, 140 + 64.0, 640.0, 140 + 360.0]])
    back = geo.to_frame(box_in_input, 480, 270)
    assert back[0] == pytest.approx([48, 48, 480, 270])


@pytest.mark.parametrize(
    ("height", "width", "shape", "scale", "pad"),
    [
        (270, 480, (384, 640), 640 / 480, (0, 12)),  # 16:9 preview: 640x360 image + 12 px grey top and bottom
        (432, 768, (384, 640), 640 / 768, (0, 12)),  # 16:9 camera, scaled down
        (1080, 1920, (384, 640), 640 / 1920, (0, 12)),  # full HD
        (480, 270, (640, 384), 640 / 480, (12, 0)),  # portrait: padding left and right
        (640, 640, (640, 640), 1.0, (0, 0)),  # already a stride multiple: no padding
        (100, 30, (640, 192), 6.4, (0, 0)),  # thin portrait, scaled up: 640 x 192 exactly
    ],
)
def test_rectangular_letterbox_is_the_smallest_stride_multiple(height, width, shape, scale, pad):
    frame = np.full((height, width, 3), 200, np.uint8)
    assert letterbox_shape(height, width, 640, auto=True) == shape
    padded, geo = letterbox(frame, 640, auto=True)
    assert padded.shape[:2] == shape
    assert padded.shape[0] % 32 == 0 and padded.shape[1] % 32 == 0
    assert geo.scale == pytest.approx(scale)
    assert (geo.pad_x, geo.pad_y) == pad
    # The grey padding is where the geometry says it is, the image everywhere else.
    if pad[1]:
        assert (padded[: pad[1]] == 114).all() and (padded[-pad[1] :] == 114).all()
        assert (padded[pad[1] : -pad[1]] == 200).all()
    if pad[0]:
        assert (padded[:, : pad[0]] == 114).all() and (padded[:, -pad[0] :] == 114).all()
        assert (padded[:, pad[0] : -pad[0]] == 200).all()


def test_rectangular_letterbox_maps_boxes_back_16_9_and_portrait():
    # 16:9: a box drawn in the 640x384 input lands where it should in the 480x270 frame.
    padded, geo = letterbox(np.zeros((270, 480, 3), np.uint8), 640, auto=True)
    assert padded.shape[:2] == (384, 640)
    back = geo.to_frame(np.array([[64.0, 12 + 64.0, 640.0, 12 + 360.0]]), 480, 270)
    assert back[0] == pytest.approx([48, 48, 480, 270])
    # Portrait 270x480 (w x h): the input is 384 wide, 640 tall, padded 12 px left and right.
    padded, geo = letterbox(np.zeros((480, 270, 3), np.uint8), 640, auto=True)
    assert padded.shape[:2] == (640, 384)
    back = geo.to_frame(np.array([[12 + 40.0, 80.0, 12 + 360.0, 640.0]]), 270, 480)
    assert back[0] == pytest.approx([30, 60, 270, 480])
    # Boxes reaching into the padding are clipped to the frame.
    back = geo.to_frame(np.array([[0.0, -5.0, 384.0, 700.0]]), 270, 480)
    assert back[0] == pytest.approx([0, 0, 270, 480])


def test_letterbox_to_a_static_rectangle():
    padded, geo = letterbox(np.zeros((270, 480, 3), np.uint8), (384, 640))
    assert padded.shape[:2] == (384, 640) and (geo.pad_x, geo.pad_y) == (0, 12)


def test_detection_threads_run_niced_once_and_other_threads_are_untouched():
    import os
    import threading

    from edge.detection import lower_thread_priority

    main_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: dict[str, int] = {}

    def worker() -> None:
        tid = threading.get_native_id()
        before = os.getpriority(os.PRIO_PROCESS, tid)
        seen["first"] = lower_thread_priority(5)
        seen["second"] = lower_thread_priority(5)  # once per thread: not 10
        seen["actual"] = os.getpriority(os.PRIO_PROCESS, tid)
        seen["before"] = before

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["first"] == seen["second"] == seen["actual"] == min(19, seen["before"] + 5)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main_before
