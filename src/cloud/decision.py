"""When a match counts: the decision rule between Rekognition's answer and attendance.

Rekognition's similarity alone is not enough to mark a student present: a global threshold
high enough to stop every false match also loses true ones. So a match at or above the match
threshold (AWS default 80) is accepted at once only when it is *confident*: similarity at least
``confident_similarity``, at least ``min_margin`` points above the best other student, and no
earlier attempt of the same track named someone else. Any other match is *unconfirmed*:
answered ``unknown`` (reason ``unconfirmed``), which makes the edge send the track's next crop
soon. Each attempt of a track is a vote (a student, or "nobody" for a face that matched no
one); a student is confirmed once they have two votes and more than every other vote together
(anchor: Frigate names a tracked face only when its attempts agree). A crop that looks the same
as a crop the track already voted with (a still image sent twice) is no new evidence: it does not
vote.

A *small* face (shorter side under ``small_face_px`` in the camera's frame, from the edge's crop
metadata) is accepted only by a confident match, and its weaker matches do not vote: a small face
carries little identity, and on the evaluation's strangers (41-58 px faces from low-resolution
videos) the local recogniser gave enrolled students 80-94 % similarity, so two such looks could
confirm a stranger; enrolled students at those sizes reached a confident look (96-99 %).

Votes are kept in memory per (session, camera, track), bounded and expiring: losing them (a
restart) costs more attempts, never a wrong record.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from common.clock import now_ms
from common.images import grey_thumbnail

from .records import RecognitionOutcome

TrackKey = tuple[str, str, Any]

#: Mean grey difference (0-255) of two crop fingerprints below which they are the same look.
SAME_LOOK_DIFF = 2.0
#: Looks remembered per track (the edge sends at most 8 crops per track; this bounds a misbehaving one).
MAX_LOOKS = 16
_FINGERPRINT_SIZE = (16, 16)


def face_px_of(meta: dict[str, Any]) -> int | None:
    """The face's shorter side in the camera's frame from a crop's meta (``quality.face_px``), if given."""
    quality = meta.get("quality")
    face_px = quality.get("face_px") if isinstance(quality, dict) else None
    return face_px if isinstance(face_px, int) and not isinstance(face_px, bool) else None


def crop_fingerprint(image: np.ndarray) -> np.ndarray:
    """A 16x16 grey thumbnail of a crop, to tell a new look of a face from the same image again."""
    return grey_thumbnail(image, _FINGERPRINT_SIZE)


@dataclasses.dataclass
class _Votes:
    """What the attempts of one track said so far."""

    counts: Counter[str | None] = dataclasses.field(default_factory=Counter)
    looks: list[np.ndarray] = dataclasses.field(default_factory=list)
    since_ms: int = 0

    def remember(self, fingerprint: np.ndarray | None) -> None:
        """Keep ``fingerprint`` as a look that voted (the newest ``MAX_LOOKS``)."""
        if fingerprint is not None:
            self.looks = [*self.looks, fingerprint][-MAX_LOOKS:]

    def seen(self, fingerprint: np.ndarray | None) -> bool:
        """True if a crop looking like ``fingerprint`` already voted."""
        return fingerprint is not None and any(
            look.shape == fingerprint.shape and float(np.mean(np.abs(look - fingerprint))) < SAME_LOOK_DIFF
            for look in self.looks
        )


class MatchDecision:
    """Accepts confident matches; holds the others until the track's attempts agree."""

    def __init__(
        self,
        confident_similarity: float = 95.0,
        min_margin: float = 10.0,
        max_pending: int = 10_000,
        small_face_px: int = 0,
        pending_ttl_ms: int = 10 * 60 * 1000,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.confident_similarity = confident_similarity
        self.min_margin = min_margin
        self.small_face_px = small_face_px
        self.max_pending = max_pending
        self.pending_ttl_ms = pending_ttl_ms
        self.clock = clock
        self._votes: OrderedDict[TrackKey, _Votes] = OrderedDict()
        self._lock = threading.Lock()

    def is_confident(self, outcome: RecognitionOutcome) -> bool:
        """A match strong and clear enough on its own."""
        similarity = outcome.similarity or 0.0
        margin = similarity - (outcome.runner_up_similarity or 0.0)
        return similarity >= self.confident_similarity and margin >= self.min_margin

    def is_small(self, face_px: int | None) -> bool:
        """A face too small for its weaker matches to count (``small_face_px``; unknown size: not small)."""
        return face_px is not None and 0 < face_px < self.small_face_px

    def decide(
        self,
        key: TrackKey | None,
        outcome: RecognitionOutcome,
        fingerprint: np.ndarray | None = None,
        face_px: int | None = None,
    ) -> RecognitionOutcome:
        """The outcome to act on for one crop of track ``key`` (None: the crop names no track);
        ``fingerprint`` (:func:`crop_fingerprint`) tells a new look from the same image again;
        ``face_px``: the face's shorter side in the camera's frame (small faces need a confident match)."""
        if outcome.status == "unknown" and outcome.reason == "no_match":
            self._vote_nobody(key, fingerprint)
            return outcome
        if outcome.status != "recognised":
            return outcome
        student_id = outcome.student_id or ""
        with self._lock:
            self._expire()
            votes = self._votes.get(key) if key is not None else None
            disputed = votes is not None and any(
                n and other not in (None, student_id) for other, n in votes.counts.items()
            )
            if self.is_confident(outcome) and not disputed:
                if key is not None:
                    self._votes.pop(key, None)
                return outcome
            if key is not None and not self.is_small(face_px):
                votes = votes or _Votes()
                if not votes.seen(fingerprint):
                    votes.counts[student_id] += 1
                    votes.remember(fingerprint)
                n = votes.counts[student_id]
                if n >= 2 and n > sum(votes.counts.values()) - n:
                    self._votes.pop(key, None)
                    return dataclasses.replace(outcome, reason="confirmed")
                self._remember(key, votes)
        return RecognitionOutcome(
            status="unknown",
            reason="unconfirmed",
            similarity=outcome.similarity,
            runner_up_similarity=outcome.runner_up_similarity,
            candidate_id=student_id,
            detail=(
                f"{student_id} at {outcome.similarity:.1f} from a {face_px}-px face needs a confident look"
                if self.is_small(face_px)
                else f"{student_id} at {outcome.similarity:.1f} needs the track's attempts to agree"
            ),
            attempts=outcome.attempts,
        )

    def _vote_nobody(self, key: TrackKey | None, fingerprint: np.ndarray | None) -> None:
        """A new look of a track with earlier votes matched nobody: a vote against them."""
        if key is None:
            return
        with self._lock:
            votes = self._votes.get(key)
            if votes is not None and not votes.seen(fingerprint):
                votes.counts[None] += 1
                votes.remember(fingerprint)

    def _remember(self, key: TrackKey, votes: _Votes) -> None:
        votes.since_ms = self.clock()
        self._votes[key] = votes
        self._votes.move_to_end(key)
        while len(self._votes) > self.max_pending:
            self._votes.popitem(last=False)

    def _expire(self) -> None:
        cutoff = self.clock() - self.pending_ttl_ms
        while self._votes:
            key, votes = next(iter(self._votes.items()))
            if votes.since_ms >= cutoff:
                break
            del self._votes[key]

    def pending(self) -> int:
        """Tracks with unconfirmed votes."""
        with self._lock:
            return len(self._votes)
