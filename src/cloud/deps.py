"""What the service's collaborators share: store, evidence store, recognizer, settings,
metrics and clock, in one mutable holder.

The facade (:class:`cloud.service.AttendanceService`) owns one :class:`ServiceDeps` and
hands it to every collaborator, so replacing a dependency on the facade (for instance
``service.recognizer = CountingRecognizer(...)`` in the evaluation runner) reaches all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from common.metrics import Metrics

from .ports import Recognizer
from .settings import CloudSettings
from .storage.base import AttendanceStore
from .storage.evidence import EvidenceStore


@dataclass
class ServiceDeps:
    """The shared dependencies of the attendance service's collaborators."""

    store: AttendanceStore
    evidence: EvidenceStore
    recognizer: Recognizer
    settings: CloudSettings
    stats: Metrics
    clock: Callable[[], int]
