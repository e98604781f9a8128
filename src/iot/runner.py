"""Runs every configured camera in its own thread, with metrics and clean shutdown."""

from __future__ import annotations

import logging
import threading
from typing import Any

import zmq

from common.clock import Clock
from common.keyring import camera_keys, warn_if_plaintext
from common.logs import log_event
from common.metrics import Metrics, PeriodicReporter
from common.transport import CurveKeys, Sender

from .camera import COUNTERS, CameraPipeline, Outcome
from .settings import CameraConfig, IotSettings, camera_configs
from .source_factory import SourceOptions, build_source
from .stoppable_clock import StoppableClock

#: How long a socket may keep flushing queued messages (END_OF_STREAM) after close.
CLOSE_LINGER_MS = 2000


class Runner:
    """Runs the cameras of ``settings`` until they all end or :meth:`stop` is called.

    ``run()`` returns the process exit status: 0 when every camera ended or was
    stopped, 1 if any camera's source failed. Signal handling belongs to the caller
    (:mod:`iot.cli`), so a Runner can also run in a thread (tests).
    """

    def __init__(
        self,
        settings: IotSettings,
        logger: logging.Logger,
        metrics_interval_s: float = 10.0,
        clock: Clock | None = None,
        cameras: list[CameraConfig] | None = None,
    ) -> None:
        self.settings = settings
        self.logger = logger
        self.metrics_interval_s = metrics_interval_s
        self.cameras = cameras if cameras is not None else camera_configs(settings)
        self.keys = camera_curve_keys(settings, self.cameras)  # KeyringError says how to create them
        self.clock = StoppableClock(clock)
        self.metrics = Metrics()
        for name in COUNTERS:
            self.metrics.inc(name, 0)
        self.pipelines: dict[str, CameraPipeline] = {}
        self.outcomes: dict[str, Outcome] = {}
        self._threads: list[threading.Thread] = []
        self._all_done = threading.Event()
        self._lock = threading.Lock()
        self._context = zmq.Context()

    def stop(self) -> None:
        """Ask every camera to stop (safe from a signal handler or another thread)."""
        self.clock.stop_event.set()

    @property
    def stopping(self) -> bool:
        return self.clock.stopped

    def snapshot(self) -> dict[str, Any]:
        """Per-camera counters for the metrics line."""
        with self._lock:
            pipelines = dict(self.pipelines)
        return {
            "cameras": {cid: p.counters() for cid, p in pipelines.items()},
            "cameras_running": sum(1 for t in self._threads if t.is_alive()),
        }

    def start_offsets(self) -> list[float]:
        """Seconds each camera waits before its first frame: camera i of n waits i/n of its frame
        interval (``stagger_cameras``, realtime cameras with an fps cap), else 0."""
        n = len(self.cameras)
        if not self.settings.stagger_cameras or n < 2:
            return [0.0] * n
        return [i / n / c.fps if c.fps > 0 and c.realtime else 0.0 for i, c in enumerate(self.cameras)]

    def _run_camera(self, config: CameraConfig, offset_s: float = 0.0) -> None:
        s = self.settings
        sender = None
        outcome = Outcome.FAILED
        try:
            sender = Sender(
                s.edge_address,
                kind="push",
                hwm=s.send_hwm,
                curve=self.keys.get(config.camera_id),
                context=self._context,
                linger_ms=CLOSE_LINGER_MS,
            )
            options = SourceOptions(
                loop=config.loop,
                realtime=config.realtime,
                folder_interval_s=1.0 / (config.folder_fps or config.fps or 1.0),
                initial_backoff_s=s.reconnect_initial_s,
                max_backoff_s=s.reconnect_max_s,
                open_timeout_s=s.open_timeout_s,
            )
            pipeline = CameraPipeline(
                config,
                source=None,  # set just below: the source reports into the pipeline's counters
                sender=sender,
                clock=self.clock,
                logger=self.logger,
                shared=self.metrics,
                frame_log_level=logging.getLevelName(s.frame_log_level),
                eos_timeout_s=s.eos_timeout_s,
            )
            pipeline.source = build_source(config.source, self.clock, options, pipeline.source_events())
            with self._lock:
                self.pipelines[config.camera_id] = pipeline
            if offset_s > 0:
                self.clock.sleep(offset_s)  # returns at once on stop(): the pipeline then ends as stopped
            outcome = pipeline.run()
        except Exception as exc:  # deliberately broad: a bug or a bad address must not take the other cameras down
            log_event(self.logger, "camera_crashed", level=logging.ERROR, camera_id=config.camera_id, detail=repr(exc))
            outcome = Outcome.FAILED
        finally:
            if sender is not None:
                sender.close()
            with self._lock:
                self.outcomes[config.camera_id] = outcome
                if len(self.outcomes) == len(self.cameras):
                    self._all_done.set()

    def run(self) -> int:
        """Start all cameras, wait until they end or ``stop()``; return the exit status."""
        s = self.settings
        log_event(
            self.logger,
            "iot_started",
            cameras=[c.camera_id for c in self.cameras][:50],
            n_cameras=len(self.cameras),
            edge_address=s.edge_address,
            transport=s.transport,
        )
        warn_if_plaintext(self.logger, "iot", s.transport)
        reporter = PeriodicReporter(self.metrics, self.logger, self.metrics_interval_s, extra=self.snapshot).start()
        for config, offset_s in zip(self.cameras, self.start_offsets(), strict=True):
            thread = threading.Thread(
                target=self._run_camera, args=(config, offset_s), name=f"camera-{config.camera_id}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        if not self.cameras:
            self._all_done.set()
        while not self._all_done.wait(0.2):
            if self.stopping:
                break
        self.stop()
        for thread in self._threads:
            thread.join(timeout=5.0)
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log_event(self.logger, "cameras_not_stopped", level=logging.WARNING, threads=stuck)
        reporter.stop()  # logs the final metrics line
        if not stuck:  # every socket is closed: flush what is queued (bounded by its linger)
            self._context.term()
        failed = sorted(cid for cid, o in self.outcomes.items() if o is Outcome.FAILED)
        status = 1 if failed else 0
        log_event(
            self.logger,
            "iot_stopped",
            exit_status=status,
            outcomes={cid: o.value for cid, o in sorted(self.outcomes.items())} if len(self.outcomes) <= 50 else None,
            failed=failed or None,
            totals=self.metrics.snapshot()["counters"],
        )
        return status


def camera_curve_keys(settings: IotSettings, cameras: list[CameraConfig]) -> dict[str, CurveKeys]:
    """Each camera's CurveZMQ keys (empty with transport=plaintext). Raises KeyringError (a
    ConfigError) naming the first camera without a registered key, and how to create one."""
    if settings.transport == "plaintext":
        return {}
    keys = {}
    for config in cameras:
        k = camera_keys(settings.keys_dir, config.camera_id, config.classroom_id)
        keys[config.camera_id] = CurveKeys(k.public, k.secret, server_public=k.server_public)
    return keys
