"""The edge's cloud link: the only user of the DEALER socket. Crops go out from the outbox
(:mod:`edge.outbox`: first attempts, resends after a timeout), RESULTs come in and are applied
to the outbox (forget the crop, or keep it for a retryable error) and to the tracks (a
``recognised`` track sends nothing more). END_OF_STREAM messages are forwarded, retried for a
while when the cloud is unreachable.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import zmq

from common.clock import now_ms
from common.logs import log_event
from common.metrics import Metrics
from common.protocol import Message, MessageType, ProtocolError
from common.transport import Sender

from .outbox import Held, Outbox
from .pipeline import Outgoing
from .results import parse_result
from .tracker import TrackRegistry

#: How often the outbox is asked for crops due again (resends) when nothing new came (ms).
RECHECK_MS = 100
#: Crops sent per pass (then RESULTs are read again).
SEND_BATCH = 32
#: How long an END_OF_STREAM is retried while the cloud is unreachable (s).
EOS_RETRY_S = 30.0
#: How often crops past the outbox's age limit are dropped (s).
EXPIRE_INTERVAL_S = 60.0


class Uplink:
    """Crops out of the outbox, RESULTs in. Workers call :meth:`queue_crop` / :meth:`queue_eos`;
    one thread runs :meth:`run` (ZeroMQ sockets are not thread-safe)."""

    def __init__(
        self,
        sender: Sender,
        outbox: Outbox,
        tracks: TrackRegistry,
        metrics: Metrics,
        logger: logging.Logger,
        result_wait_ms: int = 10,
    ) -> None:
        self.sender = sender
        self.outbox = outbox
        self.tracks = tracks
        self.metrics = metrics
        self.log = logger
        self.result_wait_ms = result_wait_ms
        self._queued = threading.Event()  # wakes the uplink thread: something new is due
        self._eos_out: queue.SimpleQueue[tuple[float, Message]] = queue.SimpleQueue()
        self._eos_retry: list[tuple[float, Message]] = []
        self._next_due_ms = 0

    # --- called by workers -------------------------------------------------------
    def queue_crop(self, out: Outgoing) -> None:
        """Write a crop to the outbox (sent by the uplink thread, kept until answered)."""
        header = out.message.header
        queued = now_ms()
        # A crop the crop policy held back (the best one while the track waited for a RESULT)
        # goes out frames later: ``edge_queued`` - ``detect_end`` is that hold, not transport.
        header.stamp("edge_queued", queued)
        dropped = self.outbox.add(out.message, out.track.track_id, queued)
        self._queued.set()
        self._count_dropped(dropped, "full")
        log_event(
            self.log,
            "crop_queued",
            trace_id=header.trace_id,
            camera_id=out.camera_id,
            classroom_id=header.classroom_id,
            msg_id=header.msg_id,
            track_id=out.track.track_id,
            crop_n=out.track.crops_sent,
            purpose="evidence" if out.evidence else "recognition",
            face_score=header.meta.get("face_score"),
            quality=header.meta.get("quality"),
            held_ms=queued - header.ts["detect_end"] if "detect_end" in header.ts else None,
            ts=header.ts,
        )

    def queue_eos(self, message: Message) -> None:
        """Forward an END_OF_STREAM (retried for ``EOS_RETRY_S`` while the cloud is unreachable)."""
        self._eos_out.put((time.monotonic() + EOS_RETRY_S, message))
        self._queued.set()

    # --- the uplink thread ---------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """The uplink thread's body, until ``stop`` is set."""
        next_expiry = time.monotonic() + EXPIRE_INTERVAL_S
        while not stop.is_set():
            try:
                self._read_results(self.result_wait_ms)
                self._send_eos()
                self.send_due()
                if time.monotonic() >= next_expiry:
                    next_expiry = time.monotonic() + EXPIRE_INTERVAL_S
                    self._count_dropped(self.outbox.expire(now_ms()), "expired")
            except Exception:  # deliberately broad: the link must outlive one bad moment
                self.metrics.inc("uplink_errors")
                self.log.exception("uplink error", extra={"event": "uplink_error"})

    def _read_results(self, timeout_ms: int) -> bool:
        """Apply the RESULTs waiting on the link (waits up to ``timeout_ms`` for the first)."""
        got = False
        for _ in range(64):
            message = self.sender.recv(timeout_ms=0 if got else timeout_ms)
            if message is None:
                break
            got = True
            try:
                self.apply_result(message)
            except Exception:  # a bad RESULT must not stop reading the others
                self.metrics.inc("result_errors")
                self.log.exception("result error", extra={"event": "result_error"})
        return got

    def send_due(self) -> None:
        """One pass of the uplink thread: send the outbox's due crops (first attempts and resends)
        until the link is busy."""
        now = now_ms()
        if not self._queued.is_set() and now < self._next_due_ms:
            return
        self._queued.clear()
        batch = self.outbox.due(now, SEND_BATCH)
        for held in batch:
            try:
                message = held.message()
            except ProtocolError as exc:  # a row no longer readable (e.g. written by another version)
                self.outbox.ack(held.msg_id)
                self._count_dropped([held], "unreadable", detail=exc.reason)
                continue
            message.header.stamp("edge_sent", now_ms())
            try:
                accepted = self.sender.send(message)
            except zmq.ZMQError:
                raise  # the socket itself: the run loop counts it, the crop stays for a later pass
            except Exception as exc:  # cannot be encoded (ProtocolError or a bug): never sendable, drop it
                self.outbox.ack(held.msg_id)
                self._count_dropped(
                    [held],
                    "unencodable",
                    detail=f"{type(exc).__name__}: {str(exc)[:200]}",
                    trace_id=message.header.trace_id,
                )
                continue
            if not accepted:
                self.metrics.inc("uplink_busy")  # cloud absent or its queue full: stays in the outbox
                self._next_due_ms = now + RECHECK_MS
                return
            attempt = self.outbox.sent(held.msg_id, now)
            self.metrics.inc("crops_transmitted" if attempt <= 1 else "crops_resent")
            self.metrics.inc("crop_bytes_transmitted", len(message.image or b""))
            log_event(
                self.log,
                "crop_sent" if attempt <= 1 else "crop_resent",
                trace_id=message.header.trace_id,
                camera_id=held.camera_id,
                msg_id=held.msg_id,
                track_id=held.track_id,
                attempt=attempt,
                ts=message.header.ts,
            )
        self._next_due_ms = now + RECHECK_MS
        if len(batch) == SEND_BATCH:
            self._queued.set()  # a full batch: more may be due, no wait for the next pass

    def _send_eos(self) -> None:
        """Forward END_OF_STREAM messages; while the cloud is unreachable, retry for a while."""
        while True:
            try:
                self._eos_retry.append(self._eos_out.get_nowait())
            except queue.Empty:
                break
        waiting, self._eos_retry = self._eos_retry, []
        for deadline, message in waiting:
            message.header.stamp("edge_sent", now_ms())
            try:
                accepted = self.sender.send(message)
            except zmq.ZMQError:
                accepted = False  # the socket itself: retried like a busy link
            except Exception as exc:  # cannot be encoded: dropped and counted, the others still go
                self.metrics.inc("eos_unencodable")
                log_event(
                    self.log,
                    "end_of_stream_unencodable",
                    level=logging.ERROR,
                    trace_id=message.header.trace_id,
                    camera_id=message.header.camera_id,
                    detail=f"{type(exc).__name__}: {str(exc)[:200]}",
                )
                continue
            if accepted:
                self.metrics.inc("eos_forwarded")
            elif time.monotonic() < deadline:
                self._eos_retry.append((deadline, message))
            else:
                self.metrics.inc("eos_dropped_cloud_unreachable")
                log_event(
                    self.log,
                    "end_of_stream_dropped",
                    level=logging.WARNING,
                    trace_id=message.header.trace_id,
                    camera_id=message.header.camera_id,
                )

    def apply_result(self, message: Message) -> None:
        """Apply one message from the cloud. A RESULT answers a crop: the outbox forgets it (or,
        for a retryable error, keeps it for a later attempt) and its track learns the verdict
        (``recognised`` stops the track's crops)."""
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
        if result.status == "error" and header.meta.get("retry") is True and result.ack_of is not None:
            if self.outbox.retry_later(result.ack_of, now_ms()):
                # Cloud overloaded, Rekognition throttled or down: the crop waits, its track too.
                self.metrics.inc("results_retry_later")
                log_event(
                    self.log,
                    "crop_retry_later",
                    trace_id=header.trace_id,
                    camera_id=header.camera_id,
                    msg_id=result.ack_of,
                    track_id=result.track_id,
                    reason=result.reason,
                )
                return
        first_answer = result.ack_of is None or self.outbox.ack(result.ack_of)
        if not first_answer and result.status != "recognised":
            self.metrics.inc("results_duplicate")  # a resent crop answered twice: already applied
            return
        known = self.tracks.apply_result(header.camera_id, result.track_id, result.status, result.reason, result.ack_of)
        log_event(
            self.log,
            "result_received",
            trace_id=header.trace_id,
            camera_id=header.camera_id,
            msg_id=result.ack_of,
            track_id=result.track_id,
            status=result.status,
            reason=result.reason,
            student_id=header.meta.get("student_id"),
            known_track=known,
            duplicate=header.meta.get("duplicate") is True,
            ts=header.ts,
        )

    def _count_dropped(
        self, dropped: list[Held], reason: str, detail: str | None = None, trace_id: str | None = None
    ) -> None:
        """Count (``outbox_dropped_<reason>``) and log crops the outbox gave up on."""
        for held in dropped:
            self.metrics.inc(f"outbox_dropped_{reason}")
            log_event(
                self.log,
                "crop_dropped",
                level=logging.WARNING,
                trace_id=trace_id,
                msg_id=held.msg_id,
                camera_id=held.camera_id,
                track_id=held.track_id,
                attempts=held.attempts,
                reason=reason,
                detail=detail,
            )
