"""Which source object a camera runs: :func:`build_source` from a parsed source and options."""

from __future__ import annotations

from dataclasses import dataclass

from .live_source import LiveSource
from .sources import FrameSource, ImageFolderSource, SourceEvents, SourceSpec, VideoFileSource
from .stoppable_clock import StoppableClock


@dataclass(frozen=True)
class SourceOptions:
    """How to run a source (from the camera configuration)."""

    loop: bool = False
    realtime: bool = True
    folder_interval_s: float = 1.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    open_timeout_s: float = 10.0


def build_source(
    spec: SourceSpec, clock: StoppableClock, options: SourceOptions, events: SourceEvents | None = None
) -> FrameSource:
    """The source object for ``spec`` (not yet opened)."""
    if spec.kind == "video":
        return VideoFileSource(spec.target, clock, loop=options.loop, realtime=options.realtime, events=events)
    if spec.kind in ("folder", "image"):
        return ImageFolderSource(
            spec.target, clock, options.folder_interval_s, loop=options.loop, realtime=options.realtime, events=events
        )
    target: int | str = int(spec.target) if spec.kind == "webcam" else spec.target
    return LiveSource(
        target,
        clock,
        events=events,
        initial_backoff_s=options.initial_backoff_s,
        max_backoff_s=options.max_backoff_s,
        open_timeout_s=options.open_timeout_s,
        label=spec.describe(),
    )
