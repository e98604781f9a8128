"""The running edge: receiver thread -> fair frame buffer -> worker thread(s) -> outbox ->
uplink thread -> cloud, with the cloud's RESULTs read by the uplink thread, and a periodic
metrics line.

Receiving never waits for inference: the receiver thread only validates, stamps
``edge_received`` and buffers; the buffer drops the oldest frames when workers fall
behind, so workers always get recent frames.

Face crops are never dropped for a busy or absent cloud: workers write them to the outbox
(:mod:`edge.outbox`, on disk), and the uplink thread - the only user of the cloud socket - sends
what is due, resends what is unanswered, and deletes a crop when its RESULT arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from common.clock import now_ms
from common.keyring import RegistryWatch, edge_keys, warn_if_plaintext
from common.logs import log_event
from common.metrics import Metrics, PeriodicReporter
from common.protocol import Message, MessageType
from common.transport import CurveKeys, Receiver, Sender

from .bindings import CameraBindings
from .buffer import FrameBuffer
from .cpu_share import OpenCvThreads
from .detection import PersonDetector
from .detector_factory import (
    build_face_finder,
    build_frame_processor,
    build_people_stage,
    build_person_detector,
    build_track_registry,
)
from .faces import FaceFinder
from .outbox import Outbox
from .pipeline import FrameProcessor, Outgoing, record_sent
from .settings import EdgeSettings
from .uplink import Uplink


class EdgeService:
    """Wires sockets, buffer, workers and trackers together. ``start()`` then ``stop()``."""

    def __init__(
        self,
        settings: EdgeSettings,
        logger: logging.Logger | None = None,
        metrics: Metrics | None = None,
        detector: PersonDetector | None = None,
        face_finder_factory: Callable[[], FaceFinder] | None = None,
        metrics_interval_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.log = logger or logging.getLogger("rollcall.edge")
        self.opencv_threads = OpenCvThreads(settings.opencv_threads)
        self.metrics = metrics or Metrics()
        # Keys first, then models: missing keys or models fail before any socket is bound.
        frames_curve, cloud_curve = self._load_keys(settings)
        self.detector = detector or build_person_detector(settings)
        self._face_finder_factory = face_finder_factory or (lambda: build_face_finder(settings))
        self.outbox = Outbox(
            settings.outbox_path,
            max_crops=settings.outbox_max_crops,
            max_age_ms=int(settings.outbox_max_age_s * 1000),
            resend_timeout_ms=int(settings.resend_timeout_s * 1000),
            max_backoff_ms=int(settings.resend_max_backoff_s * 1000),
        )
        self.tracks = build_track_registry(settings, ids=self.outbox.track_ids())
        self.people = build_people_stage(settings, self.detector, self.metrics, self.log, threaded=True)
        self.processors = [self._new_processor() for _ in range(settings.workers)]
        self.allowed = settings.allowed_camera_set()
        self.buffer = FrameBuffer(settings.buffer_capacity)
        self.receiver = Receiver(settings.bind, kind="pull", hwm=settings.receive_hwm, curve=frames_curve)
        self.link = Uplink(
            Sender(settings.cloud_address, kind="dealer", hwm=settings.cloud_hwm, curve=cloud_curve),
            self.outbox,
            self.tracks,
            self.metrics,
            self.log,
            result_wait_ms=settings.result_poll_ms,
        )
        self.uplink = self.link.sender
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reporter = PeriodicReporter(self.metrics, self.log, metrics_interval_s, extra=self._extra_metrics)

    def _load_keys(self, settings: EdgeSettings) -> tuple[CurveKeys | None, CurveKeys | None]:
        """(frame server keys, cloud client keys); None, None with transport=plaintext.
        Raises KeyringError (a ConfigError) saying how to create the keys."""
        self.name = settings.name or "edge"
        self.keys_watch: RegistryWatch | None = None
        self.bindings = CameraBindings(self.metrics, self.log)
        warn_if_plaintext(self.log, "edge", settings.transport)
        if settings.transport == "plaintext":
            return None, None
        self.name, server, client, self.keys_watch = edge_keys(settings.keys_dir, settings.name)
        self.bindings.watch = self.keys_watch
        return (
            CurveKeys(server.public, server.secret, clients=server.clients),
            CurveKeys(client.public, client.secret, server_public=client.server_public),
        )

    @property
    def bound_address(self) -> str:
        """The address the frame socket is bound to (resolves ``tcp://*:0`` ports)."""
        return self.receiver.bound_address

    def _new_processor(self) -> FrameProcessor:
        return build_frame_processor(
            self.settings,
            self.detector,
            self._face_finder_factory(),
            self.tracks,
            self.metrics,
            self.log,
            outstanding=self.outbox.holds,
            people=self.people,
        )

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> EdgeService:
        """Start the receiver, the workers, the uplink (crops out, RESULTs in) and the metrics reporter."""
        self._threads = [threading.Thread(target=self._receive_loop, name="edge-receiver", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work_loop, args=(p,), name=f"edge-worker-{i}", daemon=True)
            for i, p in enumerate(self.processors)
        ]
        uplink = threading.Thread(target=self.link.run, args=(self._stop,), name="edge-uplink", daemon=True)
        self._threads.append(uplink)
        for thread in self._threads:
            thread.start()
        if self.people is not None:
            self.people.start()
        self.reporter.start()
        log_event(
            self.log,
            "edge_started",
            bind=self.bound_address,
            cloud=self.settings.cloud_address,
            transport=self.settings.transport,
            edge_name=self.name,
            cameras_registered=None if self.keys_watch is None else len(self.bindings.own_cameras(self.name)),
            backend=self.settings.backend,
            person_detection=self.settings.person_detection,
            person_model=getattr(self.detector, "model_name", None),
            person_classes=getattr(self.detector, "person_classes", None),
            workers=self.settings.workers,
            buffer_capacity=self.settings.buffer_capacity,
            outbox=self.outbox.path,
            outbox_recovered=self.outbox.recovered,
        )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread (the current frame finishes), close sockets, log final metrics."""
        self._stop.set()
        self.buffer.close()
        for thread in self._threads:
            thread.join(timeout=timeout)
        if self.people is not None:
            self.people.stop(timeout)
        abandoned = len(self.buffer)
        if abandoned:
            self.metrics.inc("frames_abandoned_at_stop", abandoned)
        self.reporter.stop()
        self.receiver.close()
        self.uplink.close()
        held = len(self.outbox)
        self.outbox.close()
        log_event(self.log, "edge_stopped", abandoned=abandoned, outbox_held=held)

    def wait(self) -> None:
        """Block until :meth:`stop` is called from another thread / a signal handler."""
        while not self._stop.wait(0.5):
            pass

    # --- receiver ----------------------------------------------------------------
    def _receive_loop(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.receiver.recv(timeout_ms=100)
                if message is not None:
                    self.accept(message, self.receiver.last_user_id)
            except Exception:  # deliberately broad: one bad message must not stop all receiving
                self.metrics.inc("receiver_errors")
                self.log.exception("receiver error", extra={"event": "receiver_error"})

    def accept(self, message: Message, user_id: str | None = None) -> None:
        """Admit one decoded message from the IoT tier into the buffer (or count why not).
        With CurveZMQ, ``user_id`` is the camera id of the sender's key: a message claiming
        another camera or classroom is refused (:class:`edge.bindings.CameraBindings`)."""
        header = message.header
        header.stamp("edge_received", now_ms())
        if not self.bindings.admit(header, user_id):
            return
        if self.allowed and header.camera_id not in self.allowed:
            self.metrics.inc("unknown_cameras")
            return
        if header.type is MessageType.FRAME:
            self.metrics.inc("frames_received")
            dropped = self.buffer.put(message)
            if dropped is not None:
                self.metrics.inc("frames_dropped_buffer")
        elif header.type is MessageType.END_OF_STREAM:
            self.metrics.inc("eos_received")
            if self.buffer.put(message) is not None:
                self.metrics.inc("eos_coalesced")  # one is already waiting for this camera
        elif header.type is MessageType.HEARTBEAT:
            self.metrics.inc("heartbeats")
        else:
            self.metrics.inc(f"unexpected_type_{header.type.value}")

    # --- workers -----------------------------------------------------------------
    def _work_loop(self, processor: FrameProcessor) -> None:
        while not self._stop.is_set():
            message = self.buffer.take(timeout=0.2)
            if message is None:
                continue
            try:
                with self.opencv_threads.working():
                    self.handle(processor, message)
            except Exception:  # a bug in one frame must not kill the worker
                self.metrics.inc("worker_errors")
                self.log.exception("worker error", extra={"event": "worker_error", "trace_id": message.header.trace_id})
            finally:
                self.buffer.done(message.header.camera_id)

    def handle(self, processor: FrameProcessor, message: Message) -> None:
        """Process one buffered message: a FRAME (crops up) or an END_OF_STREAM (forwarded)."""
        if message.header.type is MessageType.END_OF_STREAM:
            self._forward_eos(message)
            return
        result = processor.process(message)
        for outgoing in result.outgoing:
            self._send_crop(outgoing)

    def _send_crop(self, out: Outgoing) -> None:
        """Hand a crop to the uplink's outbox; its track now waits for the answer."""
        self.metrics.inc(record_sent(self.tracks, out))  # before the outbox: a RESULT finds the track pending
        self.link.queue_crop(out)

    def _forward_eos(self, message: Message) -> None:
        header = message.header.derive(MessageType.END_OF_STREAM)
        ended = self.tracks.end_camera(header.camera_id)
        if self.people is not None:
            self.people.forget(header.camera_id)
        self.link.queue_eos(Message(header=header))
        log_event(self.log, "end_of_stream", trace_id=header.trace_id, camera_id=header.camera_id, tracks_ended=ended)

    def send_due(self) -> None:
        """One pass of the uplink thread (:meth:`edge.uplink.Uplink.send_due`)."""
        self.link.send_due()

    def apply_result(self, message: Message) -> None:
        """Apply one message from the cloud (:meth:`edge.uplink.Uplink.apply_result`)."""
        self.link.apply_result(message)

    def _extra_metrics(self) -> dict[str, Any]:
        active, held = self.tracks.active_tracks(), len(self.outbox)
        buffer = self.buffer.snapshot()
        depth = buffer["depth"]
        self.metrics.set_gauge("active_tracks", active)
        self.metrics.set_gauge("buffer_depth", depth)
        self.metrics.set_gauge("outbox_depth", held)
        # Per-camera figures: counts and the top 20, never a whole map keyed by camera ids.
        return {
            "active_tracks": active,
            "outbox_depth": held,
            "cameras_tracked": self.tracks.cameras(),
            "cameras_forgotten": self.tracks.cameras_forgotten,
            "buffer_depth": depth,
            "rejected": dict(self.receiver.rejected),
            "refused_by_key": dict(self.bindings.refused),
            "results_rejected": dict(self.uplink.rejected),
            "buffer_cameras": buffer["cameras"],
            "buffer_by_camera": buffer["by_camera"],
            "buffer_dropped_by_camera": buffer["dropped_by_camera"],
            "buffer_eos_merged": buffer["eos_merged"],
        }
