"""Rollcall wire protocol: the one definition every tier speaks.

A message is a ZeroMQ multipart message::

    [ header (UTF-8 JSON object) , payload 0 , payload 1 , ... ]

The header is small JSON; payloads are binary (JPEG images). ``encode`` turns a
:class:`Message` into frames and ``decode`` validates frames back into a
:class:`Message`. Every way a message can be malformed raises
:class:`ProtocolError` with a short machine-readable ``reason`` so receivers can
count drops by reason and never crash.

Header fields (all tiers):

============  ==============================================================
``v``         protocol version (int); a peer with another version is rejected
``type``      one of :class:`MessageType`
``msg_id``    unique id of this message (idempotency key downstream)
``camera_id`` camera that produced the frame
``classroom_id`` classroom the camera belongs to
``trace_id``  follows one captured frame from camera to attendance record
``seq``       per-camera sequence number (int >= 0)
``ts``        map hop name -> epoch milliseconds (``captured``, ``sent``, ...)
``image``     ``{"width", "height", "encoding", "bytes"}`` of payload 0, or null
``meta``      type-specific fields (face crop boxes, results, ...)
============  ==============================================================

Whatever ``decode`` accepts can be stamped by every later hop, stored and sent on: a header is
valid Unicode (no lone surrogate escapes), nests at most ``MAX_DEPTH`` levels, has integers below
2**63 in ``seq`` and ``ts`` and at most ``MAX_HOPS - len(HOPS)`` hops of its own; types without an
image carry no payload.

Ids (``msg_id``, ``camera_id``, ``classroom_id``, ``trace_id``) follow the wire id rule of
:mod:`common.rules`: non-empty strings of at most 128 characters. The cloud accepts only
classroom ids that its API can address (``common.rules.ID_PATTERN``) and refuses other crops.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .rules import WIRE_ID_MAX_CHARS, RuleViolation, check_wire_id

PROTOCOL_VERSION = 1
#: Largest integer accepted in ``seq`` and ``ts`` (fits SQLite / int64 columns).
MAX_WIRE_INT = 2**63 - 1

#: Hop names used in ``Header.ts``, in pipeline order. Other names are allowed.
HOPS: tuple[str, ...] = (
    "captured",  # IoT: frame grabbed from the source
    "sent",  # IoT: handed to ZeroMQ
    "edge_received",  # edge: pulled off the socket
    "detect_start",  # edge: worker took the frame
    "detect_end",  # edge: person + face detection done
    "edge_queued",  # edge: crop chosen by the crop policy, written to the outbox (a held crop: later)
    "edge_sent",  # edge: face crop handed to ZeroMQ
    "cloud_received",  # cloud: pulled off the socket
    "recognised",  # cloud: recognition call returned
    "recorded",  # cloud: attendance stored
)
#: Most hops in ``Header.ts``; at most ``MAX_HOPS - len(HOPS)`` of them may have other names
#: (23, as before ``edge_queued`` was added: whatever an older sender could send is still accepted).
MAX_HOPS = 33
#: Deepest nesting of objects / arrays in a header (the header itself is level 1).
MAX_DEPTH = 32


#: Statuses a RESULT (cloud -> edge) carries in ``meta.status``.
RESULT_STATUSES = frozenset({"recognised", "unknown", "no_face", "error"})


class MessageType(str, Enum):
    """Kinds of message on the wire."""

    FRAME = "frame"  # IoT -> edge: one camera frame (JPEG)
    END_OF_STREAM = "eos"  # IoT -> edge: the source ended, no payload
    FACE_CROP = "face_crop"  # edge -> cloud: one face crop (JPEG) + boxes
    RESULT = "result"  # cloud -> edge: recognition outcome for a crop / track
    ACK = "ack"  # any -> any: receipt of ``meta.ack_of`` message id
    HEARTBEAT = "heartbeat"  # liveness, no payload


#: Message types that must carry exactly one image payload.
IMAGE_TYPES = frozenset({MessageType.FRAME, MessageType.FACE_CROP})
#: Image encodings accepted in ``image.encoding``.
ENCODINGS = frozenset({"jpeg", "png"})


class ProtocolError(ValueError):
    """A message that cannot be accepted. ``reason`` is a stable counter key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Size limits enforced by :func:`decode` (and by :func:`encode`)."""

    max_header_bytes: int = 16 * 1024
    max_payload_bytes: int = 8 * 1024 * 1024
    max_payloads: int = 4
    max_id_chars: int = WIRE_ID_MAX_CHARS  # the wire id rule: see common.rules
    max_meta_bytes: int = 8 * 1024


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ImageInfo:
    """Description of an image payload."""

    width: int
    height: int
    encoding: str = "jpeg"
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "encoding": self.encoding, "bytes": self.bytes}


def new_id() -> str:
    """A fresh random id (32 hex chars) for messages and traces."""
    return uuid.uuid4().hex


@dataclass
class Header:
    """The JSON header frame of a message."""

    type: MessageType
    camera_id: str
    classroom_id: str
    trace_id: str = field(default_factory=new_id)
    seq: int = 0
    msg_id: str = field(default_factory=new_id)
    ts: dict[str, int] = field(default_factory=dict)
    image: ImageInfo | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    v: int = PROTOCOL_VERSION

    def stamp(self, hop: str, ms: int) -> None:
        """Record the time (epoch ms) at which this message passed ``hop``."""
        self.ts[hop] = int(ms)

    def derive(self, type: MessageType, **changes: Any) -> Header:
        """A new header for a message caused by this one: same camera, classroom,
        trace and timestamps, new message id."""
        base: dict[str, Any] = dict(
            type=type,
            camera_id=self.camera_id,
            classroom_id=self.classroom_id,
            trace_id=self.trace_id,
            seq=self.seq,
            ts=dict(self.ts),
        )
        base.update(changes)
        return Header(**base)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "type": self.type.value,
            "msg_id": self.msg_id,
            "camera_id": self.camera_id,
            "classroom_id": self.classroom_id,
            "trace_id": self.trace_id,
            "seq": self.seq,
            "ts": self.ts,
            "image": self.image.to_json() if self.image else None,
            "meta": self.meta,
        }


@dataclass
class Message:
    """A header plus zero or more binary payloads."""

    header: Header
    payloads: list[bytes] = field(default_factory=list)

    @property
    def image(self) -> bytes | None:
        """Payload 0, for message types that carry an image."""
        return self.payloads[0] if self.payloads else None


def make_image_message(
    type: MessageType,
    jpeg: bytes,
    width: int,
    height: int,
    camera_id: str,
    classroom_id: str,
    **header_fields: Any,
) -> Message:
    """Build a FRAME or FACE_CROP message around one encoded image."""
    info = ImageInfo(width=width, height=height, encoding="jpeg", bytes=len(jpeg))
    header = Header(type=type, camera_id=camera_id, classroom_id=classroom_id, image=info, **header_fields)
    return Message(header=header, payloads=[jpeg])


def encode(message: Message, limits: Limits = DEFAULT_LIMITS) -> list[bytes]:
    """Serialise ``message`` into ZeroMQ frames. Raises ProtocolError if it
    would not pass :func:`decode` on the other side."""
    frames = [json.dumps(message.header.to_json(), separators=(",", ":")).encode("utf-8")]
    frames.extend(bytes(p) for p in message.payloads)
    _check_frames(frames, limits)
    _parse_header(frames[0], len(frames) - 1, limits, [len(f) for f in frames[1:]])
    return frames


def decode(frames: Sequence[bytes], limits: Limits = DEFAULT_LIMITS) -> Message:
    """Validate ZeroMQ frames and return the Message. Raises ProtocolError."""
    frames = [bytes(f) for f in frames]
    _check_frames(frames, limits)
    payloads = frames[1:]
    header = _parse_header(frames[0], len(payloads), limits, [len(p) for p in payloads])
    return Message(header=header, payloads=payloads)


def _check_frames(frames: Sequence[bytes], limits: Limits) -> None:
    if not frames:
        raise ProtocolError("frame_count", "empty message")
    if len(frames) - 1 > limits.max_payloads:
        raise ProtocolError("frame_count", f"{len(frames) - 1} payloads > {limits.max_payloads}")
    if len(frames[0]) > limits.max_header_bytes:
        raise ProtocolError("oversize_header", f"{len(frames[0])} bytes > {limits.max_header_bytes}")
    for i, payload in enumerate(frames[1:]):
        if len(payload) > limits.max_payload_bytes:
            raise ProtocolError("oversize_payload", f"payload {i}: {len(payload)} bytes > {limits.max_payload_bytes}")


def _parse_header(raw: bytes, n_payloads: int, limits: Limits, sizes: list[int]) -> Header:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, an int of over 4300 digits
        raise ProtocolError("bad_json", f"header is not UTF-8 JSON ({exc.__class__.__name__})") from None
    except RecursionError:  # a few kB of "[[[[..." must not take the receiver thread down
        raise ProtocolError("bad_json", "header JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_json", "header is not a JSON object")
    if _nested_deeper_than(obj, MAX_DEPTH):  # else acceptance would depend on the caller's stack depth
        raise ProtocolError("bad_json", f"header JSON nested deeper than {MAX_DEPTH} levels")
    if b"\\u" in raw and not _is_unicode(obj):  # a "\\ud800" escape decodes to a lone surrogate
        raise ProtocolError("bad_json", "header has a lone surrogate escape: not Unicode text")

    version = obj.get("v")
    if not _is_int(version) or version != PROTOCOL_VERSION:
        raise ProtocolError("version", f"peer speaks protocol v{version!r}, this side speaks v{PROTOCOL_VERSION}")

    type_name = _require(obj, "type", str)
    try:
        mtype = MessageType(type_name)
    except ValueError:
        raise ProtocolError("bad_field", f"unknown message type {type_name[:32]!r}") from None

    ids = {name: _require_id(obj, name, limits) for name in ("msg_id", "camera_id", "classroom_id", "trace_id")}
    seq = _require(obj, "seq", int)
    if not 0 <= seq <= MAX_WIRE_INT:
        raise ProtocolError("bad_field", "seq must be in [0, 2**63)")

    ts = _require(obj, "ts", dict)
    # Room is kept for every pipeline hop: whatever is accepted here can still be stamped by the
    # tiers downstream (and derived from) and encoded again.
    foreign = sum(1 for hop in ts if hop not in HOPS)
    if len(ts) > MAX_HOPS or foreign > MAX_HOPS - len(HOPS):
        raise ProtocolError("oversize_field", f"ts has more than {MAX_HOPS - len(HOPS)} hops not in HOPS")
    for hop, value in ts.items():
        if len(hop) > 32 or not _is_int(value) or not 0 <= value <= MAX_WIRE_INT:
            raise ProtocolError("bad_field", f"ts[{hop[:32]!r}] must be a non-negative int of ms below 2**63")

    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ProtocolError("bad_field", "meta must be an object")
    if len(json.dumps(meta)) > limits.max_meta_bytes:
        raise ProtocolError("oversize_field", f"meta larger than {limits.max_meta_bytes} bytes")

    image = _parse_image(obj.get("image"), mtype, n_payloads, sizes)
    return Header(type=mtype, seq=seq, ts=dict(ts), image=image, meta=meta, v=version, **ids)


def _parse_image(raw: Any, mtype: MessageType, n_payloads: int, sizes: list[int]) -> ImageInfo | None:
    if mtype in IMAGE_TYPES:
        if n_payloads != 1:
            raise ProtocolError("frame_count", f"{mtype.value} needs exactly 1 payload, got {n_payloads}")
        if not isinstance(raw, dict):
            raise ProtocolError("missing_field", f"{mtype.value} needs an image description")
        width, height = _require(raw, "width", int), _require(raw, "height", int)
        encoding, nbytes = _require(raw, "encoding", str), _require(raw, "bytes", int)
        if not (0 < width <= 16384 and 0 < height <= 16384):
            raise ProtocolError("bad_field", f"image size {width}x{height} out of range")
        if encoding not in ENCODINGS:
            raise ProtocolError("bad_field", f"unsupported image encoding {encoding!r}")
        if nbytes != sizes[0] or sizes[0] == 0:
            raise ProtocolError("bad_field", f"image.bytes={nbytes} but payload has {sizes[0]} bytes")
        return ImageInfo(width=width, height=height, encoding=encoding, bytes=nbytes)
    if raw is not None:
        raise ProtocolError("bad_field", f"{mtype.value} carries no image")
    if n_payloads:  # else 4 x 8 MB could ride on an END_OF_STREAM, which the edge never drops
        raise ProtocolError("frame_count", f"{mtype.value} carries no payload, got {n_payloads}")
    return None


def _nested_deeper_than(obj: Any, limit: int) -> bool:
    """Whether ``obj`` has containers (objects, arrays) nested more than ``limit`` deep."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _is_unicode(obj: Any) -> bool:
    """Whether every string in ``obj`` can be written as UTF-8 (SQLite, logs, other peers): JSON
    lets a header spell half a surrogate pair (``"\\ud800"``), which Python keeps as a lone surrogate."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(obj: dict[str, Any], name: str, kind: type) -> Any:
    if name not in obj:
        raise ProtocolError("missing_field", f"header has no {name!r}")
    value = obj[name]
    ok = _is_int(value) if kind is int else isinstance(value, kind)
    if kind is float and _is_int(value):
        ok = True
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise ProtocolError("bad_field", f"{name!r} must be {kind.__name__}")
    return value


def _require_id(obj: dict[str, Any], name: str, limits: Limits) -> str:
    """An id field by the wire rule (:func:`common.rules.check_wire_id`): non-empty, at most
    ``limits.max_id_chars``. Deliberately wider than the cloud's id rule (why: common.rules)."""
    value = _require(obj, name, str)
    try:
        return check_wire_id(name, value, limits.max_id_chars)
    except RuleViolation as exc:
        raise ProtocolError("oversize_field" if exc.kind == "too_long" else "bad_field", str(exc)) from None
