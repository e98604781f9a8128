"""The RESULT the cloud answers a face crop with: one place that builds, counts and logs it."""

from __future__ import annotations

import logging
from typing import Any

from common.logs import log_event
from common.protocol import Message, MessageType

from .key_bindings import REASONS as KEY_REFUSALS
from .records import RecognitionOutcome

log = logging.getLogger("rollcall.cloud.service")

#: ``error`` reasons that another attempt of the same crop cannot fix (the crop itself or its
#: classroom is wrong). Every other error (overloaded, internal, Rekognition throttled, unreachable,
#: denied, ...) is answered with ``retry: true``: the edge keeps the crop and sends it again later.
PERMANENT_ERRORS = frozenset(
    {
        "wrong_type",
        "no_image",
        "oversize",
        "corrupt_image",
        "image_header_unreadable",
        "image_too_large",
        "image_size_mismatch",
        "invalid_classroom_id",
        "unknown_classroom",
        "bad_image",
        *KEY_REFUSALS,  # the sending edge's key may not speak for that camera / classroom
    }
)


def result_for(
    stats: Any, crop: Message, outcome: RecognitionOutcome, session_id: str | None, extra: dict[str, Any] | None = None
) -> Message:
    """The RESULT for ``crop`` (counted ``results_<status>`` and logged ``recognition_result``)."""
    meta: dict[str, Any] = {
        "ack_of": crop.header.msg_id,
        "track_id": crop.header.meta.get("track_id"),
        "status": outcome.status,
        "student_id": outcome.student_id if outcome.status == "recognised" else None,
        "similarity": None if outcome.similarity is None else round(float(outcome.similarity), 3),
        "session_id": session_id,
    }
    if outcome.runner_up_similarity is not None:
        meta["runner_up_similarity"] = round(float(outcome.runner_up_similarity), 3)
    if outcome.candidate_id:
        meta["candidate_id"] = outcome.candidate_id
    if outcome.reason:
        meta["reason"] = outcome.reason
    if outcome.status == "error":
        meta["retry"] = outcome.reason not in PERMANENT_ERRORS
    if extra:
        meta.update(extra)
    stats.inc(f"results_{outcome.status}")
    log_event(
        log,
        "recognition_result",
        level=logging.WARNING if outcome.status == "error" else logging.INFO,
        trace_id=crop.header.trace_id,
        msg_id=crop.header.msg_id,
        camera_id=crop.header.camera_id,
        classroom_id=crop.header.classroom_id,
        status=outcome.status,
        student_id=meta["student_id"],
        similarity=meta["similarity"],
        runner_up_similarity=meta.get("runner_up_similarity"),
        candidate_id=outcome.candidate_id,
        reason=outcome.reason,
        detail=outcome.detail,
        session_id=session_id,
        attempts=outcome.attempts,
        track_id=meta["track_id"],
    )
    return Message(header=crop.header.derive(MessageType.RESULT, meta=meta))
