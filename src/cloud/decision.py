"""When a match counts: the decision rule between Rekognition's answer and attendance.

Rekognition's similarity alone is not enough to mark a student present: a global threshold
high enough to stop every false match also loses true ones. So a match at or above the
match threshold (AWS default 80) is accepted at once only when it is *confident* - similarity
at least ``confident_similarity`` and at least ``min_margin`` points above the best other
student. Any other match is *unconfirmed*: answered ``unknown`` (reason ``unconfirmed``),
which makes the edge send the same track's next crop soon; when a second attempt of the same
track names the same student at or above the threshold, the match is confirmed.

Unconfirmed candidates are kept in memory per (session, camera, track), bounded and expiring:
losing them (a restart) costs one more attempt, never a wrong record.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from typing import Any, Callable

from common.clock import now_ms

from .models import RecognitionOutcome

TrackKey = tuple[str, str, Any]


class MatchDecision:
    """Accepts confident matches, holds the others until a second look of the track agrees."""

    def __init__(
        self,
        confident_similarity: float = 90.0,
        min_margin: float = 10.0,
        max_pending: int = 10_000,
        pending_ttl_ms: int = 10 * 60 * 1000,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.confident_similarity = confident_similarity
        self.min_margin = min_margin
        self.max_pending = max_pending
        self.pending_ttl_ms = pending_ttl_ms
        self.clock = clock
        self._pending: OrderedDict[TrackKey, tuple[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def is_confident(self, outcome: RecognitionOutcome) -> bool:
        """A match strong and clear enough on its own."""
        similarity = outcome.similarity or 0.0
        margin = similarity - (outcome.runner_up_similarity or 0.0)
        return similarity >= self.confident_similarity and margin >= self.min_margin

    def decide(self, key: TrackKey | None, outcome: RecognitionOutcome) -> RecognitionOutcome:
        """The outcome to act on for one crop of track ``key`` (None: the crop names no track)."""
        if outcome.status != "recognised":
            return outcome
        if self.is_confident(outcome):
            return outcome
        student_id = outcome.student_id or ""
        with self._lock:
            self._expire()
            earlier = self._pending.get(key) if key is not None else None
            if earlier is not None and earlier[0] == student_id:
                del self._pending[key]
                return dataclasses.replace(outcome, reason="confirmed")
            if key is not None:
                self._pending[key] = (student_id, self.clock())
                self._pending.move_to_end(key)
                while len(self._pending) > self.max_pending:
                    self._pending.popitem(last=False)
        return RecognitionOutcome(
            status="unknown", reason="unconfirmed", similarity=outcome.similarity,
            runner_up_similarity=outcome.runner_up_similarity, candidate_id=student_id,
            detail=f"{student_id} at {outcome.similarity:.1f} needs a second look", attempts=outcome.attempts,
        )

    def _expire(self) -> None:
        cutoff = self.clock() - self.pending_ttl_ms
        while self._pending:
            key, (_, since) = next(iter(self._pending.items()))
            if since >= cutoff:
                break
            del self._pending[key]

    def pending(self) -> int:
        """Unconfirmed matches waiting for a second look."""
        with self._lock:
            return len(self._pending)
