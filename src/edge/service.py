"""The running edge: receiver thread -> fair frame buffer -> worker thread(s) -> cloud,
plus a RESULT reader on the cloud link and a periodic metrics line.

Receiving never waits for inference: the receiver thread only validates, stamps
``edge_received`` and buffers; the buffer drops the oldest frames when workers fall
behind, so workers always get recent frames.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from common.clock import now_ms
from common.logs import log_event
from common.metrics import Metrics, PeriodicReporter
from common.protocol import Message, MessageType
from common.transport import CurveKeys, Receiver, Sender

from .buffer import FrameBuffer
from .detection import PersonDetector
from .detector_factory import build_face_finder, build_frame_processor, build_person_detector, build_track_registry
from .faces import FaceFinder
from .pipeline import FrameProcessor, Outgoing, record_sent
from .settings import EdgeSettings
from .tracker import parse_result


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
        self.metrics = metrics or Metrics()
        # Models first: a missing model fails before any socket is bound.
        self.detector = detector or build_person_detector(settings)
        self._face_finder_factory = face_finder_factory or (lambda: build_face_finder(settings))
        self.tracks = build_track_registry(settings)
        self.processors = [self._new_processor() for _ in range(settings.workers)]
        self.allowed = settings.allowed_camera_set()
        self.buffer = FrameBuffer(settings.buffer_capacity)
        frames_curve = None
        if settings.bind_curve_secret_file is not None:
            frames_curve = CurveKeys(
                secret_file=settings.bind_curve_secret_file, allowed_clients_dir=settings.bind_curve_allowed_clients_dir
            )
        self.receiver = Receiver(settings.bind, kind="pull", hwm=settings.receive_hwm, curve=frames_curve)
        curve = None
        if settings.curve_secret_file is not None:
            curve = CurveKeys(
                secret_file=settings.curve_secret_file, server_public_file=settings.curve_cloud_public_file
            )
        self.uplink = Sender(settings.cloud_address, kind="dealer", hwm=settings.cloud_hwm, curve=curve)
        self._uplink_lock = threading.Lock()  # ZeroMQ sockets are not thread-safe
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.reporter = PeriodicReporter(self.metrics, self.log, metrics_interval_s, extra=self._extra_metrics)

    @property
    def bound_address(self) -> str:
        """The address the frame socket is bound to (resolves ``tcp://*:0`` ports)."""
        return self.receiver.bound_address

    def _new_processor(self) -> FrameProcessor:
        return build_frame_processor(
            self.settings, self.detector, self._face_finder_factory(), self.tracks, self.metrics, self.log
        )

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> EdgeService:
        """Start the receiver, the workers, the RESULT reader and the metrics reporter."""
        self._threads = [threading.Thread(target=self._receive_loop, name="edge-receiver", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work_loop, args=(p,), name=f"edge-worker-{i}", daemon=True)
            for i, p in enumerate(self.processors)
        ]
        self._threads.append(threading.Thread(target=self._result_loop, name="edge-results", daemon=True))
        for thread in self._threads:
            thread.start()
        self.reporter.start()
        log_event(
            self.log,
            "edge_started",
            bind=self.bound_address,
            cloud=self.settings.cloud_address,
            backend=self.settings.backend,
            person_model=getattr(self.detector, "model_name", None),
            person_classes=getattr(self.detector, "person_classes", None),
            workers=self.settings.workers,
            buffer_capacity=self.settings.buffer_capacity,
        )
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every thread (the current frame finishes), close sockets, log final metrics."""
        self._stop.set()
        self.buffer.close()
        for thread in self._threads:
            thread.join(timeout=timeout)
        abandoned = len(self.buffer)
        if abandoned:
            self.metrics.inc("frames_abandoned_at_stop", abandoned)
        self.reporter.stop()
        self.receiver.close()
        with self._uplink_lock:
            self.uplink.close()
        log_event(self.log, "edge_stopped", abandoned=abandoned)

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
                    self.accept(message)
            except Exception:  # deliberately broad: one bad message must not stop all receiving
                self.metrics.inc("receiver_errors")
                self.log.exception("receiver error", extra={"event": "receiver_error"})

    def accept(self, message: Message) -> None:
        """Admit one decoded message from the IoT tier into the buffer (or count why not)."""
        header = message.header
        header.stamp("edge_received", now_ms())
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
            self.buffer.put(message)
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
        header = out.message.header
        header.stamp("edge_sent", now_ms())
        with self._uplink_lock:
            ok = self.uplink.send(out.message)
        if not ok:
            self.metrics.inc("crops_dropped_cloud_busy")
            log_event(
                self.log,
                "crop_dropped",
                level=logging.WARNING,
                trace_id=header.trace_id,
                camera_id=out.camera_id,
                track_id=out.track.track_id,
                reason="cloud_busy",
            )
            return
        self.metrics.inc(record_sent(self.tracks, out))
        log_event(
            self.log,
            "crop_sent",
            trace_id=header.trace_id,
            camera_id=out.camera_id,
            classroom_id=header.classroom_id,
            msg_id=header.msg_id,
            track_id=out.track.track_id,
            crop_n=out.track.crops_sent,
            purpose="evidence" if out.evidence else "recognition",
            face_score=header.meta.get("face_score"),
            quality=header.meta.get("quality"),
            ts=header.ts,
        )

    def _forward_eos(self, message: Message) -> None:
        header = message.header.derive(MessageType.END_OF_STREAM)
        header.stamp("edge_sent", now_ms())
        ended = self.tracks.end_camera(header.camera_id)
        with self._uplink_lock:
            ok = self.uplink.send(Message(header=header))
        self.metrics.inc("eos_forwarded" if ok else "eos_dropped_cloud_busy")
        log_event(
            self.log,
            "end_of_stream",
            trace_id=header.trace_id,
            camera_id=header.camera_id,
            forwarded=ok,
            tracks_ended=ended,
        )

    # --- results from the cloud --------------------------------------------------
    def _result_loop(self) -> None:
        poll_s = self.settings.result_poll_ms / 1000
        while not self._stop.is_set():
            got = False
            try:
                with self._uplink_lock:
                    for _ in range(64):
                        message = self.uplink.recv(timeout_ms=0)
                        if message is None:
                            break
                        got = True
                        self.apply_result(message)
            except Exception:  # deliberately broad: a bad RESULT must not stop reading the others
                self.metrics.inc("result_errors")
                self.log.exception("result reader error", extra={"event": "result_error"})
            if not got:
                self._stop.wait(poll_s)

    def apply_result(self, message: Message) -> None:
        """Apply one message from the cloud (RESULT: stop crops of recognised tracks)."""
        header = message.header
        if header.type is not MessageType.RESULT:
            if header.type is not MessageType.ACK:
                self.metrics.inc(f"unexpected_type_{header.type.value}")
            return
        result = parse_result(header.meta)
        if result is None:
            self.metrics.inc("results_malformed")
            return
        self.metrics.inc("results_received")
        self.metrics.inc(f"results_{result.status}")
        known = self.tracks.apply_result(header.camera_id, result.track_id, result.status, result.reason, result.ack_of)
        log_event(
            self.log,
            "result_received",
            trace_id=header.trace_id,
            camera_id=header.camera_id,
            track_id=result.track_id,
            status=result.status,
            reason=result.reason,
            student_id=header.meta.get("student_id"),
            known_track=known,
            ts=header.ts,
        )

    def _extra_metrics(self) -> dict[str, Any]:
        active, depth = self.tracks.active_tracks(), len(self.buffer)
        self.metrics.set_gauge("active_tracks", active)
        self.metrics.set_gauge("buffer_depth", depth)
        return {
            "active_tracks": active,
            "cameras_forgotten": self.tracks.cameras_forgotten,
            "buffer_depth": depth,
            "rejected": dict(self.receiver.rejected),
            "results_rejected": dict(self.uplink.rejected),
            "buffer_by_camera": self.buffer.depth_by_camera(),
        }
