"""The attendance evaluation: one scenario through the real path, in one process.

IoT camera pipeline (real source, fps cap, motion gate, JPEG) -> wire protocol -> edge frame
processor (real person detector, YuNet faces, tracker, crop policy) -> wire protocol -> cloud
attendance service -> the local Rekognition service over HTTP (boto3, as against AWS) ->
RESULT back to the edge's tracks. Frames are handled one at a time, in order, so a run is
deterministic and as fast as the CPU allows; times are the video's own (camera time).
Scenario folders: :mod:`evaluation.scenario_folder`; what a run reports: :mod:`evaluation.results`.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

from cloud.bootstrap import build_service
from cloud.errors import EnrolmentError, RecognitionUnavailable
from cloud.service import AttendanceService
from cloud.settings import CloudSettings
from common.clock import now_ms
from common.metrics import Metrics
from common.protocol import Message, MessageType, decode, encode
from edge.detection import PersonDetector
from edge.detector_factory import build_face_finder, build_frame_processor, build_track_registry
from edge.pipeline import FrameProcessor, record_sent
from edge.results import parse_result
from edge.settings import EdgeSettings
from iot.camera import CameraPipeline, Outcome
from iot.settings import camera_configs, load_iot_settings
from iot.source_factory import SourceOptions, build_source
from iot.stoppable_clock import StoppableClock

from .results import CropRecord, ScenarioResult, failed_result
from .scenario_folder import Scenario

CLASSROOM_ID = "eval-room"
CAMERA_ID = "eval-cam"
#: Price of one SearchFacesByImage call (AWS list price, first million per month).
DOLLARS_PER_CALL = 0.001


class CountingRecognizer:
    """Wraps the cloud's recognizer and counts searches (Rekognition calls that cost money)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.searches = 0

    def search(self, image: bytes) -> Any:
        self.searches += 1
        return self.inner.search(image)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class InProcessLink:
    """The camera's sender: every frame crosses the wire protocol to the edge processor, every
    crop crosses it to the cloud service, every RESULT comes back to the edge's tracks."""

    def __init__(self, processor: FrameProcessor, service: AttendanceService) -> None:
        self.processor = processor
        self.service = service
        self.crops: list[CropRecord] = []
        self.bytes_up = 0
        self.bytes_cloud = 0
        self.last_frame_ms = 0
        self.evidence_crops = 0

    @staticmethod
    def _wire(message: Message) -> tuple[Message, int]:
        frames = encode(message)
        return decode(frames), sum(len(f) for f in frames)

    def send(self, message: Message) -> bool:
        frame, size = self._wire(message)
        self.bytes_up += size
        frame.header.stamp("edge_received", now_ms())
        if frame.header.type is MessageType.END_OF_STREAM:
            self.processor.tracks.end_camera(frame.header.camera_id)
            return True
        source_ms = frame.header.meta.get("source_ms")
        if isinstance(source_ms, int):
            self.last_frame_ms = max(self.last_frame_ms, source_ms)
        result = self.processor.process(frame)
        for out in result.outgoing:
            out.message.header.stamp("edge_sent", now_ms())
            crop, crop_size = self._wire(out.message)
            self.bytes_cloud += crop_size
            counter = record_sent(self.processor.tracks, out)
            reply, _ = self._wire(self.service.process_crop(crop))
            meta = reply.header.meta
            answer = parse_result(meta)
            if answer is not None:  # as the edge's RESULT reader does
                self.processor.tracks.apply_result(
                    out.camera_id, answer.track_id, answer.status, answer.reason, answer.ack_of
                )
            if counter == "evidence_crops_sent":
                self.evidence_crops += 1
                continue
            quality = crop.header.meta.get("quality") or {}
            self.crops.append(
                CropRecord(
                    track_id=out.track.track_id,
                    track_first_ms=out.track.first_seen_ms,
                    camera_ms=out.camera_time_ms,
                    status=meta["status"],
                    reason=meta.get("reason"),
                    student_id=meta.get("student_id"),
                    similarity=meta.get("similarity"),
                    runner_up=meta.get("runner_up_similarity"),
                    candidate_id=meta.get("candidate_id"),
                    face_px=quality.get("face_px"),
                )
            )
        return True


class Evaluation:
    """Runs scenarios against one Rekognition endpoint with one edge configuration."""

    def __init__(
        self,
        rekognition_url: str,
        edge_settings: EdgeSettings,
        detector: PersonDetector,
        work_dir: Path,
        fps: float = 2.0,
        threshold: float = 80.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.rekognition_url = rekognition_url
        self.edge = edge_settings
        self.detector = detector
        self.work_dir = Path(work_dir)
        self.fps = fps
        self.threshold = threshold
        self.log = logger or logging.getLogger("rollcall.eval")

    def _service(self, scenario: Scenario) -> AttendanceService:
        slug = re.sub(r"[^a-zA-Z0-9_.-]", "-", scenario.name)[:40]
        settings = CloudSettings(
            rekognition_endpoint_url=self.rekognition_url,
            data_dir=self.work_dir / f"{slug}-{uuid.uuid4().hex[:6]}",
            collection_id=f"eval-{slug}-{uuid.uuid4().hex[:8]}",
            match_threshold=self.threshold,
            storage="sqlite",
            s3_bucket="",
            auto_open_session=False,
            detect_emotions=False,
        )
        return build_service(settings)

    def _processor(self) -> FrameProcessor:
        s = self.edge
        return build_frame_processor(
            s, self.detector, build_face_finder(s), build_track_registry(s), Metrics(), self.log
        )

    def run(self, scenario: Scenario) -> ScenarioResult:
        """Enrol, open a session, play the video once through the pipeline, compare."""
        started = time.monotonic()
        service = self._service(scenario)
        counting = CountingRecognizer(service.recognizer)
        service.recognizer = counting
        for student_id, photos in scenario.enroll.items():
            service.create_student(student_id, student_id.replace("_", " ").title())
            for photo in photos:
                try:
                    service.enrol_photo(student_id, photo.read_bytes())
                except (EnrolmentError, RecognitionUnavailable) as exc:
                    return failed_result(
                        scenario,
                        f"enrolment of {student_id} from {photo.name} failed: {exc}",
                        time.monotonic() - started,
                    )
        service.create_classroom(CLASSROOM_ID, "Evaluation room")
        session = service.open_session(CLASSROOM_ID, f"eval {scenario.name}")
        link = InProcessLink(self._processor(), service)
        pipeline = self._camera(scenario, link)
        if pipeline.run() is Outcome.FAILED or not pipeline.counters().get("sent", 0):
            return failed_result(
                scenario, f"no frame of {scenario.video.name} could be read", time.monotonic() - started
            )
        records = service.attendance_for_session(session.session_id)
        return self._result(scenario, link, pipeline, records, counting.searches, time.monotonic() - started)

    def _camera(self, scenario: Scenario, link: InProcessLink) -> CameraPipeline:
        settings = load_iot_settings(
            source=str(scenario.video),
            fps=self.fps,
            realtime=False,
            loop=False,
            camera_id=CAMERA_ID,
            classroom_id=CLASSROOM_ID,
            replicate=1,
            cameras=[],
        )
        config = camera_configs(settings)[0]
        clock = StoppableClock()
        pipeline = CameraPipeline(config, None, link, clock, self.log, frame_log_level=logging.DEBUG)
        options = SourceOptions(
            loop=False, realtime=False, folder_interval_s=1.0 / (config.folder_fps or config.fps or 1.0)
        )
        pipeline.source = build_source(config.source, clock, options, pipeline.source_events())
        return pipeline

    def _result(
        self,
        scenario: Scenario,
        link: InProcessLink,
        pipeline: CameraPipeline,
        records: list[Any],
        calls: int,
        wall_s: float,
    ) -> ScenarioResult:
        counts: dict[str, int] = {}
        for record in records:
            counts[record.student_id] = counts.get(record.student_id, 0) + 1
        present = set(counts)
        true_present = present & scenario.expected
        seconds: dict[str, float | None] = {}
        for student_id in sorted(scenario.expected):
            hit = next((c for c in link.crops if c.status == "recognised" and c.student_id == student_id), None)
            if hit is None:
                seconds[student_id] = None
                continue
            spans = scenario.appearances.get(student_id)
            first = spans[0][0] if spans else hit.track_first_ms / 1000
            seconds[student_id] = round(max(0.0, hit.camera_ms / 1000 - first), 2)
        counters = pipeline.counters()
        return ScenarioResult(
            name=scenario.name,
            expected=sorted(scenario.expected),
            present=sorted(present),
            missed=sorted(scenario.expected - present),
            false_accepts=sorted(present - scenario.expected),
            duplicate_records=sorted(s for s, n in counts.items() if n > 1),
            rekognition_calls=calls,
            calls_per_present=round(calls / len(true_present), 2) if true_present else None,
            seconds_to_present=seconds,
            video_s=round(link.last_frame_ms / 1000, 2),
            frames_sent=counters.get("sent", 0),
            frames_skipped=counters.get("skipped_rate", 0) + counters.get("skipped_motion", 0),
            crops_sent=len(link.crops),
            evidence_crops=link.evidence_crops,
            bytes_iot_to_edge=link.bytes_up,
            bytes_edge_to_cloud=link.bytes_cloud,
            wall_s=round(wall_s, 1),
            crops=link.crops,
        )
