"""RekognitionRecognizer against botocore's Stubber: every request is validated
against the Rekognition service model, and every error path is exercised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cloud.errors import EnrolmentError, RecognitionUnavailable
from cloud.recognition import RekognitionRecognizer, make_rekognition_client
from common.metrics import Metrics

IMAGE = b"\xff\xd8\xff\xe0fake-jpeg-bytes"
COLLECTION = "rc-test"


@pytest.fixture
def client(aws_env: None) -> Any:
    return make_rekognition_client("us-east-1", "http://127.0.0.1:1", timeout_s=1.0)


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def rec(client: Any, sleeps: list[float]) -> RekognitionRecognizer:
    return RekognitionRecognizer(client, COLLECTION, match_threshold=80.0, max_retries=3, backoff_s=0.1,
                                 metrics=Metrics(), sleep=sleeps.append)


def face_record(face_id: str, student: str) -> dict[str, Any]:
    return {"Face": {"FaceId": face_id, "ImageId": "i-" + face_id, "ExternalImageId": student, "Confidence": 99.9,
                     "BoundingBox": {"Width": 0.4, "Height": 0.5, "Left": 0.3, "Top": 0.2}}}


# One call for the best student and the runner-up (cloud.recognition.SEARCH_MAX_FACES / SEARCH_FLOOR).
SEARCH_PARAMS = {"CollectionId": COLLECTION, "Image": {"Bytes": IMAGE}, "MaxFaces": 20, "FaceMatchThreshold": 50.0}
INDEX_PARAMS = {"CollectionId": COLLECTION, "Image": {"Bytes": IMAGE}, "ExternalImageId": "ada", "MaxFaces": 2}


# ----------------------------------------------------------------------- search
def test_search_match(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("search_faces_by_image", {
        "SearchedFaceBoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1},
        "SearchedFaceConfidence": 99.0,
        "FaceMatches": [{"Similarity": 97.25, "Face": {"FaceId": "f-1", "ExternalImageId": "ada", "ImageId": "i-1"}}],
    }, SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id, out.similarity, out.face_id) == ("recognised", "ada", 97.25, "f-1")


def test_search_reports_the_runner_up_student(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("search_faces_by_image", {"FaceMatches": [
        {"Similarity": 96.0, "Face": {"FaceId": "f-1", "ExternalImageId": "ada"}},
        {"Similarity": 93.0, "Face": {"FaceId": "f-2", "ExternalImageId": "ada"}},
        {"Similarity": 71.5, "Face": {"FaceId": "f-3", "ExternalImageId": "bob"}},
    ]}, SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id, out.similarity, out.runner_up_similarity) == ("recognised", "ada", 96.0, 71.5)


def test_search_no_match_is_unknown(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("search_faces_by_image", {"FaceMatches": []}, SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id, out.reason) == ("unknown", None, "no_match")


def test_search_no_face_is_no_face_not_error(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_client_error("search_faces_by_image", "InvalidParameterException",
                          "There are no faces in the image. Should be at least 1.", 400, expected_params=SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id) == ("no_face", None)


def test_search_throttled_then_success(rec: RekognitionRecognizer, stub: Stubber, sleeps: list[float]) -> None:
    stub.add_client_error("search_faces_by_image", "ThrottlingException", "slow down", 400, expected_params=SEARCH_PARAMS)
    stub.add_client_error("search_faces_by_image", "ProvisionedThroughputExceededException", "slow down", 400,
                          expected_params=SEARCH_PARAMS)
    stub.add_response("search_faces_by_image", {
        "FaceMatches": [{"Similarity": 88.0, "Face": {"FaceId": "f-2", "ExternalImageId": "bob"}}]}, SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id, out.attempts) == ("recognised", "bob", 3)
    assert len(sleeps) == 2
    assert 0.05 <= sleeps[0] <= 0.1 and 0.1 <= sleeps[1] <= 0.2  # exponential, with jitter
    assert rec.metrics.count("rekognition_throttled") == 2
    assert rec.metrics.count("rekognition_calls_search_faces_by_image") == 3  # each attempt is billed


def test_search_throttling_exhausted_fails_closed(rec: RekognitionRecognizer, stub: Stubber, sleeps: list[float]) -> None:
    for _ in range(4):  # 1 try + 3 retries
        stub.add_client_error("search_faces_by_image", "ThrottlingException", "slow down", 400, expected_params=SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert (out.status, out.student_id, out.reason, out.attempts) == ("error", None, "throttled", 4)
    assert len(sleeps) == 3
    assert rec.metrics.count("rekognition_errors_throttled") == 1


@pytest.mark.parametrize("code,reason", [
    ("AccessDeniedException", "access_denied"),
    ("ResourceNotFoundException", "collection_missing"),
    ("InternalServerError", "aws_error"),
    ("ImageTooLargeException", "bad_image"),
])
def test_search_other_errors_fail_closed(rec: RekognitionRecognizer, stub: Stubber, code: str, reason: str) -> None:
    stub.add_client_error("search_faces_by_image", code, "nope", 400, expected_params=SEARCH_PARAMS)
    out = rec.search(IMAGE)
    assert out.status == "error" and out.student_id is None and out.reason == reason
    assert rec.metrics.count(f"rekognition_errors_{reason}") == 1


def test_search_below_threshold_never_recognised(rec: RekognitionRecognizer, stub: Stubber) -> None:
    # A (non-compliant) endpoint returning a weak match must not count as recognised.
    stub.add_response("search_faces_by_image", {
        "FaceMatches": [{"Similarity": 55.0, "Face": {"FaceId": "f", "ExternalImageId": "ada"}}]}, SEARCH_PARAMS)
    assert rec.search(IMAGE).status == "unknown"


def test_missing_credentials_fail_closed_and_clear(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(region_name="us-east-1")
    client = make_rekognition_client("us-east-1", "http://127.0.0.1:1", 1.0, session=session)
    rec = RekognitionRecognizer(client, COLLECTION, metrics=Metrics(), sleep=lambda s: None)
    out = rec.search(IMAGE)
    assert (out.status, out.reason) == ("error", "no_credentials")
    with pytest.raises(RecognitionUnavailable, match="no AWS credentials"):
        rec.describe_collection()
    with pytest.raises(RecognitionUnavailable):
        rec.index_face("ada", IMAGE)
    assert rec.metrics.count("rekognition_errors_no_credentials") == 3


def test_unreachable_endpoint_fails_closed(rec: RekognitionRecognizer) -> None:
    out = rec.search(IMAGE)  # nothing listens on 127.0.0.1:1
    assert (out.status, out.reason) == ("error", "unreachable")


# ----------------------------------------------------------------------- enrolment
def test_index_one_face(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("index_faces", {"FaceRecords": [face_record("f-1", "ada")], "UnindexedFaces": []}, INDEX_PARAMS)
    face = rec.index_face("ada", IMAGE)
    assert (face.face_id, face.image_id, face.confidence) == ("f-1", "i-f-1", 99.9)
    assert face.bounding_box["Width"] == 0.4


def test_index_no_face_rejected(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("index_faces", {"FaceRecords": [], "UnindexedFaces": []}, INDEX_PARAMS)
    with pytest.raises(EnrolmentError, match="no usable face"):
        rec.index_face("ada", IMAGE)


def test_index_low_quality_face_rejected_with_reason(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("index_faces", {"FaceRecords": [], "UnindexedFaces": [
        {"Reasons": ["LOW_SHARPNESS", "SMALL_BOUNDING_BOX"], "FaceDetail": {}}]}, INDEX_PARAMS)
    with pytest.raises(EnrolmentError, match="LOW_SHARPNESS"):
        rec.index_face("ada", IMAGE)


def test_index_several_faces_deleted_again_and_rejected(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("index_faces", {
        "FaceRecords": [face_record("f-1", "ada"), face_record("f-2", "ada")],
        "UnindexedFaces": [{"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": {}}],
    }, INDEX_PARAMS)
    stub.add_response("delete_faces", {"DeletedFaces": ["f-1", "f-2"]},
                      {"CollectionId": COLLECTION, "FaceIds": ["f-1", "f-2"]})
    with pytest.raises(EnrolmentError, match="3 faces"):
        rec.index_face("ada", IMAGE)


def test_index_bad_image_is_enrolment_error(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_client_error("index_faces", "InvalidImageFormatException", "bad format", 400, expected_params=INDEX_PARAMS)
    with pytest.raises(EnrolmentError, match="InvalidImageFormatException"):
        rec.index_face("ada", IMAGE)


def test_index_missing_collection_is_created(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_client_error("index_faces", "ResourceNotFoundException", "no collection", 400, expected_params=INDEX_PARAMS)
    stub.add_client_error("describe_collection", "ResourceNotFoundException", "no collection", 400,
                          expected_params={"CollectionId": COLLECTION})
    stub.add_response("create_collection", {"StatusCode": 200, "CollectionArn": "arn", "FaceModelVersion": "7.0"},
                      {"CollectionId": COLLECTION})
    stub.add_response("index_faces", {"FaceRecords": [face_record("f-9", "ada")]}, INDEX_PARAMS)
    assert rec.index_face("ada", IMAGE).face_id == "f-9"


def test_index_access_denied_is_unavailable(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_client_error("index_faces", "AccessDeniedException", "denied", 403, expected_params=INDEX_PARAMS)
    with pytest.raises(RecognitionUnavailable, match="access_denied"):
        rec.index_face("ada", IMAGE)


# ----------------------------------------------------------------------- collection
def test_ensure_collection_idempotent(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("describe_collection", {"FaceCount": 3, "FaceModelVersion": "7.0"}, {"CollectionId": COLLECTION})
    assert rec.ensure_collection() is False
    stub.add_client_error("describe_collection", "ResourceNotFoundException", "", 400, expected_params={"CollectionId": COLLECTION})
    stub.add_response("create_collection", {"StatusCode": 200}, {"CollectionId": COLLECTION})
    assert rec.ensure_collection() is True
    stub.add_client_error("describe_collection", "ResourceNotFoundException", "", 400, expected_params={"CollectionId": COLLECTION})
    stub.add_client_error("create_collection", "ResourceAlreadyExistsException", "", 400, expected_params={"CollectionId": COLLECTION})
    assert rec.ensure_collection() is False  # someone else created it meanwhile


def test_describe_and_delete_collection(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("describe_collection", {"FaceCount": 5, "FaceModelVersion": "7.0"}, {"CollectionId": COLLECTION})
    assert rec.describe_collection()["FaceCount"] == 5
    stub.add_response("delete_collection", {"StatusCode": 200}, {"CollectionId": COLLECTION})
    rec.delete_collection()
    stub.add_client_error("delete_collection", "ResourceNotFoundException", "", 400, expected_params={"CollectionId": COLLECTION})
    rec.delete_collection()  # already gone is fine


def test_delete_faces(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("delete_faces", {"DeletedFaces": ["a"]}, {"CollectionId": COLLECTION, "FaceIds": ["a"]})
    rec.delete_faces(["a"])
    rec.delete_faces([])  # no call
    stub.add_client_error("delete_faces", "ThrottlingException", "", 400, expected_params={"CollectionId": COLLECTION, "FaceIds": ["b"]})
    stub.add_response("delete_faces", {"DeletedFaces": ["b"]}, {"CollectionId": COLLECTION, "FaceIds": ["b"]})
    rec.delete_faces(["b"])


# ----------------------------------------------------------------------- emotions
def test_detect_emotion_picks_dominant(rec: RekognitionRecognizer, stub: Stubber) -> None:
    stub.add_response("detect_faces", {"FaceDetails": [{
        "BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0, "Top": 0},
        "Emotions": [{"Type": "CALM", "Confidence": 20.0}, {"Type": "HAPPY", "Confidence": 75.0}],
    }]}, {"Image": {"Bytes": IMAGE}, "Attributes": ["EMOTIONS"]})
    assert rec.detect_emotion(IMAGE) == "HAPPY"
    stub.add_client_error("detect_faces", "AccessDeniedException", "", 403, expected_params={"Image": ANY, "Attributes": ["EMOTIONS"]})
    assert rec.detect_emotion(IMAGE) is None
    assert rec.metrics.count("emotion_errors_access_denied") == 1
