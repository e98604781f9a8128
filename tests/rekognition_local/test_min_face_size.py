"""AWS's minimum face size (40x40 px up to 1920x1080, proportionally more beyond): smaller faces are not found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError

from rekognition_local.app import RunningServer
from rekognition_local.engine import FaceEngine, min_face_side
from rekognition_local.models import resolve_models
from rekognition_local.service import NO_FACE_MESSAGE

from .conftest import settings_for

PROBE = "probe/obama-1080p.jpg"  # one frontal face of an enrolled person ("obama"), ~236 px
Probe = tuple[np.ndarray, tuple[float, float, float, float]]  # image, face box (x, y, w, h)


@pytest.fixture(scope="module")
def unfiltered(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FaceEngine:
    """An engine without a minimum face size: shows that YuNet does find each test face."""
    paths = resolve_models(settings_for(models_dir, tmp_path_factory.mktemp("unfiltered")))
    return FaceEngine(paths, workers=1, min_face_px=0)


@pytest.fixture(scope="module")
def probe(faces_dir: Path, unfiltered: FaceEngine) -> Probe:
    """The probe photo and its face box."""
    image = cv2.imread(str(faces_dir / PROBE))
    (face,) = unfiltered.analyse(image, embed_count=0)
    return image, face.box


def _face_of_side(probe: Probe, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The probe downscaled so its face box is ``side`` px: (face with 50 % margin each way, the whole photo)."""
    image, (x, y, w, h) = probe
    scale = side / min(w, h)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx, cy, half = (x + w / 2) * scale, (y + h / 2) * scale, max(w, h) * scale
    crop = small[max(0, int(cy - half)) : int(cy + half), max(0, int(cx - half)) : int(cx + half)]
    return crop, small


def _on_canvas(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` pasted in the middle of a grey ``width`` x ``height`` canvas."""
    canvas = np.full((height, width, 3), 127, np.uint8)
    h, w = image.shape[:2]
    top, left = (height - h) // 2, (width - w) // 2
    canvas[top : top + h, left : left + w] = image
    return canvas


def _jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def _sides(engine: FaceEngine, image: np.ndarray) -> list[float]:
    return [min(face.box[2], face.box[3]) for face in engine.analyse(image, embed_count=0)]


def _assert_no_face(client: Any, collection: str, image: np.ndarray) -> None:
    data = _jpeg(image)
    with pytest.raises(ClientError) as exc:
        client.search_faces_by_image(CollectionId=collection, Image={"Bytes": data})
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("InvalidParameterException", NO_FACE_MESSAGE)
    assert client.detect_faces(Image={"Bytes": data})["FaceDetails"] == []


def test_min_face_side_scales_beyond_1920x1080():
    assert min_face_side(40, 640, 480) == 40 and min_face_side(40, 1920, 1080) == 40
    assert min_face_side(40, 3840, 2160) == 80 and min_face_side(40, 1920, 2160) == 80
    assert min_face_side(0, 3840, 2160) == 0


def test_30px_face_is_not_found(client, enrolled, server: RunningServer, probe, unfiltered):
    crop, small = _face_of_side(probe, 30)
    canvas = _on_canvas(small, 640, 480)
    assert crop.shape[0] < 100 and crop.shape[1] < 100
    dropped_before = server.components.app.metrics.count("faces_below_min_size")
    for image in (crop, canvas):
        (side,) = _sides(unfiltered, image)
        assert 25 <= side <= 36  # YuNet finds it (the crop is upscaled for detection) ...
        _assert_no_face(client, enrolled["collection"], image)  # ... but it is below AWS's 40 px
    client.create_collection(CollectionId="tiny-faces")
    indexed = client.index_faces(CollectionId="tiny-faces", Image={"Bytes": _jpeg(canvas)}, QualityFilter="NONE")
    assert indexed["FaceRecords"] == [] and indexed["UnindexedFaces"] == []
    # 2 DetectFaces, 2 SearchFacesByImage, 1 IndexFaces, one dropped face each
    assert server.components.app.metrics.count("faces_below_min_size") - dropped_before == 5


def test_60px_face_is_found_and_matches(client, enrolled, probe):
    crop, small = _face_of_side(probe, 60)
    height, width = crop.shape[:2]
    tight = crop[height // 2 - 35 : height // 2 + 35, width // 2 - 35 : width // 2 + 35]  # 60 px face in 70 px
    for image in (crop, tight, _on_canvas(small, 640, 480)):
        data = _jpeg(image)
        response = client.search_faces_by_image(CollectionId=enrolled["collection"], Image={"Bytes": data})
        assert response["FaceMatches"] and response["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama"
        assert response["FaceMatches"][0]["Similarity"] >= 80
        (detail,) = client.detect_faces(Image={"Bytes": data})["FaceDetails"]
        box = detail["BoundingBox"]
        assert min(box["Width"] * image.shape[1], box["Height"] * image.shape[0]) >= 40


def test_45px_face_in_4k_image_is_not_found(client, enrolled, probe, unfiltered):
    _, small = _face_of_side(probe, 45)
    canvas = _on_canvas(small, 3840, 2160)
    (side,) = _sides(unfiltered, canvas)
    assert 40 <= side < 80  # enough at 1920x1080, too small at 3840x2160 (minimum 80 px)
    _assert_no_face(client, enrolled["collection"], canvas)
