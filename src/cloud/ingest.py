"""ZeroMQ ingest: face crops from the edge in, RESULT replies out.

One I/O thread owns the ROUTER socket (ZeroMQ sockets are not thread-safe): it
receives, stamps ``cloud_received``, puts FACE_CROP messages on a bounded work
queue and sends the replies the workers leave in the outbox. ``workers`` threads
call :meth:`AttendanceService.process_crop`. END_OF_STREAM and HEARTBEAT are
recorded; malformed messages are counted by reason (``ingest_rejected_<reason>``)
and skipped. A RESULT that cannot be encoded is dropped, counted (``results_unencodable``) and
logged with its trace id; the replies behind it are sent without delay. A crop the edge sends
again while its first copy is still queued or being processed is not processed again
(``crops_duplicate_in_flight``): the first copy's RESULT answers every connection that sent a
copy (a restarted edge has a new one), and Rekognition is never called twice for it. Nothing a
peer sends can stop the loop. On stop, the workers finish the crop in hand and the I/O thread
sends their RESULTs before the socket closes.

Use from code::

    ingest = IngestServer(service, settings).start()
    ...
    ingest.stop()
"""

from __future__ import annotations

import argparse
import logging
import queue
import signal
import threading
import time
import traceback
from collections import Counter
from typing import Any

from common.bounded import LruDict
from common.clock import now_ms
from common.keyring import RegistryWatch, cloud_keys, warn_if_plaintext
from common.logs import log_event, setup_logging
from common.metrics import PeriodicReporter, top
from common.protocol import Message, MessageType
from common.settings import CommonSettings
from common.transport import CurveKeys, Receiver

from . import key_bindings
from .service import AttendanceService
from .settings import CloudSettings

log = logging.getLogger("rollcall.cloud.ingest")

POLL_MS = 10
HOUSEKEEPING_INTERVAL_S = 3600.0
CLOSE_LINGER_MS = 1000  # how long ZeroMQ keeps sending queued RESULTs after the socket is closed


class IngestServer:
    """The cloud's ZeroMQ ROUTER endpoint plus its worker pool."""

    def __init__(
        self, service: AttendanceService, settings: CloudSettings | None = None, bind: str | None = None
    ) -> None:
        self.service = service
        self.settings = settings or service.settings
        self.bind = bind or self.settings.zmq_bind
        self.receiver: Receiver | None = None
        self.keys_watch: RegistryWatch | None = None  # with CurveZMQ: which edge may speak for which camera
        self._work: queue.Queue[Message | None] = queue.Queue(maxsize=self.settings.queue_size)
        self._outbox: queue.SimpleQueue[tuple[bytes, Message]] = queue.SimpleQueue()
        self._stop = threading.Event()  # workers and housekeeping stop; the I/O thread stops receiving
        # Set after the workers are done: the I/O thread sends the last replies, then exits.
        self._io_stop = threading.Event()
        self._threads: list[threading.Thread] = []  # workers + housekeeping
        self._io_thread: threading.Thread | None = None
        self._seen_rejections: Counter[str] = Counter()
        # Figures per camera id, the least recently seen forgotten beyond max_cameras (peers choose ids).
        self._cameras: LruDict[str, dict[str, Any]] = LruDict(self.settings.max_cameras)
        self._cameras_lock = threading.Lock()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._in_flight: dict[str, list[bytes]] = {}  # msg ids queued or being processed -> peers to answer
        self._in_flight_lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    @property
    def bound_address(self) -> str:
        """The address actually bound (useful with ``tcp://127.0.0.1:*``)."""
        if self.receiver is None:
            raise RuntimeError("ingest not started")
        return self.receiver.bound_address

    def start(self) -> IngestServer:
        """Bind and start the I/O, worker and housekeeping threads."""
        curve = None
        warn_if_plaintext(log, "cloud", self.settings.transport)
        if self.settings.transport == "curve":  # KeyringError (a ConfigError) says how to create keys
            keys, self.keys_watch = cloud_keys(self.settings.keys_dir)
            curve = CurveKeys(keys.public, keys.secret, clients=keys.clients)
        self.receiver = Receiver(self.bind, kind="router", hwm=max(100, self.settings.queue_size * 2), curve=curve)
        self._stop.clear()
        self._io_stop.clear()
        self._io_thread = threading.Thread(target=self._io_loop, name="ingest-io", daemon=True)
        self._threads = [
            threading.Thread(target=self._worker, name=f"ingest-worker-{i}", daemon=True)
            for i in range(self.settings.workers)
        ]
        self._threads.append(threading.Thread(target=self._housekeeping, name="ingest-housekeeping", daemon=True))
        for thread in (self._io_thread, *self._threads):
            thread.start()
        self.service.add_metrics_source("ingest", self.stats)
        log_event(
            log,
            "ingest_started",
            address=self.receiver.bound_address,
            workers=self.settings.workers,
            queue_size=self.settings.queue_size,
            transport=self.settings.transport,
            edges_registered=None if self.keys_watch is None else len(self.keys_watch.registry.edges),
        )
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let workers finish the crop in hand, send their RESULTs, close the socket."""
        if not self._threads:
            return
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._io_stop.set()  # only now: the replies of the crops the workers finished still go out
        if self._io_thread is not None:
            self._io_thread.join(timeout=max(0.1, deadline - time.monotonic()))
        self._threads = []
        if self.receiver is not None:
            self.receiver.close(linger_ms=CLOSE_LINGER_MS)  # the last RESULTs may still be in ZeroMQ's queue
        log_event(log, "ingest_stopped", unprocessed=self._work.qsize())

    def __enter__(self) -> IngestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ stats
    def stats(self) -> dict[str, Any]:
        """Queue depth, busy workers, rejected messages by reason, cameras: how many are known, how
        many were forgotten, and the 20 that sent most messages (never the whole map)."""
        with self._cameras_lock:
            busiest = top(self._cameras, _messages)
            cameras = {k: dict(v) for k, v in busiest.items()}
            count, forgotten = len(self._cameras), self._cameras.evicted
        return {
            "address": self.receiver.bound_address if self.receiver else None,
            "queue_depth": self._work.qsize(),
            "queue_size": self.settings.queue_size,
            "workers": self.settings.workers,
            "workers_busy": self._busy,
            "rejected": dict(self.receiver.rejected) if self.receiver else {},
            "camera_count": count,
            "cameras_forgotten": forgotten,
            "cameras": cameras,
        }

    def _camera(self, message: Message, field: str) -> None:
        h = message.header
        with self._cameras_lock:
            entry = self._cameras.get_or_create(
                h.camera_id, lambda: {"classroom_id": h.classroom_id, "crops": 0, "heartbeats": 0}
            )
            entry[field] = entry.get(field, 0) + 1
            entry["last_seen_ms"] = now_ms()
            entry["classroom_id"] = h.classroom_id

    # ------------------------------------------------------------ threads
    def _io_loop(self) -> None:
        assert self.receiver is not None
        metrics = self.service.stats
        while not self._io_stop.is_set():
            try:
                if self._stop.is_set():  # stopping: receive nothing new, keep sending the workers' replies
                    self._flush_outbox()
                    time.sleep(POLL_MS / 1000)
                    continue
                message = self.receiver.recv(timeout_ms=POLL_MS)
                if message is None:
                    self._count_rejections()
                else:
                    self._dispatch(self.receiver.last_peer or b"", message, self.receiver.last_user_id)
                self._flush_outbox()
            except Exception as exc:  # never let one bad moment kill the link
                metrics.inc("ingest_loop_errors")
                log_event(
                    log,
                    "ingest_loop_error",
                    level=logging.ERROR,
                    detail=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(limit=8),
                )
                time.sleep(0.05)
        self._flush_outbox()

    def _count_rejections(self) -> None:
        assert self.receiver is not None
        for reason, count in self.receiver.rejected.items():
            new = count - self._seen_rejections[reason]
            if new > 0:
                self._seen_rejections[reason] = count
                self.service.stats.inc(f"ingest_rejected_{reason}", new)
                error = self.receiver.last_error
                log_event(
                    log,
                    "message_rejected",
                    level=logging.WARNING,
                    reason=reason,
                    count=new,
                    detail=error.detail[:200] if error else None,
                )

    def _dispatch(self, peer: bytes, message: Message, edge: str | None = None) -> None:
        header = message.header
        header.stamp("cloud_received", now_ms())
        metrics = self.service.stats
        refused = key_bindings.refusal(self.keys_watch.current() if self.keys_watch else None, edge, header)
        if refused is not None:
            self._refuse(peer, message, edge, *refused)
            return
        if header.type is MessageType.FACE_CROP:
            self._camera(message, "crops")
            with self._in_flight_lock:
                peers = self._in_flight.get(header.msg_id)
                if peers is not None:
                    metrics.inc("crops_duplicate_in_flight")
                    if peer not in peers:
                        peers.append(peer)  # answered too when the first copy is done
                    return
                self._in_flight[header.msg_id] = [peer]
            try:
                self._work.put(message, timeout=0.2)
            except queue.Full:
                self._answer(message, self.service.reject_crop(message, "overloaded", "work queue full"))
        elif header.type is MessageType.END_OF_STREAM:
            self._camera(message, "end_of_stream")
            self.service.note_end_of_stream(header)
        elif header.type is MessageType.HEARTBEAT:
            self._camera(message, "heartbeats")
            metrics.inc("heartbeats")
        else:
            metrics.inc(f"ingest_unexpected_{header.type.value}")
            log_event(
                log,
                "unexpected_message",
                level=logging.WARNING,
                trace_id=header.trace_id,
                type=header.type.value,
                camera_id=header.camera_id,
            )

    def _refuse(self, peer: bytes, message: Message, edge: str | None, reason: str, detail: str) -> None:
        """A message the sending edge's key may not send: a crop gets a permanent ``error`` RESULT
        (nothing recorded), anything else is counted and dropped."""
        key_bindings.log_refusal(log, edge, message.header, reason, detail)
        if message.header.type is MessageType.FACE_CROP:
            self._outbox.put((peer, self.service.reject_crop(message, reason, detail)))
        else:
            self.service.stats.inc(f"ingest_refused_{reason}")

    def _flush_outbox(self) -> None:
        assert self.receiver is not None
        while True:
            try:
                peer, reply = self._outbox.get_nowait()
            except queue.Empty:
                return
            try:
                delivered = self.receiver.reply(peer, reply)
            except Exception as exc:  # cannot be encoded (ProtocolError or a bug): drop this one, send the rest
                self.service.stats.inc("results_unencodable")
                log_event(
                    log,
                    "result_unencodable",
                    level=logging.ERROR,
                    trace_id=reply.header.trace_id,
                    ack_of=reply.header.meta.get("ack_of"),
                    detail=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
                continue
            if delivered:
                self.service.stats.inc("results_sent")
            else:
                self.service.stats.inc("results_undeliverable")
                log_event(
                    log,
                    "result_undeliverable",
                    level=logging.WARNING,
                    trace_id=reply.header.trace_id,
                    ack_of=reply.header.meta.get("ack_of"),
                )

    def _worker(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._work.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                continue
            message = item
            with self._busy_lock:
                self._busy += 1
            answered = False
            try:
                self._answer(message, self.service.process_crop(message))
                answered = True
            except Exception as exc:  # process_crop should never raise; be safe anyway
                self.service.stats.inc("ingest_worker_errors")
                log_event(
                    log,
                    "ingest_worker_error",
                    level=logging.ERROR,
                    trace_id=message.header.trace_id,
                    detail=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(limit=8),
                )
                try:  # the edge still gets an answer for this crop: an error, never silence
                    self._answer(message, self.service.reject_crop(message, "internal", type(exc).__name__))
                    answered = True
                except Exception:
                    pass
            finally:
                if not answered:
                    self._answer(message, None)
                with self._busy_lock:
                    self._busy -= 1
                self.service.stats.set_gauge("ingest_queue_depth", self._work.qsize())

    def _answer(self, crop: Message, reply: Message | None) -> None:
        """The crop is done: queue ``reply`` for every connection that sent a copy of it."""
        with self._in_flight_lock:
            peers = self._in_flight.pop(crop.header.msg_id, [])
        if reply is not None:
            for peer in peers:
                self._outbox.put((peer, reply))

    def _housekeeping(self) -> None:
        while True:
            try:
                self.service.purge_unknown_faces()
                self.service.purge_crops()
            except Exception as exc:
                log_event(log, "purge_failed", level=logging.ERROR, detail=str(exc)[:300])
            if self._stop.wait(HOUSEKEEPING_INTERVAL_S):
                return


def _messages(entry: dict[str, Any]) -> float:
    """Messages a camera sent (how the busiest cameras are picked for the metrics)."""
    return float(entry.get("crops", 0) + entry.get("heartbeats", 0) + entry.get("end_of_stream", 0))


def main(argv: list[str] | None = None) -> int:
    """Run only the ingest (no HTTP) until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m cloud.ingest", description="Rollcall cloud ingest (ZeroMQ) only.")
    parser.add_argument("--bind", help="override ROLLCALL_CLOUD_ZMQ_BIND")
    args = parser.parse_args(argv)
    from common.settings_base import ConfigError, load_settings

    from .bootstrap import build_service

    try:
        common = load_settings(CommonSettings)
        settings = load_settings(CloudSettings)
    except ConfigError as exc:
        print(exc)
        return 2
    logger = setup_logging("cloud", common)
    service = build_service(settings)
    try:
        ingest = IngestServer(service, settings, bind=args.bind).start()
    except ConfigError as exc:  # CurveZMQ keys missing: the message says how to create them
        print(exc)
        return 2
    reporter = PeriodicReporter(
        service.stats, logger, common.metrics_interval_s, extra=lambda: {"ingest": ingest.stats()}
    ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    ingest.stop()
    reporter.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
