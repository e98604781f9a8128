"""When a match counts: the decision rule between Rekognition's answer and attendance.

Rekognition's similarity alone is not enough to mark a student present: a global threshold
high enough to stop every false match also loses true ones. So a match at or above the match
threshold (AWS default 80) is accepted at once only when it is *confident*: similarity at least
``confident_similarity``, at least ``min_margin`` points above the best other student, and no
earlier attempt of the same track named someone else. Any other match is *unconfirmed*:
answered ``unknown`` (reason ``unconfirmed``), which makes the edge send the track's next crop
soon. Each attempt of a track is a vote (a student, or "nobody" for a face that matched no
one); a student is confirmed once they have two votes and more than every other vote together
(anchor: Frigate names a tracked face only when its attempts agree).

Votes are kept in memory per (session, camera, track), bounded and expiring: losing them (a
restart) costs more attempts, never a wrong record.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, OrderedDict
from typing import Any, Callable

from common.clock import now_ms

from .models import RecognitionOutcome

TrackKey = tuple[str, str, Any]


class MatchDecision:
    """Accepts confident matches; holds the others until the track's attempts agree."""

    def __init__(
        self,
        confident_similarity: float = 95.0,
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
        self._votes: OrderedDict[TrackKey, tuple[Counter[str | None], int]] = OrderedDict()
        self._lock = threading.Lock()

    def is_confident(self, outcome: RecognitionOutcome) -> bool:
        """A match strong and clear enough on its own."""
        similarity = outcome.similarity or 0.0
        margin = similarity - (outcome.runner_up_similarity or 0.0)
        return similarity >= self.confident_similarity and margin >= self.min_margin

    def decide(self, key: TrackKey | None, outcome: RecognitionOutcome) -> RecognitionOutcome:
        """The outcome to act on for one crop of track ``key`` (None: the crop names no track)."""
        if outcome.status == "unknown" and outcome.reason == "no_match":
            self._vote_nobody(key)
            return outcome
        if outcome.status != "recognised":
            return outcome
        student_id = outcome.student_id or ""
        with self._lock:
            self._expire()
            votes = self._votes.get(key, (Counter(), 0))[0] if key is not None else Counter()
            disputed = any(v and other != student_id for other, v in votes.items() if other is not None)
            if self.is_confident(outcome) and not disputed:
                self._votes.pop(key, None)
                return outcome
            if key is not None:
                votes[student_id] += 1
                if votes[student_id] >= 2 and votes[student_id] > sum(votes.values()) - votes[student_id]:
                    self._votes.pop(key, None)
                    return dataclasses.replace(outcome, reason="confirmed")
                self._remember(key, votes)
        return RecognitionOutcome(
            status="unknown", reason="unconfirmed", similarity=outcome.similarity,
            runner_up_similarity=outcome.runner_up_similarity, candidate_id=student_id,
            detail=f"{student_id} at {outcome.similarity:.1f} needs the track's attempts to agree",
            attempts=outcome.attempts,
        )

    def _vote_nobody(self, key: TrackKey | None) -> None:
        """A face of a track with earlier votes matched nobody: a vote against them."""
        if key is None:
            return
        with self._lock:
            entry = self._votes.get(key)
            if entry is not None:
                entry[0][None] += 1

    def _remember(self, key: TrackKey, votes: Counter[str | None]) -> None:
        self._votes[key] = (votes, self.clock())
        self._votes.move_to_end(key)
        while len(self._votes) > self.max_pending:
            self._votes.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self.clock() - self.pending_ttl_ms
        while self._votes:
            key, (_, since) = next(iter(self._votes.items()))
            if since >= cutoff:
                break
            del self._votes[key]

    def pending(self) -> int:
        """Tracks with unconfirmed votes."""
        with self._lock:
            return len(self._votes)
