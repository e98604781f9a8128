"""The cloud's RESULT messages as the edge reads them: the fields its tracks and outbox act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.protocol import RESULT_STATUSES


@dataclass(frozen=True)
class ResultFields:
    """The fields of a RESULT's meta that the tracks act on."""

    track_id: int
    status: str
    reason: str | None
    ack_of: str | None


def parse_result(meta: dict[str, Any]) -> ResultFields | None:
    """The fields of a RESULT's meta, or None when it is malformed (unknown status, no int track id)."""
    status, track_id = meta.get("status"), meta.get("track_id")
    if status not in RESULT_STATUSES or not isinstance(track_id, int) or isinstance(track_id, bool):
        return None
    reason, ack_of = meta.get("reason"), meta.get("ack_of")
    return ResultFields(
        track_id=track_id,
        status=str(status),
        reason=reason if isinstance(reason, str) else None,
        ack_of=ack_of if isinstance(ack_of, str) else None,
    )
