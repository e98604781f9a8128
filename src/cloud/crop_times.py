"""When a crop was seen, as far as the cloud can trust it.

The header's times are the senders' claims. Two are used, each within bounds:
- ``ts.edge_received``, the authenticated edge's receive time of the crop's frame, only to file a
  crop that arrives late (held in the edge's outbox through a cloud outage, or across the end of
  a class) under the session that was open when it was taken (:func:`edge_taken_ms`);
- ``meta.camera_ms`` as a recorded lecture's video position (:func:`video_position`).
Every stored time is otherwise the cloud's own receive time, clamped to the session
(:func:`trusted_seen_ms`).
"""

from __future__ import annotations

from typing import Any

from .records import Session

#: The edge's clock may be this far ahead of the cloud's (NTP keeps EC2 within milliseconds);
#: a later stamp is not believed.
MAX_EDGE_CLOCK_AHEAD_MS = 60_000


def edge_taken_ms(ts: dict[str, Any], received_ms: int, grace_ms: int) -> int | None:
    """The edge's receive time of the crop's frame (``ts.edge_received``) when it is plausible:
    an int no later than the cloud's receive time plus :data:`MAX_EDGE_CLOCK_AHEAD_MS` and no
    more than ``grace_ms`` before it. None otherwise (or when ``grace_ms`` is 0)."""
    taken = ts.get("edge_received")
    if grace_ms <= 0 or not isinstance(taken, int) or isinstance(taken, bool):
        return None
    if taken > received_ms + MAX_EDGE_CLOCK_AHEAD_MS or taken < received_ms - grace_ms:
        return None
    return min(taken, received_ms)


def is_late(session: Session, received_ms: int) -> bool:
    """The crop reached the cloud after its session had ended."""
    end = session.end_ms()
    return end is not None and end <= received_ms


def trusted_seen_ms(received_ms: int, session: Session, now_ms: int, taken_ms: int | None = None) -> int:
    """When the cloud saw a crop, as a fact to store: its own receive time, clamped to the
    session's interval [start, end or now] (and never later than now). A crop filed late under an
    ended session (:func:`is_late`) is seen at the edge's time ``taken_ms`` instead, clamped the
    same way. Other header times (``ts.captured`` ...) are never used."""
    end = session.end_ms()
    upper = now_ms if end is None else min(end, now_ms)
    seen = taken_ms if taken_ms is not None and is_late(session, received_ms) else received_ms
    return max(session.starts_ms, min(int(seen), upper))


def video_position(camera_ms: Any) -> int | None:
    """``meta.camera_ms`` if it is plausibly a position in a video (an int in [0, 10**11),
    i.e. under ~3 years); live cameras' epoch times give None."""
    if isinstance(camera_ms, int) and not isinstance(camera_ms, bool) and 0 <= camera_ms < 10**11:
        return camera_ms
    return None
