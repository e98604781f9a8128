"""What the edge does with one frame: decode, find people, find their faces, track
them and decide which face crops to send. No sockets here (see :mod:`edge.service`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from common.clock import now_ms
from common.images import ImageDecodeError, decode_image, encode_jpeg
from common.logs import log_event
from common.metrics import Metrics
from common.protocol import Header, ImageInfo, Message, MessageType

from .appearance import colour_signature
from .association import Subject, assign_faces
from .detection import PersonDetector, detect_for_camera
from .faces import Face, FaceFinder, QualityGate, crop_face
from .people import PeopleStage
from .tracker import Candidate, CropPolicy, Track, TrackRegistry

#: Default cap of a frame's pixels (4K UHD; ``ROLLCALL_EDGE_MAX_FRAME_PIXELS``).
MAX_FRAME_PIXELS = 3840 * 2160
#: Default longest side of a face crop sent (``ROLLCALL_EDGE_CROP_MAX_SIDE``).
CROP_MAX_SIDE = 1600


def camera_time_ms(header: Header) -> int:
    """The time tracks are measured in: the source's own timeline (``meta.source_ms``, video time
    when a file is replayed faster than real time) when the camera sends it, else capture time."""
    source_ms = header.meta.get("source_ms")
    if isinstance(source_ms, int) and not isinstance(source_ms, bool) and source_ms >= 0:
        return source_ms
    return int(header.ts.get("captured", header.ts.get("edge_received", now_ms())))


@dataclass
class Outgoing:
    """A face crop ready to go, and the track it belongs to."""

    message: Message
    camera_id: str
    track: Track
    candidate: Candidate
    camera_time_ms: int
    evidence: bool = False  # a face too small to search: stored by the cloud for review, never searched


def record_sent(tracks: TrackRegistry, out: Outgoing) -> str:
    """Note that ``out`` went to the cloud: a recognition crop now waits for its RESULT (the track's
    policy state); an evidence crop changes nothing. Returns the counter to bump."""
    if out.evidence:
        return "evidence_crops_sent"
    with tracks.lock:
        CropPolicy.sent(out.track, out.candidate, out.camera_time_ms, out.message.header.msg_id)
    return "crops_sent"


@dataclass
class FrameResult:
    """What processing one frame produced."""

    subjects: list[Subject] = field(default_factory=list)
    faces: list[Face] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    refused: str | None = None  # why the frame's image was refused (common.images.REFUSAL_REASONS)


class FrameProcessor:
    """Turns FRAME messages into FACE_CROP messages. One per worker thread
    (the face finder is not thread-safe); the person detector, the people stage and the track
    registry may be shared.

    With a ``people`` stage (:mod:`edge.people`, the default ``person_detection=beside``) a frame's
    crops are chosen from its faces and the camera's latest person boxes, and its own people are
    detected after that; without one (``inline``) its people are detected first.
    """

    def __init__(
        self,
        detector: PersonDetector,
        faces: FaceFinder,
        tracks: TrackRegistry,
        policy: CropPolicy,
        gate: QualityGate,
        metrics: Metrics,
        logger: logging.Logger,
        crop_padding: float = 0.25,
        jpeg_quality: int = 90,
        send_evidence: bool = True,
        max_frame_pixels: int = MAX_FRAME_PIXELS,
        crop_max_side: int = CROP_MAX_SIDE,
        people: PeopleStage | None = None,
    ) -> None:
        self.detector = detector
        self.people = people
        self.faces = faces
        self.tracks = tracks
        self.policy = policy
        self.gate = gate
        self.metrics = metrics
        self.log = logger
        self.crop_padding = crop_padding
        self.jpeg_quality = jpeg_quality
        self.send_evidence = send_evidence
        self.max_frame_pixels = max_frame_pixels
        self.crop_max_side = crop_max_side

    def process(self, frame_msg: Message) -> FrameResult:
        """Detect, track and pick crops for one FRAME. An image that is refused (header unreadable,
        over ``max_frame_pixels``, not the size the message says, corrupt) is counted, not raised."""
        header = frame_msg.header
        header.stamp("detect_start", now_ms())
        claimed = (header.image.width, header.image.height) if header.image is not None else None
        try:
            frame = decode_image(frame_msg.image or b"", self.max_frame_pixels, claimed)
        except ImageDecodeError as exc:
            self.metrics.inc("frames_refused")
            self.metrics.inc(f"frames_refused_{exc.reason}")
            log_event(
                self.log,
                "frame_refused",
                level=logging.WARNING,
                trace_id=header.trace_id,
                camera_id=header.camera_id,
                reason=exc.reason,
                detail=str(exc),
            )
            return FrameResult(refused=exc.reason)

        camera_time = camera_time_ms(header)
        with self.tracks.lock:
            cut = self.tracks.tracker(header.camera_id).scene.is_cut(frame)
        epoch = 0
        if self.people is None:
            started = time.perf_counter()
            persons = detect_for_camera(self.detector, header.camera_id, frame)
            self.metrics.observe("inference_ms", (time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        faces = self.faces.detect(frame)
        if self.people is not None:
            persons, epoch = self.people.boxes.follow(header.camera_id, frame.shape, faces, cut, camera_time)
            age = self.people.boxes.age_ms(header.camera_id, camera_time)
            if age is not None:
                self.metrics.observe("people_age_ms", age)
        self._motion_gauges()
        height, width = frame.shape[:2]
        subjects = assign_faces(persons, faces, width, height)
        signatures = [colour_signature(frame, s.box) for s in subjects]
        self.metrics.observe("face_ms", (time.perf_counter() - started) * 1000)
        header.stamp("detect_end", now_ms())
        self.metrics.inc("frames_processed")
        self.metrics.inc("persons", len(persons))
        self.metrics.inc("faces", len(faces))
        unclaimed = sum(1 for s in subjects if s.person is None)
        if unclaimed:
            self.metrics.inc("faces_without_person_box", unclaimed)
        log_event(
            self.log,
            "frame_processed",
            trace_id=header.trace_id,
            camera_id=header.camera_id,
            seq=header.seq,
            persons=len(persons),
            faces=len(faces),
            ts=header.ts,
        )

        result = FrameResult(subjects=subjects, faces=faces)
        self._choose_crops(frame_msg, frame, subjects, signatures, cut, camera_time, result)
        if self.people is not None:
            self.people.submit(header.camera_id, epoch, frame, faces, camera_time)
        return result

    def _choose_crops(
        self,
        frame_msg: Message,
        frame: np.ndarray,
        subjects: list[Subject],
        signatures: list[np.ndarray | None],
        cut: bool,
        camera_time: int,
        result: FrameResult,
    ) -> None:
        """Track the frame's subjects and add the crops the policy sends now to ``result``."""
        header = frame_msg.header
        with self.tracks.lock:
            tracker = self.tracks.tracker(header.camera_id)
            if cut and tracker.tracks:
                ended = tracker.end_all()
                self.metrics.inc("scene_cuts")
                self.metrics.inc("tracks_ended_scene_cut", len(ended))
                log_event(
                    self.log,
                    "scene_cut",
                    trace_id=header.trace_id,
                    camera_id=header.camera_id,
                    score=round(tracker.scene.last_score, 1),
                    tracks_ended=len(ended),
                )
            splits_before = tracker.splits
            tracks, ended = tracker.update(
                [s.box for s in subjects],
                camera_time,
                signatures,
                faces=[s.face.box if s.face is not None else None for s in subjects],
                from_face=[s.person is None for s in subjects],
            )
            if tracker.splits > splits_before:
                self.metrics.inc("tracks_split_appearance", tracker.splits - splits_before)
            if len(ended) > tracker.splits - splits_before:
                self.metrics.inc("tracks_expired", len(ended) - (tracker.splits - splits_before))
            for subject, track in zip(subjects, tracks, strict=False):
                face = subject.face
                if face is None:
                    continue
                reason = self.gate.reason_to_reject(face)
                if reason is not None:
                    self.metrics.inc(f"faces_rejected_{reason}")
                    if (
                        reason == "too_small"
                        and self.send_evidence
                        and not track.evidence_sent
                        and not track.crops_sent
                    ):
                        track.evidence_sent = True
                        message = self._build(frame_msg, frame, subject, face, track.track_id, purpose="evidence")
                        result.outgoing.append(
                            Outgoing(
                                message=message,
                                camera_id=header.camera_id,
                                track=track,
                                candidate=Candidate(0.0, message),
                                camera_time_ms=camera_time,
                                evidence=True,
                            )
                        )
                    continue
                candidate = Candidate(quality=face.quality(), payload=(frame_msg, frame, subject, face, track.track_id))
                decision, chosen = self.policy.offer(track, candidate, camera_time)
                kept = track.candidate
                if kept is not None and not isinstance(kept.payload, Message):
                    # A kept candidate holds its finished crop message, never the full frame.
                    kept.payload = self._build(*kept.payload)
                if decision != CropPolicy.SEND or chosen is None:
                    self.metrics.inc("crops_suppressed" if decision == CropPolicy.SUPPRESS else "crops_held")
                    continue
                if not isinstance(chosen.payload, Message):
                    chosen.payload = self._build(*chosen.payload)
                result.outgoing.append(
                    Outgoing(
                        message=chosen.payload,
                        camera_id=header.camera_id,
                        track=track,
                        candidate=chosen,
                        camera_time_ms=camera_time,
                    )
                )

    def _motion_gauges(self) -> None:
        """With motion regions: how many frames so far were detected whole, in regions, or not at
        all (no motion), as gauges ``detector_frames_{full,regions,skipped}`` (all cameras)."""
        stats = getattr(self.detector, "stats", None)
        for mode in ("full", "regions", "skipped"):
            value = getattr(stats, mode, None)
            if isinstance(value, int):
                self.metrics.set_gauge(f"detector_frames_{mode}", value)

    def _build(
        self,
        frame_msg: Message,
        frame: np.ndarray,
        subject: Subject,
        face: Face,
        track_id: int,
        purpose: str = "recognition",
    ) -> Message:
        """The FACE_CROP message for one face (JPEG crop + boxes + quality). ``purpose`` is
        ``recognition``, or ``evidence`` for a face too small to search (kept for review only)."""
        crop = crop_face(frame, face.box, self.crop_padding)
        longest = max(crop.shape[:2])
        if longest > self.crop_max_side:  # a face filling a large frame: keep the crop within the cloud's cap
            scale = self.crop_max_side / longest
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        jpeg = encode_jpeg(crop, self.jpeg_quality)
        height, width = frame.shape[:2]
        header = frame_msg.header.derive(
            MessageType.FACE_CROP,
            image=ImageInfo(width=crop.shape[1], height=crop.shape[0], encoding="jpeg", bytes=len(jpeg)),
            meta={
                "track_id": track_id,
                "person_box": [int(round(v)) for v in subject.box],
                "person_score": round(subject.person.score, 4) if subject.person is not None else None,
                "face_box": list(face.box),
                "face_score": round(face.score, 4),
                "quality": {
                    "blur": round(face.blur, 1),
                    "face_px": face.face_px,
                    "frontal": round(face.frontal(), 3),
                    "rank": round(face.quality(), 4),
                },
                "frame_size": [width, height],
                "frame_msg_id": frame_msg.header.msg_id,
                "camera_ms": camera_time_ms(frame_msg.header),
                "purpose": purpose,
            },
        )
        return Message(header=header, payloads=[jpeg])
