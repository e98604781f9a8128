import numpy as np
import pytest

from edge.detection import DetectorConfigError, letterbox, parse_names, resolve_person_classes


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
