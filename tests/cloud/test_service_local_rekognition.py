"""Full round trip with real face matching: the cloud service on the local
Rekognition-compatible service (src/rekognition_local, in-process on 127.0.0.1),
driven through boto3 exactly as against AWS. Enrols the shared enrolment photos,
then sends probe crops over ZeroMQ and checks who was recorded."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloud.bootstrap import build_service
from cloud.errors import EnrolmentError
from cloud.ingest import IngestServer
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from common.images import decode_image
from common.protocol import MessageType, make_image_message
from common.transport import Sender
from tests.conftest import require_asset, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rekognition_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from rekognition_local.app import RunningServer, build
    from rekognition_local.settings import RekognitionSettings

    models = require_asset("models/face_detection_yunet_2023mar.onnx").parent
    settings = RekognitionSettings(models_dir=models, models_mirror="", data_dir=tmp_path_factory.mktemp("rek"),
                                   access_keys=("AKIDLOCALTEST:local-secret",))  # the pair the cloud signs with below
    server = RunningServer(build(settings), "127.0.0.1", 0, threads=4).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def faces() -> Path:
    return require_asset("faces/manifest.csv").parent


@pytest.fixture(scope="module")
def service(rekognition_url: str, faces: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttendanceService]:
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    mp.delenv("AWS_SESSION_TOKEN", raising=False)
    settings = CloudSettings(rekognition_endpoint_url=rekognition_url, data_dir=tmp_path_factory.mktemp("cloud"),
                             collection_id="roundtrip", zmq_bind="tcp://127.0.0.1:*", workers=2)
    svc = build_service(settings)
    with open(faces / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["file"].startswith("enroll/")]
    for row in rows:
        person = row["expected_person_ids"]
        if not any(s.student_id == person for s in svc.list_students()):
            svc.create_student(person, person.replace("_", " ").title())
        svc.enrol_photo(person, (faces / row["file"]).read_bytes())
    yield svc
    mp.undo()


def test_enrolment_indexed_every_photo(service: AttendanceService, faces: Path) -> None:
    assert len(service.list_students()) == 8
    assert sum(len(service.list_faces(s.student_id)) for s in service.list_students()) == 21
    health = service.health()
    assert health["status"] == "ok" and health["rekognition"]["face_count"] == 21


def test_enrolment_rejects_several_faces_and_no_face(service: AttendanceService, faces: Path) -> None:
    service.create_student("group", "Group photo")
    with pytest.raises(EnrolmentError, match="faces"):
        service.enrol_photo("group", (faces / "probe/obama_and_biden.jpg").read_bytes())
    import cv2
    import numpy as np

    ok, wall = cv2.imencode(".jpg", np.full((240, 320, 3), 200, np.uint8))
    with pytest.raises(EnrolmentError, match="no usable face"):
        service.enrol_photo("group", wall.tobytes())
    assert service.list_faces("group") == []
    count = service.recognizer.describe_collection()["FaceCount"]
    assert count == 21  # the faces indexed from the group photo were deleted again


def _crop_message(path: Path, msg_id: str) -> Any:
    data = path.read_bytes()
    image = decode_image(data)
    return make_image_message(MessageType.FACE_CROP, data, image.shape[1], image.shape[0], "cam-1", "room-rt",
                              msg_id=msg_id, meta={"track_id": 1}, ts={"captured": int(time.time() * 1000)})


def test_probe_crops_over_zeromq_record_the_right_student(
    service: AttendanceService, faces: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    session = service.open_session("room-rt") if service.store.get_classroom("room-rt") else None
    if session is None:
        service.create_classroom("room-rt", "Round trip room")
        session = service.open_session("room-rt")
    probes = {
        "p-obama": ("probe/obama1.jpg", "obama"),
        "p-guido": ("probe/test_guido_van_rossum.jpg", "guido_van_rossum"),
        "p-elon": ("probe/test_unknown_elon_musk.jpg", None),
    }
    sent_traces: set[str] = set()
    with IngestServer(service) as ingest:
        edge = Sender(ingest.bound_address, kind="dealer", hwm=10)
        try:
            for msg_id, (path, _) in probes.items():
                message = _crop_message(faces / path, msg_id)
                sent_traces.add(message.header.trace_id)
                wait_until(lambda m=message: edge.send(m), timeout=5, message=f"the cloud link takes crop {msg_id}")
            got: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + 60
            while len(got) < len(probes) and time.monotonic() < deadline:
                reply = edge.recv(timeout_ms=200)
                if reply is not None:
                    got[reply.header.meta["ack_of"]] = reply.header.meta
        finally:
            edge.close()
    assert got["p-obama"]["status"] == "recognised" and got["p-obama"]["student_id"] == "obama"
    assert got["p-guido"]["status"] == "recognised" and got["p-guido"]["student_id"] == "guido_van_rossum"
    assert got["p-elon"]["status"] == "unknown" and got["p-elon"]["student_id"] is None
    records = {r.student_id: r for r in service.attendance_for_session(session.session_id)}
    assert set(records) == {"obama", "guido_van_rossum"}
    assert records["obama"].best_similarity >= 80 and records["obama"].name == "Obama"
    assert [u.msg_id for u in service.list_unknown_faces()] == ["p-elon"]
    # The trace id reached the Rekognition service with each search (X-Rollcall-Trace-Id).
    searched = {r.trace_id for r in caplog.records
                if getattr(r, "event", "") == "request" and getattr(r, "operation", "") == "SearchFacesByImage"}
    assert sent_traces and sent_traces <= searched
