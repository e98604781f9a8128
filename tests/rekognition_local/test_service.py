"""The Rekognition operations end to end, through boto3 against the local service."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from rekognition_local.service import NO_FACE_MESSAGE

from .conftest import make_client


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _jpeg(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def _no_face_jpeg() -> bytes:
    rng = np.random.default_rng(1)
    gradient = np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))
    image = cv2.merge([gradient, np.flipud(gradient), (rng.random((300, 400)) * 40).astype(np.uint8)])
    return _jpeg(image)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


def _search(client: Any, collection: str, data: bytes, **kw: Any) -> dict[str, Any]:
    return client.search_faces_by_image(CollectionId=collection, Image={"Bytes": data}, **kw)


def _top_person(response: dict[str, Any]) -> str | None:
    matches = response["FaceMatches"]
    return matches[0]["Face"]["ExternalImageId"] if matches else None


# --- accuracy on the shared set ---------------------------------------------

def test_probe_accuracy_on_shared_set(client, enrolled, faces_dir, manifest):
    probes = [(f, ids) for f, ids in manifest if f.startswith("probe/")]
    known = [(f, ids) for f, ids in probes if ids]
    correct, wrong = 0, []
    for file, ids in known:
        response = _search(client, enrolled["collection"], _bytes(faces_dir / file))
        person = _top_person(response)
        if person in ids:  # multi-face probes: the largest face must be one of the expected people
            correct += 1
            assert response["FaceMatches"][0]["Similarity"] >= 80
        else:
            wrong.append((file, person))
    accuracy = correct / len(known)
    assert len(known) >= 15
    assert accuracy >= 0.95, f"top-1 accuracy {accuracy:.1%}, wrong: {wrong}"


def test_unknown_person_has_no_match_above_default_threshold(client, enrolled, faces_dir, manifest):
    unknown = [f for f, ids in manifest if f.startswith("probe/") and not ids]
    assert unknown == ["probe/test_unknown_elon_musk.jpg"]
    response = _search(client, enrolled["collection"], _bytes(faces_dir / unknown[0]))
    assert response["FaceMatches"] == []
    assert response["SearchedFaceConfidence"] > 50
    # below the threshold the best (wrong) candidate is visible, with a low similarity
    low = _search(client, enrolled["collection"], _bytes(faces_dir / unknown[0]), FaceMatchThreshold=0)
    assert low["FaceMatches"] and low["FaceMatches"][0]["Similarity"] < 60


def test_search_response_fields(client, enrolled, faces_dir):
    response = _search(client, enrolled["collection"], _bytes(faces_dir / "probe/two_people.jpg"), MaxFaces=2)
    box = response["SearchedFaceBoundingBox"]
    assert set(box) == {"Width", "Height", "Left", "Top"}
    assert all(0 <= box[k] <= 1 for k in box)
    assert 0 < response["SearchedFaceConfidence"] <= 100
    assert 1 <= len(response["FaceMatches"]) <= 2
    sims = [m["Similarity"] for m in response["FaceMatches"]]
    assert sims == sorted(sims, reverse=True) and all(0 <= s <= 100 for s in sims)
    face = response["FaceMatches"][0]["Face"]
    assert {"FaceId", "BoundingBox", "ImageId", "ExternalImageId", "Confidence"} <= set(face)


def test_threshold_and_max_faces_limit_matches(client, enrolled, faces_dir):
    data = _bytes(faces_dir / "probe/test_paul_allen.jpg")
    everything = _search(client, enrolled["collection"], data, FaceMatchThreshold=0, MaxFaces=4096)
    assert len(everything["FaceMatches"]) == sum(len(v) for v in enrolled["face_ids"].values())
    assert everything["FaceMatches"][0]["Face"]["ExternalImageId"] == "paul_allen"
    two = _search(client, enrolled["collection"], data, FaceMatchThreshold=0, MaxFaces=2)
    assert [m["Face"]["FaceId"] for m in two["FaceMatches"]] == [m["Face"]["FaceId"] for m in everything["FaceMatches"][:2]]
    strict = _search(client, enrolled["collection"], data, FaceMatchThreshold=99.99)
    assert all(m["Similarity"] >= 99.99 for m in strict["FaceMatches"])


def test_search_faces_by_face_id_excludes_itself(client, enrolled):
    face_id = enrolled["face_ids"]["guido_van_rossum"][0]
    response = client.search_faces(CollectionId=enrolled["collection"], FaceId=face_id)
    assert response["SearchedFaceId"] == face_id
    found = {m["Face"]["FaceId"] for m in response["FaceMatches"]}
    assert face_id not in found
    assert found == set(enrolled["face_ids"]["guido_van_rossum"][1:])
    assert {m["Face"]["ExternalImageId"] for m in response["FaceMatches"]} == {"guido_van_rossum"}


# --- image handling -----------------------------------------------------------

def test_rgba_greyscale_and_exif_rotated_images_match(client, enrolled, faces_dir):
    rgba = _bytes(faces_dir / "probe/obama_32bit_rgba.png")
    assert Image.open(io.BytesIO(rgba)).mode == "RGBA"
    assert _top_person(_search(client, enrolled["collection"], rgba)) == "obama"

    colour = cv2.imread(str(faces_dir / "probe/obama1.jpg"))
    grey_png = _png(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY))
    assert Image.open(io.BytesIO(grey_png)).mode == "L"
    assert _top_person(_search(client, enrolled["collection"], grey_png)) == "obama"

    # pixels stored rotated 90 degrees; EXIF orientation 6 says "rotate 90 CW to display"
    upright = Image.open(faces_dir / "probe/test_steve_wozniak.jpg").convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=92, exif=exif.tobytes())
    rotated = _search(client, enrolled["collection"], buffer.getvalue())
    assert _top_person(rotated) == "steve_wozniak"
    # the bounding box refers to the upright image: a portrait face is taller than wide there
    detail = client.detect_faces(Image={"Bytes": buffer.getvalue()})["FaceDetails"][0]
    eyes = {lm["Type"]: lm for lm in detail["Landmarks"]}
    assert abs(eyes["eyeLeft"]["Y"] - eyes["eyeRight"]["Y"]) < 0.05  # eyes level => upright


def test_tight_face_crop_matches(client, enrolled, faces_dir):
    """The edge sends tight face crops; detection must still find the face."""
    image = cv2.imread(str(faces_dir / "probe/obama3.jpg"))
    detail = client.detect_faces(Image={"Bytes": _jpeg(image)})["FaceDetails"][0]["BoundingBox"]
    h, w = image.shape[:2]
    x, y = int(detail["Left"] * w), int(detail["Top"] * h)
    crop = image[y : y + int(detail["Height"] * h), x : x + int(detail["Width"] * w)]
    small = cv2.resize(crop, (96, int(96 * crop.shape[0] / crop.shape[1])))
    assert _top_person(_search(client, enrolled["collection"], _jpeg(small))) == "obama"


def test_detect_faces(client, faces_dir):
    response = client.detect_faces(Image={"Bytes": _bytes(faces_dir / "probe/two_people.jpg")})
    assert len(response["FaceDetails"]) == 2
    for detail in response["FaceDetails"]:
        box = detail["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and 0 < box["Width"] < 1 and 0 < box["Height"] < 1
        assert 60 < detail["Confidence"] <= 100
        types = [lm["Type"] for lm in detail["Landmarks"]]
        assert types == ["eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"]
        marks = {lm["Type"]: lm for lm in detail["Landmarks"]}
        assert marks["eyeLeft"]["X"] < marks["eyeRight"]["X"]
        assert box["Left"] <= marks["nose"]["X"] <= box["Left"] + box["Width"]
        assert set(detail["Pose"]) == {"Roll", "Yaw", "Pitch"} and set(detail["Quality"]) == {"Brightness", "Sharpness"}
    assert client.detect_faces(Image={"Bytes": _no_face_jpeg()})["FaceDetails"] == []
    # unsupported attribute sets still answer with the DEFAULT attributes
    assert len(client.detect_faces(Image={"Bytes": _bytes(faces_dir / "probe/obama1.jpg")}, Attributes=["ALL"])["FaceDetails"]) == 1


# --- IndexFaces / ListFaces / DeleteFaces ----------------------------------

def test_index_faces_max_faces_and_external_id(client, faces_dir):
    client.create_collection(CollectionId="maxfaces")
    data = _bytes(faces_dir / "probe/obama_and_biden.jpg")
    response = client.index_faces(CollectionId="maxfaces", Image={"Bytes": data}, MaxFaces=1, ExternalImageId="party:2009")
    assert len(response["FaceRecords"]) == 1
    assert [u["Reasons"] for u in response["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"], ["EXCEEDS_MAX_FACES"]]
    indexed = response["FaceRecords"][0]
    box = indexed["Face"]["BoundingBox"]
    others = [u["FaceDetail"]["BoundingBox"] for u in response["UnindexedFaces"]]
    assert all(box["Width"] * box["Height"] >= o["Width"] * o["Height"] for o in others)  # the largest face
    assert indexed["Face"]["ExternalImageId"] == "party:2009"
    listed = client.list_faces(CollectionId="maxfaces")["Faces"]
    assert [(f["FaceId"], f["ExternalImageId"], f["ImageId"]) for f in listed] == [
        (indexed["Face"]["FaceId"], "party:2009", indexed["Face"]["ImageId"])
    ]
    all_three = client.index_faces(CollectionId="maxfaces", Image={"Bytes": data}, QualityFilter="NONE")
    assert len(all_three["FaceRecords"]) == 3 and all_three["UnindexedFaces"] == []
    assert "ExternalImageId" not in all_three["FaceRecords"][0]["Face"]
    assert len({r["Face"]["ImageId"] for r in all_three["FaceRecords"]}) == 1
    assert client.describe_collection(CollectionId="maxfaces")["FaceCount"] == 4


def test_quality_filter_high_rejects_profile_face(client, faces_dir):
    client.create_collection(CollectionId="quality")
    data = _bytes(faces_dir / "probe/obama_and_biden.jpg")
    response = client.index_faces(CollectionId="quality", Image={"Bytes": data}, QualityFilter="HIGH")
    assert len(response["FaceRecords"]) == 2
    assert len(response["UnindexedFaces"]) == 1 and "EXTREME_POSE" in response["UnindexedFaces"][0]["Reasons"]


def test_index_faces_no_face_indexes_nothing(client):
    client.create_collection(CollectionId="noface")
    response = client.index_faces(CollectionId="noface", Image={"Bytes": _no_face_jpeg()})
    assert response["FaceRecords"] == [] and response["UnindexedFaces"] == []


def test_delete_faces_then_search_no_longer_matches(client, faces_dir):
    client.create_collection(CollectionId="deletion")
    rose = client.index_faces(CollectionId="deletion", Image={"Bytes": _bytes(faces_dir / "enroll/rose_leslie/1.jpg")}, ExternalImageId="rose_leslie")
    kit = client.index_faces(CollectionId="deletion", Image={"Bytes": _bytes(faces_dir / "enroll/kit_harington/1.jpg")}, ExternalImageId="kit_harington")
    probe = _bytes(faces_dir / "enroll/rose_leslie/2.jpg")
    assert _top_person(_search(client, "deletion", probe)) == "rose_leslie"  # warms the search matrix
    rose_id = rose["FaceRecords"][0]["Face"]["FaceId"]
    missing = "00000000-0000-4000-8000-000000000000"
    deleted = client.delete_faces(CollectionId="deletion", FaceIds=[rose_id, missing])
    assert deleted["DeletedFaces"] == [rose_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    assert _search(client, "deletion", probe)["FaceMatches"] == []
    assert [f["ExternalImageId"] for f in client.list_faces(CollectionId="deletion")["Faces"]] == ["kit_harington"]
    assert kit["FaceRecords"][0]["Face"]["FaceId"] == client.list_faces(CollectionId="deletion")["Faces"][0]["FaceId"]


def test_list_faces_and_collections_paginate(client, enrolled):
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.list_faces(CollectionId=enrolled["collection"], MaxResults=5, **kwargs)
        assert len(page["Faces"]) <= 5
        seen += [f["FaceId"] for f in page["Faces"]]
        token = page.get("NextToken")
        if not token:
            break
    expected = {f for ids in enrolled["face_ids"].values() for f in ids}
    assert len(seen) == len(set(seen)) and set(seen) == expected
    paginator = client.get_paginator("list_faces")
    assert sum(len(p["Faces"]) for p in paginator.paginate(CollectionId=enrolled["collection"], PaginationConfig={"PageSize": 7})) == len(expected)
    subset = client.list_faces(CollectionId=enrolled["collection"], FaceIds=seen[:2])["Faces"]
    assert sorted(f["FaceId"] for f in subset) == sorted(seen[:2])

    for name in ("page-a", "page-b", "page-c"):
        client.create_collection(CollectionId=name)
    ids, token = [], None
    while True:
        page = client.list_collections(MaxResults=2, **({"NextToken": token} if token else {}))
        ids += page["CollectionIds"]
        assert len(page["FaceModelVersions"]) == len(page["CollectionIds"])
        token = page.get("NextToken")
        if not token:
            break
    assert {"page-a", "page-b", "page-c", "enrolled"} <= set(ids) and ids == sorted(ids)


def test_collection_lifecycle(client):
    created = client.create_collection(CollectionId="life.cycle-1")
    assert created["StatusCode"] == 200 and created["CollectionArn"].endswith("collection/life.cycle-1")
    described = client.describe_collection(CollectionId="life.cycle-1")
    assert described["FaceCount"] == 0 and described["CollectionARN"] == created["CollectionArn"]
    assert described["CreationTimestamp"].year >= 2024
    assert client.delete_collection(CollectionId="life.cycle-1")["StatusCode"] == 200
    assert "life.cycle-1" not in client.list_collections()["CollectionIds"]


# --- errors -----------------------------------------------------------------

def test_resource_errors(client, enrolled, faces_dir):
    with pytest.raises(ClientError) as exc:
        client.create_collection(CollectionId=enrolled["collection"])
    assert _error(exc)[0] == "ResourceAlreadyExistsException"
    for call in (
        lambda: client.describe_collection(CollectionId="nope"),
        lambda: client.delete_collection(CollectionId="nope"),
        lambda: client.list_faces(CollectionId="nope"),
        lambda: client.delete_faces(CollectionId="nope", FaceIds=["00000000-0000-4000-8000-000000000000"]),
        lambda: client.index_faces(CollectionId="nope", Image={"Bytes": _bytes(faces_dir / "probe/obama1.jpg")}),
        lambda: _search(client, "nope", _bytes(faces_dir / "probe/obama1.jpg")),
        lambda: client.search_faces(CollectionId="nope", FaceId="00000000-0000-4000-8000-000000000000"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[0] == "ResourceNotFoundException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_no_face_in_image_is_invalid_parameter(client, enrolled):
    with pytest.raises(ClientError) as exc:
        _search(client, enrolled["collection"], _no_face_jpeg())
    assert _error(exc) == ("InvalidParameterException", NO_FACE_MESSAGE)
    assert NO_FACE_MESSAGE == "There are no faces in the image. Should be at least 1."


def test_invalid_parameters(client, enrolled):
    bad = [
        lambda: client.create_collection(CollectionId="has space"),
        lambda: client.search_faces(CollectionId=enrolled["collection"], FaceId="not-a-face-id"),
        lambda: client.search_faces(CollectionId=enrolled["collection"], FaceId="00000000-0000-4000-8000-000000000000"),
        lambda: client.delete_faces(CollectionId=enrolled["collection"], FaceIds=["XYZ"]),
        lambda: client.index_faces(CollectionId=enrolled["collection"], Image={"Bytes": b"x"}, ExternalImageId="bad id!"),
        lambda: client.search_faces_by_image(CollectionId=enrolled["collection"], Image={"Bytes": b"x"}, FaceMatchThreshold=120),
        lambda: client.detect_faces(Image={"S3Object": {"Bucket": "bucket", "Name": "k.jpg"}}),
    ]
    for call in bad:
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[0] == "InvalidParameterException", _error(exc)


def test_image_errors(client, enrolled, faces_dir):
    gif = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(gif, format="GIF")
    for data in (b"definitely not an image", gif.getvalue(), _bytes(faces_dir / "probe/obama1.jpg")[:2000]):
        with pytest.raises(ClientError) as exc:
            _search(client, enrolled["collection"], data)
        assert _error(exc)[0] == "InvalidImageFormatException", data[:20]
    too_big = b"\xff\xd8\xff\xe0" + bytes(5 * 1024 * 1024)
    for call in (
        lambda: _search(client, enrolled["collection"], too_big),
        lambda: client.detect_faces(Image={"Bytes": too_big}),
        lambda: client.index_faces(CollectionId=enrolled["collection"], Image={"Bytes": too_big}),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _error(exc)[0] == "ImageTooLargeException"


def test_unknown_operation_and_bad_body(client, server):
    def retarget(request: Any, **_: Any) -> None:
        del request.headers["X-Amz-Target"]  # HTTPHeaders: item assignment would add a second one
        request.headers["X-Amz-Target"] = "RekognitionService.FlyToTheMoon"

    other = make_client(server.url)
    other.meta.events.register("before-sign.rekognition.ListCollections", retarget)
    with pytest.raises(ClientError) as exc:
        other.list_collections()
    assert _error(exc)[0] == "UnknownOperationException"
    timings = server.components.app.metrics.snapshot()["timings"]
    assert "ms.unsupported" in timings and not any("FlyToTheMoon" in name for name in timings)  # no metric per made-up name

    def garble(request: Any, **_: Any) -> None:
        request.data = b"{not json"

    broken = make_client(server.url)
    broken.meta.events.register("before-sign.rekognition.ListCollections", garble)
    with pytest.raises(ClientError) as exc:
        broken.list_collections()
    assert _error(exc)[0] == "SerializationException"


# --- concurrency / schema -------------------------------------------------------

def test_concurrent_clients(server, enrolled, faces_dir):
    data = _bytes(faces_dir / "probe/obama_small.jpg")
    errors: list[str] = []
    results: list[str | None] = []
    lock = threading.Lock()

    def worker() -> None:
        c = make_client(server.url)
        for _ in range(50):
            try:
                person = _top_person(_search(c, enrolled["collection"], data, MaxFaces=3))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                results.append(person)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(results) == 400 and set(results) == {"obama"}


def test_every_response_matched_the_service_model(client, shapes):
    """Runs after the others in this module: every 200 body was checked against botocore's output shape."""
    client.list_collections()
    checked = {name for recorder in shapes for name in recorder.checked}
    assert {"CreateCollection", "DeleteCollection", "ListCollections", "DescribeCollection", "IndexFaces",
            "ListFaces", "DeleteFaces", "SearchFacesByImage", "SearchFaces", "DetectFaces"} <= checked
    assert all(not recorder.failures for recorder in shapes)
