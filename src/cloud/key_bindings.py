"""The cloud's check that an edge speaks only for its own cameras.

With CurveZMQ every message from an edge arrives with the ``User-Id`` its key was registered
under (the edge name, :mod:`common.keyring`). A message about a camera the registry does not
assign to that edge, or claiming a classroom other than the camera's, is refused: a FACE_CROP
gets an ``error`` RESULT whose reason is one of :data:`REASONS` (permanent: the edge does not
retry it; counted ``crops_rejected_<reason>``) and nothing is recorded; other messages are
counted ``ingest_refused_<reason>`` and dropped.
"""

from __future__ import annotations

import logging

from common.keyring import Registry
from common.logs import log_event
from common.protocol import Header

#: Why a message is refused, from the first check that fails.
REASONS = ("no_key_identity", "camera_not_registered", "camera_of_another_edge", "classroom_key_mismatch")


def refusal(registry: Registry | None, edge: str | None, header: Header) -> tuple[str, str] | None:
    """(reason, detail) if the edge whose key is ``edge`` may not send ``header``; None if it may
    (always None without a registry: plain TCP)."""
    if registry is None:
        return None
    if edge is None:
        return "no_key_identity", "the connection has no registered key"
    entry = registry.cameras.get(header.camera_id)
    if entry is None:
        return "camera_not_registered", f"camera {header.camera_id[:100]!r} is not in the key registry"
    if entry.edge != edge:
        return "camera_of_another_edge", f"camera {entry.camera_id!r} belongs to edge {entry.edge!r}, not {edge!r}"
    if entry.classroom_id != header.classroom_id:
        return (
            "classroom_key_mismatch",
            f"camera {entry.camera_id!r} is registered to classroom {entry.classroom_id!r}, "
            f"not {header.classroom_id[:128]!r}",
        )
    return None


def log_refusal(logger: logging.Logger, edge: str | None, header: Header, reason: str, detail: str) -> None:
    """One WARNING line per refused message (``message_refused_by_key``)."""
    log_event(
        logger,
        "message_refused_by_key",
        level=logging.WARNING,
        reason=reason,
        detail=detail,
        edge=edge,
        type=header.type.value,
        trace_id=header.trace_id,
    )
