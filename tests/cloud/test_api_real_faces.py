"""Photo enrolment through the HTTP API with real face matching: the cloud service
on the local Rekognition-compatible service (in-process on 127.0.0.1, via boto3),
real photos from the shared assets."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.bootstrap import build_service
from cloud.settings import CloudSettings
from tests.cloud.api_support import authed_client, face_crop
from tests.conftest import require_asset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from rekognition_local.app import RunningServer, build
    from rekognition_local.settings import RekognitionSettings

    models = require_asset("models/face_detection_yunet_2023mar.onnx").parent
    rek_settings = RekognitionSettings(models_dir=models, models_mirror="", data_dir=tmp_path_factory.mktemp("rek"),
                                       access_keys=("AKIDLOCALTEST:local-secret",))  # the pair the cloud signs with
    server = RunningServer(build(rek_settings), "127.0.0.1", 0, threads=2).start()
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ACCESS_KEY_ID", "AKIDLOCALTEST")
    mp.setenv("AWS_SECRET_ACCESS_KEY", "local-secret")
    mp.delenv("AWS_SESSION_TOKEN", raising=False)
    settings = CloudSettings(rekognition_endpoint_url=server.url, data_dir=tmp_path_factory.mktemp("cloud"),
                             collection_id="apitest")
    service = build_service(settings)
    app = create_app(service=service, settings=settings)
    yield authed_client(app), service
    service.store.close()
    server.stop()
    mp.undo()


def _upload(client, student_id: str, path: Path):
    return client.post(f"/api/students/{student_id}/photos", data={"photo": (io.BytesIO(path.read_bytes()), path.name)},
                       content_type="multipart/form-data")


def test_enrol_real_photos_and_recognise_a_probe(client):
    http, service = client
    assert http.get("/api/health").get_json()["rekognition"]["ok"] is True
    assert http.post("/api/students", json={"student_id": "obama", "name": "Barack Obama"}).status_code == 201
    assert http.post("/api/students", json={"student_id": "biden", "name": "Joe Biden"}).status_code == 201

    ok = _upload(http, "obama", require_asset("faces/enroll/obama/1.jpg"))
    assert ok.status_code == 201, ok.get_json()
    assert _upload(http, "biden", require_asset("faces/enroll/biden/1.jpg")).status_code == 201
    # an RGBA PNG goes through the raw-body path
    png = require_asset("faces/probe/obama_32bit_rgba.png").read_bytes()
    raw = http.post("/api/students/obama/photos", data=png, content_type="image/png")
    assert raw.status_code == 201, raw.get_json()
    assert len(http.get("/api/students/obama/photos").get_json()["faces"]) == 2

    # several faces in one photo: refused with the reason, nothing enrolled
    crowd = _upload(http, "biden", require_asset("faces/probe/obama_and_biden.jpg"))
    assert crowd.status_code == 422
    assert crowd.get_json()["error"]["code"] == "enrolment_rejected"
    assert "faces" in crowd.get_json()["error"]["message"]
    assert len(http.get("/api/students/biden/photos").get_json()["faces"]) == 1

    # a probe crop during a session is recognised and shows in the attendance JSON
    assert http.post("/api/classrooms", json={"classroom_id": "room-1", "name": "Room 1"}).status_code == 201
    session = http.post("/api/sessions", json={"classroom_id": "room-1"}).get_json()
    probe = require_asset("faces/probe/obama1.jpg").read_bytes()
    result = service.process_crop(face_crop(probe, "room-1"))
    assert result.header.meta["status"] == "recognised", result.header.meta
    records = http.get(f"/api/sessions/{session['session_id']}/attendance").get_json()["records"]
    assert [(r["student_id"], r["name"]) for r in records] == [("obama", "Barack Obama")]
    assert records[0]["best_similarity"] >= service.settings.match_threshold
