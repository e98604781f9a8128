"""The edge's check that a camera speaks only for itself.

With CurveZMQ every frame arrives with the ``User-Id`` its connection's key was registered
under (the camera id, :mod:`common.keyring`). A message whose header claims another camera id,
or a classroom other than the camera's registered one, is refused: counted by reason
(``frames_refused_<reason>``: ``camera_key_mismatch``, ``classroom_key_mismatch``,
``no_key_identity``), logged (the first of each reason, then every 100th) and never buffered.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from common.keyring import RegistryWatch
from common.logs import log_event
from common.metrics import Metrics
from common.protocol import Header

LOG_EVERY = 100


class CameraBindings:
    """Checks each received header against the key registry (nothing to check without one)."""

    def __init__(self, metrics: Metrics, logger: logging.Logger, watch: RegistryWatch | None = None) -> None:
        self.metrics = metrics
        self.log = logger
        self.watch = watch  # the registry, followed as cameras are added or re-bound
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def own_cameras(self, edge: str) -> list[str]:
        """Camera ids registered to ``edge``."""
        if self.watch is None:
            return []
        return sorted(c.camera_id for c in self.watch.current().cameras.values() if c.edge == edge)

    def reason(self, header: Header, user_id: str | None) -> str | None:
        """Why ``header`` may not come from the key registered as ``user_id`` (None: it may)."""
        if self.watch is None:
            return None
        entry = self.watch.current().cameras.get(user_id) if user_id else None
        if entry is None:
            return "no_key_identity"
        if header.camera_id != entry.camera_id:
            return "camera_key_mismatch"
        if header.classroom_id != entry.classroom_id:
            return "classroom_key_mismatch"
        return None

    def admit(self, header: Header, user_id: str | None) -> bool:
        """True if the message may be processed; otherwise count and (sometimes) log why not."""
        reason = self.reason(header, user_id)
        if reason is None:
            return True
        self.metrics.inc(f"frames_refused_{reason}")
        with self._lock:
            self.refused[reason] += 1
            count = self.refused[reason]
        if count == 1 or count % LOG_EVERY == 0:
            log_event(
                self.log,
                "frame_refused",
                level=logging.WARNING,
                reason=reason,
                count=count,
                key_camera_id=user_id,
                claimed_camera_id=header.camera_id[:100],
                claimed_classroom_id=header.classroom_id[:128],
                trace_id=header.trace_id,
            )
        return False
