"""The crop path: one FACE_CROP from the edge in, one RESULT out.

Order: message checks (type, payload, size, JPEG/PNG header readable, at most
``max_crop_pixels``, the size the message says, decodable) -> idempotency (same
``msg_id`` answered again from the stored sighting or unknown face - or, for ``no_face``, from
memory - with ``duplicate: true``: a crop the edge resends never calls Rekognition twice) ->
classroom (id rule; registered, or auto-created only with ``auto_create_classrooms``) -> session: the
one open now, or the ended one the crop was taken in when it arrives late (``crops_late``, within
``late_crop_grace_s``), else ``no_open_session``, nothing recognised or stored ->
evidence crops (``meta.purpose == "evidence"``: stored as unknown ``too_small``, never
searched) -> a student already recognised in the session (:mod:`cloud.session_faces`: recorded
without a call), or a face matched to nobody in it moments ago (stored unknown ``session_stranger``,
without a call) -> recognition (traced) -> stale-student guard -> the decision rule
(:mod:`cloud.decision`) -> recording (attendance sighting or unknown face). A recorded crop is
seen at the cloud's own receive time (``ts.cloud_received``) clamped to the session
(:mod:`cloud.crop_times`): the times in the header are the sender's claims, used for latency
metrics, for filing a late crop (the edge's receive time, bounded) and as a recorded lecture's
video position. An ``error`` is never
recorded; its RESULT says ``retry: true`` unless the crop itself is at fault
(:data:`cloud.crop_results.PERMANENT_ERRORS`). See docs/cloud.md.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from collections import OrderedDict
from typing import Any

from common.images import ImageDecodeError, decode_image
from common.logs import log_event
from common.protocol import Header, Message, MessageType
from common.rules import is_id

from .crop_latency import observe_latency, observe_pipeline
from .crop_results import result_for
from .crop_times import edge_taken_ms, is_late, trusted_seen_ms, video_position
from .decision import MatchDecision, crop_fingerprint, face_px_of
from .deps import ServiceDeps
from .records import RecognitionOutcome, Session, Sighting, UnknownFace
from .session_faces import NO_LOOK, SessionFaces
from .sessions import Sessions
from .storage.evidence import evidence_ref_for
from .tracing import traced

log = logging.getLogger("rollcall.cloud.service")

#: Searched crops with no face kept in memory (they are not stored), so a resent one is answered
#: without a second Rekognition call.
NO_FACE_MEMORY = 10000

#: Why a crop's image was refused (common.images.ImageDecodeError.reason) -> the RESULT's reason.
IMAGE_REFUSALS = {
    "empty": "no_image",
    "header_unreadable": "image_header_unreadable",
    "too_large": "image_too_large",
    "size_mismatch": "image_size_mismatch",
    "corrupt": "corrupt_image",
}


def unknown_id_for(msg_id: str) -> str:
    """Stable id of the unknown face produced by crop ``msg_id``."""
    return hashlib.sha256(f"unknown:{msg_id}".encode()).hexdigest()[:32]


class CropProcessor:
    """Recognises and records face crops; never raises for bad input (``error`` RESULTs, counted)."""

    def __init__(self, deps: ServiceDeps, sessions: Sessions) -> None:
        self.deps = deps
        self.sessions = sessions
        settings = deps.settings
        self.decision = MatchDecision(
            settings.confident_similarity, settings.min_margin, small_face_px=settings.small_face_px, clock=deps.clock
        )
        self.faces = (
            SessionFaces(deps.stats, settings.session_face_distance, settings.small_face_px, deps.clock)
            if settings.session_face_cache
            else None
        )
        self._no_face: OrderedDict[str, tuple[RecognitionOutcome, str]] = OrderedDict()
        self._no_face_lock = threading.Lock()

    # ---------------------------------------------------------------- entry
    def process_crop(self, message: Message) -> Message:
        """Recognise one FACE_CROP and record it; return the RESULT for the edge.
        Never raises for bad input: problems become ``error`` results, counted."""
        header = message.header
        stats = self.deps.stats
        if "cloud_received" not in header.ts:
            header.stamp("cloud_received", self.deps.clock())
        stats.inc("crops_received")
        if "edge_sent" in header.ts:
            observe_latency(
                self.deps.stats, "latency_edge_to_cloud_ms", header.ts["edge_sent"], header.ts["cloud_received"]
            )
        try:
            return self._process_crop(message)
        except Exception as exc:  # storage down etc.: fail closed, keep serving
            stats.inc("crops_failed_internal")
            log_event(
                log,
                "crop_processing_failed",
                level=logging.ERROR,
                trace_id=header.trace_id,
                msg_id=header.msg_id,
                detail=f"{type(exc).__name__}: {str(exc)[:300]}",
                traceback=traceback.format_exc(limit=8),
            )
            outcome = RecognitionOutcome(status="error", reason="internal", detail=type(exc).__name__)
            return self._reply(message, outcome, None)

    def reject_crop(self, crop: Message, reason: str, detail: str) -> Message:
        """An ``error`` RESULT for a crop that is not processed (counted ``crops_rejected_<reason>``)."""
        self.deps.stats.inc(f"crops_rejected_{reason}")
        return self._reply(crop, RecognitionOutcome(status="error", reason=reason, detail=detail), None)

    # ---------------------------------------------------------------- steps
    def _process_crop(self, message: Message) -> Message:
        header, settings, stats = message.header, self.deps.settings, self.deps.stats
        if header.type is not MessageType.FACE_CROP:
            return self.reject_crop(message, "wrong_type", f"expected face_crop, got {header.type.value}")
        image = message.image
        if not image:
            return self.reject_crop(message, "no_image", "face crop without image payload")
        if len(image) > settings.max_crop_bytes:
            return self.reject_crop(message, "oversize", f"{len(image)} bytes > {settings.max_crop_bytes}")
        claimed = (header.image.width, header.image.height) if header.image is not None else None
        try:
            pixels = decode_image(image, settings.max_crop_pixels, claimed)
        except ImageDecodeError as exc:
            # Refused before any pixel is decoded (header unreadable, too large, not the size the
            # message says) or corrupt: counted crops_rejected_<reason>, logged by the reply.
            return self.reject_crop(message, IMAGE_REFUSALS.get(exc.reason, "corrupt_image"), str(exc))

        duplicate = self._duplicate_reply(message)
        if duplicate is not None:
            stats.inc("crops_duplicate")
            return duplicate

        if not is_id(header.classroom_id):
            # The API could never address such a classroom: refuse it rather than create it.
            return self.reject_crop(
                message,
                "invalid_classroom_id",
                f"classroom id {header.classroom_id[:70]!r} breaks the id rule (common.rules)",
            )
        classroom = self.sessions.classroom_for_crop(header.classroom_id, settings.auto_create_classrooms)
        if classroom is None:
            return self.reject_crop(
                message, "unknown_classroom", f"classroom {header.classroom_id!r} is not registered"
            )
        received = header.ts["cloud_received"]
        session = self.sessions.session_for_crop(
            classroom.classroom_id, settings.auto_open_session, self._taken_ms(header)
        )
        if session is None:
            stats.inc("crops_no_open_session")
            outcome = RecognitionOutcome(status="unknown", reason="no_open_session", attempts=0)
            return self._reply(message, outcome, None)

        if is_late(session, received):
            stats.inc("crops_late")
            log_event(
                log,
                "crop_late",
                trace_id=header.trace_id,
                msg_id=header.msg_id,
                session_id=session.session_id,
                late_ms=received - (session.end_ms() or received),
            )
        encoding = header.image.encoding if header.image else "jpeg"
        if header.meta.get("purpose") == "evidence":
            # A face the edge found too small to recognise: kept for review, never searched.
            stats.inc("evidence_crops")
            outcome = RecognitionOutcome(status="unknown", reason="too_small", attempts=0)
            return self._record_unknown(message, outcome, session, encoding)

        face_px = face_px_of(header.meta)
        look = self.faces.match(session.session_id, pixels, face_px) if self.faces else NO_LOOK
        hit = look.hit
        if hit is not None and self.deps.store.get_student(hit.student_id) is not None:
            header.stamp("recognised", self.deps.clock())  # a student who came back: no Rekognition call
            outcome = RecognitionOutcome(
                status="recognised",
                student_id=hit.student_id,
                similarity=hit.similarity,
                reason="session_face",
                detail=f"distance {hit.distance}",
                attempts=0,
            )
            return self._record_recognised(message, outcome, session, encoding)
        if look.stranger is not None:  # a stranger searched moments ago: no new call
            header.stamp("recognised", self.deps.clock())
            age_s = (self.deps.clock() - look.stranger.searched_ms) / 1000
            outcome = RecognitionOutcome(
                status="unknown",
                reason="session_stranger",
                detail=f"distance {look.stranger.distance} of a face searched {age_s:.0f} s ago",
                attempts=0,
            )
            return self._record_unknown(message, outcome, session, encoding)
        outcome = self._decide(header, self._recognise(header, image), session, crop_fingerprint(pixels), face_px)
        if outcome.status == "recognised":
            reply = self._record_recognised(message, outcome, session, encoding)
            if self.faces is not None and not reply.header.meta.get("duplicate"):
                self.faces.remember(
                    session.session_id,
                    outcome.student_id or "",
                    outcome.similarity,
                    pixels,
                    face_px,
                    look,
                )
            return reply
        if outcome.status == "unknown":
            reply = self._record_unknown(message, outcome, session, encoding)
            if outcome.reason == "no_match" and self.faces is not None and not reply.header.meta.get("duplicate"):
                near_miss = outcome.similarity is not None  # a best match under the threshold
                self.faces.remember_stranger(session.session_id, pixels, near_miss, look)
            return reply
        if outcome.status == "no_face":
            with self._no_face_lock:
                self._no_face[header.msg_id] = (outcome, session.session_id)
                while len(self._no_face) > NO_FACE_MEMORY:
                    self._no_face.popitem(last=False)
        return self._reply(message, outcome, session.session_id)

    def _taken_ms(self, header: Header) -> int | None:
        grace_ms = int(self.deps.settings.late_crop_grace_s * 1000)
        return edge_taken_ms(header.ts, header.ts["cloud_received"], grace_ms)

    def _seen_ms(self, header: Header, session: Session) -> int:
        return trusted_seen_ms(header.ts["cloud_received"], session, self.deps.clock(), self._taken_ms(header))

    def _recognise(self, header: Header, image: bytes) -> RecognitionOutcome:
        started = time.perf_counter()
        with traced(header.trace_id):
            outcome = self.deps.recognizer.search(image)
        header.stamp("recognised", self.deps.clock())
        self.deps.stats.observe("recognition_ms", (time.perf_counter() - started) * 1000)
        if outcome.status == "recognised" and self.deps.store.get_student(outcome.student_id or "") is None:
            # The collection knows a face whose student was deleted: never record it.
            self.deps.stats.inc("matches_stale_student")
            outcome = RecognitionOutcome(
                status="unknown",
                reason="stale_face",
                similarity=outcome.similarity,
                detail=f"face of deleted student {outcome.student_id}",
                attempts=outcome.attempts,
            )
        return outcome

    def _decide(
        self, header: Header, outcome: RecognitionOutcome, session: Session, fingerprint: Any, face_px: int | None
    ) -> RecognitionOutcome:
        track_id = header.meta.get("track_id")
        key = (session.session_id, header.camera_id, track_id) if isinstance(track_id, int) else None
        decided = self.decision.decide(key, outcome, fingerprint, face_px)
        if decided.reason in ("unconfirmed", "confirmed"):
            self.deps.stats.inc(f"matches_{decided.reason}")
            if decided.reason == "unconfirmed" and self.decision.is_small(face_px):
                self.deps.stats.inc("matches_unconfirmed_small_face")
        return decided

    def _duplicate_reply(self, crop: Message) -> Message | None:
        msg_id = crop.header.msg_id
        sighting = self.deps.store.get_sighting(msg_id)
        if sighting is not None:
            outcome = RecognitionOutcome(
                status="recognised", student_id=sighting.student_id, similarity=sighting.similarity
            )
            return self._reply(crop, outcome, sighting.session_id, {"duplicate": True})
        unknown = self.deps.store.get_unknown(unknown_id_for(msg_id))
        if unknown is not None:
            outcome = RecognitionOutcome(status="unknown", reason=unknown.reason)
            return self._reply(crop, outcome, unknown.session_id, {"duplicate": True})
        with self._no_face_lock:
            remembered = self._no_face.get(msg_id)
        if remembered is not None:
            return self._reply(crop, remembered[0], remembered[1], {"duplicate": True})
        return None

    # ------------------------------------------------------------ recording
    def _record_recognised(
        self, message: Message, outcome: RecognitionOutcome, session: Session, encoding: str
    ) -> Message:
        header, deps = message.header, self.deps
        emotion = deps.recognizer.detect_emotion(message.image or b"") if deps.settings.detect_emotions else None
        ref = evidence_ref_for(f"crop:{header.msg_id}", encoding)
        deps.evidence.put(ref, message.image or b"")
        # meta.camera_ms is the camera's own timeline: ms into the file for a replayed
        # video, epoch ms for a live camera; only a plausible video position is kept.
        sighting = Sighting(
            sighting_id=header.msg_id,
            session_id=session.session_id,
            student_id=outcome.student_id or "",
            camera_id=header.camera_id,
            seen_ms=self._seen_ms(header, session),
            similarity=outcome.similarity,
            evidence_ref=ref,
            emotion=emotion,
            trace_id=header.trace_id,
            face_id=outcome.face_id,
            source_ms=video_position(header.meta.get("camera_ms")),
        )
        new = deps.store.record_sighting(sighting)
        header.stamp("recorded", deps.clock())
        if not new:
            deps.stats.inc("crops_duplicate")
            return self._reply(message, outcome, session.session_id, {"duplicate": True})
        deps.stats.inc("attendance_recorded")
        observe_pipeline(self.deps.stats, header)
        log_event(
            log,
            "attendance_recorded",
            trace_id=header.trace_id,
            msg_id=header.msg_id,
            session_id=session.session_id,
            classroom_id=header.classroom_id,
            camera_id=header.camera_id,
            student_id=outcome.student_id,
            similarity=outcome.similarity,
            emotion=emotion,
            evidence_ref=ref,
            ts=dict(header.ts),
        )
        return self._reply(message, outcome, session.session_id)

    def _record_unknown(
        self, message: Message, outcome: RecognitionOutcome, session: Session, encoding: str
    ) -> Message:
        header, deps = message.header, self.deps
        unknown_id = unknown_id_for(header.msg_id)
        ref = evidence_ref_for(f"crop:{header.msg_id}", encoding)
        deps.evidence.put(ref, message.image or b"")
        unknown = UnknownFace(
            unknown_id=unknown_id,
            session_id=session.session_id,
            classroom_id=header.classroom_id,
            camera_id=header.camera_id,
            seen_ms=self._seen_ms(header, session),
            evidence_ref=ref,
            trace_id=header.trace_id,
            msg_id=header.msg_id,
            reason=outcome.reason or "no_match",
        )
        new = deps.store.add_unknown(unknown)
        header.stamp("recorded", deps.clock())
        if new:
            deps.stats.inc("unknown_stored")
            observe_pipeline(self.deps.stats, header)
            log_event(
                log,
                "unknown_face_stored",
                trace_id=header.trace_id,
                msg_id=header.msg_id,
                unknown_id=unknown_id,
                session_id=session.session_id,
                camera_id=header.camera_id,
                ts=dict(header.ts),
            )
        else:
            deps.stats.inc("crops_duplicate")
        extra = {"unknown_id": unknown_id, **({} if new else {"duplicate": True})}
        return self._reply(message, outcome, session.session_id, extra)

    # ---------------------------------------------------------------- reply
    def _reply(
        self, crop: Message, outcome: RecognitionOutcome, session_id: str | None, extra: dict[str, Any] | None = None
    ) -> Message:
        return result_for(self.deps.stats, crop, outcome, session_id, extra)
