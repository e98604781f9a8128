"""Hostile input for the edge's frame socket (PULL) and the cloud's crop socket (ROUTER).

Seeded, deterministic generators of malformed and adversarial ZeroMQ messages: random bytes,
wrong frame counts, huge or deeply nested JSON headers, NaN/Infinity, wrong protocol versions,
unknown types, size claims that lie, JPEGs whose start-of-frame announces 60000x60000 pixels,
truncated and corrupt JPEGs, END_OF_STREAM floods, bad camera ids, wrong hop maps, and so on.

Every generator is ``gen(rng, kit)`` and yields, forever, one message at a time as the list of
frames that ``socket.send_multipart`` takes. A DEALER sends the same frames as a PUSH: the cloud's
ROUTER prepends the peer identity itself. :func:`hostile_messages` interleaves the generators by
weight from one seed, so the same seed gives the same messages, byte for byte.

:func:`expected_outcome` runs the receivers' own decoder (:func:`common.protocol.decode`) on a
message and says how the receiver must count it: ``rejected:<reason>`` (``Receiver.rejected``) or
``accepted:<type>``; what happens to an accepted message after that (a corrupt image, a dropped
frame, a camera that is not allowed) is counted by the tier (see tests/faults/test_hostile_input.py).
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from common.images import encode_jpeg, image_dimensions
from common.protocol import DEFAULT_LIMITS, HOPS, MAX_HOPS, MessageType, ProtocolError, decode

Frames = list[bytes]
Generator = Callable[[random.Random, "Kit"], Iterator[Frames]]

#: A JPEG announcing HUGE_SIDE x HUGE_SIDE is refused before decoding (over every tier's pixel cap)...
HUGE_SIDE = 60000
#: ...and so is BIG_SIDE x BIG_SIDE since issue 13 (it was inside the old 40 MP guard and decoded into a
#: 108 MB array from a few hundred bytes); it also differs from the size the message header claims.
BIG_SIDE = 6000
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MB = 1024 * 1024


@dataclass(frozen=True)
class Kit:
    """What a generator builds messages from.

    ``image_type`` is the type the target expects (FRAME for the edge, FACE_CROP for the cloud);
    ``camera_ids`` / ``classroom_id`` are the well-formed ids used where a generator breaks
    something else; ``jpeg`` is a real image (``width`` x ``height``) to truncate, corrupt or
    re-announce; ``open_classroom_id`` (cloud) is a classroom with an open session, for the few
    messages meant to reach recognition.
    """

    target: str
    image_type: MessageType
    jpeg: bytes
    width: int
    height: int
    camera_ids: tuple[str, ...] = ("cam-hostile-1", "cam-hostile-2", "cam-hostile-3")
    classroom_id: str = "room-hostile"
    open_classroom_id: str | None = None
    extras: dict[str, bytes] = field(default_factory=dict)


def synthetic_jpeg(width: int = 160, height: int = 120, seed: int = 0) -> bytes:
    """A small, deterministic, decodable JPEG (gradient plus blocks), when no real image is given."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    image = np.concatenate([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2).astype(np.uint8)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 8)), int(rng.integers(0, height - 8))
        image[y0 : y0 + 8, x0 : x0 + 8] = rng.integers(0, 255, 3, dtype=np.uint8)
    return encode_jpeg(np.ascontiguousarray(image), 85)


def make_kit(
    target: str,
    jpeg: bytes | None = None,
    camera_ids: tuple[str, ...] | None = None,
    classroom_id: str = "room-hostile",
    open_classroom_id: str | None = None,
) -> Kit:
    """The kit for ``target`` (``"edge"`` or ``"cloud"``) around ``jpeg`` (default: synthetic)."""
    if target not in ("edge", "cloud"):
        raise ValueError(f"target must be edge or cloud, not {target!r}")
    jpeg = jpeg or synthetic_jpeg()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("the kit's jpeg does not decode")
    height, width = image.shape[:2]
    extras = {
        "tiny": encode_jpeg(np.full((1, 1, 3), 127, np.uint8)),
        "line": encode_jpeg(np.full((1, 4000, 3), 90, np.uint8)),
        "column": encode_jpeg(np.full((4000, 2, 3), 160, np.uint8)),
        "grey": cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))[1].tobytes(),
        "progressive": cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(),
        "png": cv2.imencode(".png", image)[1].tobytes(),
    }
    return Kit(
        target=target,
        image_type=MessageType.FRAME if target == "edge" else MessageType.FACE_CROP,
        jpeg=jpeg,
        width=width,
        height=height,
        camera_ids=camera_ids or Kit.camera_ids,
        classroom_id=classroom_id,
        open_classroom_id=open_classroom_id,
        extras=extras,
    )


# --------------------------------------------------------------------------- building blocks
def _hex_id(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def header(rng: random.Random, kit: Kit, mtype: MessageType | str | None = None, payload: bytes | None = None) -> dict:
    """A well-formed header dict (as a peer would send it) that generators then break."""
    mtype = kit.image_type if mtype is None else mtype
    type_name = mtype.value if isinstance(mtype, MessageType) else mtype
    now = 1_700_000_000_000 + rng.randrange(10**9)
    h: dict[str, Any] = {
        "v": 1,
        "type": type_name,
        "msg_id": _hex_id(rng),
        "camera_id": rng.choice(kit.camera_ids),
        "classroom_id": kit.classroom_id,
        "trace_id": _hex_id(rng),
        "seq": rng.randrange(10**6),
        "ts": {"captured": now, "sent": now + 3},
        "image": None,
        "meta": {},
    }
    if payload is not None:
        h["image"] = {"width": kit.width, "height": kit.height, "encoding": "jpeg", "bytes": len(payload)}
    if type_name == MessageType.FACE_CROP.value:
        h["ts"]["edge_sent"] = now + 40
        h["meta"] = {"track_id": rng.randrange(1, 1000), "face_score": 0.9, "purpose": "recognition"}
    elif type_name == MessageType.FRAME.value:
        h["meta"] = {"source_ms": rng.randrange(10**7)}
    return h


def dump(h: Any) -> bytes:
    """JSON bytes as Python writes them (NaN and Infinity included, like a sloppy peer)."""
    return json.dumps(h, separators=(",", ":")).encode("utf-8")


def image_message(rng: random.Random, kit: Kit, payload: bytes, **changes: Any) -> Frames:
    """A header announcing ``payload`` (with ``changes`` applied to the header), then the payload."""
    h = header(rng, kit, payload=payload)
    h.update(changes)
    return [dump(h), payload]


def _sof_offset(jpeg: bytes) -> int | None:
    pos = 2
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != 0xFF:
            return None
        marker = jpeg[pos + 1]
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            return pos
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its start-of-frame rewritten to announce ``width`` x ``height`` (data unchanged)."""
    pos = _sof_offset(jpeg)
    if pos is None:
        raise ValueError("no start-of-frame marker in the jpeg")
    out = bytearray(jpeg)
    out[pos + 5 : pos + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def png_with_size(width: int, height: int, rng: random.Random) -> bytes:
    """A PNG whose IHDR announces ``width`` x ``height`` and whose IDAT is a few random bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(rng.randbytes(rng.randrange(8, 200)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --------------------------------------------------------------------------- generators
def gen_random_frames(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """1 to 7 frames of random bytes (often empty or a lone '{')."""
    while True:
        n = rng.randrange(1, 8)
        frames = [rng.randbytes(rng.choice((0, 1, 7, 64, 512, rng.randrange(2048)))) for _ in range(n)]
        if rng.random() < 0.3:
            frames[0] = b"{" + frames[0]
        yield frames


def gen_not_json(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Headers that are not a UTF-8 JSON object: empty, scalars, arrays, UTF-16, BOM, trailing junk,
    truncated, invalid UTF-8 (overlong encodings), Python reprs, NUL bytes, integers of 5000 digits."""
    payload = kit.jpeg
    while True:
        good = dump(header(rng, kit, payload=payload))
        variants = [
            b"",
            b"{",
            b"null",
            b"[]",
            b"[1,2,3]",
            b"42",
            b'"frame"',
            b"true",
            repr(header(rng, kit, payload=payload)).encode(),
            good.decode().encode("utf-16"),
            b"\xef\xbb\xbf" + good,
            good + b"}",
            good + b" trailing",
            good[: rng.randrange(1, len(good))],
            b"\xc0\xaf\xc0\xaf",
            good.replace(b'"v":1', b'"v":1,"x":"\xed\xa0\x80"'),
            b"\x00" * rng.randrange(1, 64),
            good.replace(b'"seq":', b'"seq":' + b"9" * 5000 + b',"x":'),
            b'{"v":1,"meta":{"n":' + b"7" * 4400 + b"}}",
        ]
        yield [rng.choice(variants), payload]


def gen_nested_json(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Deeply nested JSON as the header, and nested structures inside meta / ts / image."""
    while True:
        depth = rng.randrange(900, 8000)
        opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
        choice = rng.randrange(5)
        if choice == 0:
            yield [opener * depth + b"1" + closer * depth, kit.jpeg]
        elif choice == 1:  # nested inside meta: within the header limit, sometimes within the parser's depth
            d = rng.randrange(10, 1200)
            h = header(rng, kit, payload=kit.jpeg)
            raw = dump(h).replace(b'"meta":{', b'"meta":{"deep":' + b"[" * d + b"]" * d + b",", 1)
            yield [raw, kit.jpeg]
        elif choice == 2:
            h = header(rng, kit, payload=kit.jpeg)
            h["ts"] = {"captured": [[[[1]]]]}
            yield [dump(h), kit.jpeg]
        elif choice == 3:
            h = header(rng, kit, payload=kit.jpeg)
            h["image"] = {"width": {"w": kit.width}, "height": [kit.height], "encoding": "jpeg", "bytes": len(kit.jpeg)}
            yield [dump(h), kit.jpeg]
        else:
            h = header(rng, kit, payload=kit.jpeg)
            node: Any = {}
            for _ in range(rng.randrange(50, 400)):
                node = {"n": node}
            h["meta"] = node
            yield [dump(h), kit.jpeg]


def gen_huge_header(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Headers over 16 kB, meta over 8 kB, long ids, many hops, and headers exactly at the limit."""
    limit = DEFAULT_LIMITS.max_header_bytes
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        choice = rng.randrange(6)
        if choice == 0:
            h["meta"] = {"junk": "x" * rng.randrange(limit, 4 * limit)}
        elif choice == 1:
            h["meta"] = {"junk": "y" * rng.randrange(DEFAULT_LIMITS.max_meta_bytes, limit - 1024)}
        elif choice == 2:
            h[rng.choice(("msg_id", "camera_id", "classroom_id", "trace_id"))] = "z" * rng.randrange(129, 8000)
        elif choice == 3:
            h["ts"] = {f"hop{i}": 1_700_000_000_000 + i for i in range(rng.randrange(33, 400))}
        elif choice == 4:  # exactly at, or one byte over, the header limit (whitespace padding)
            raw = dump(h)
            size = limit + rng.choice((0, 1))
            yield [raw[:-1] + b" " * (size - len(raw)) + b"}", kit.jpeg]
            continue
        else:
            h["unknown_field"] = ["w" * 100] * rng.randrange(1, 400)
        yield [dump(h), kit.jpeg]


def gen_non_finite(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """NaN, Infinity and -Infinity where numbers belong (and in meta, which is free-form)."""
    values = (float("nan"), float("inf"), float("-inf"), 1e400, 1.5)
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        value = rng.choice(values)
        where = rng.randrange(7)
        if where == 0:
            h["seq"] = value
        elif where == 1:
            h["ts"]["captured"] = value
        elif where == 2:
            h["image"]["width"] = value
        elif where == 3:
            h["image"]["bytes"] = value
        elif where == 4:
            h["v"] = value
        elif where == 5:
            h["meta"] = {"source_ms": value, "track_id": value, "camera_ms": value, "face_score": value}
        else:
            h["image"]["height"] = value
        yield [dump(h), kit.jpeg]


def gen_bad_version(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Other protocol versions, and versions of the wrong type."""
    versions: tuple[Any, ...] = (0, 2, -1, 99, 2**64, "1", 1.0, 1.5, True, False, None, [], {}, [1])
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        if rng.random() < 0.1:
            del h["v"]
        else:
            h["v"] = rng.choice(versions)
        yield [dump(h), kit.jpeg]


def gen_unknown_type(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Message types that do not exist, or of the wrong JSON type."""
    types: tuple[Any, ...] = (
        "",
        "FRAME",
        "Frame",
        "frame ",
        "selfie",
        "face-crop",
        "eos\u0000",
        "x" * 2000,
        5,
        None,
        [],
    )
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        if rng.random() < 0.1:
            del h["type"]
        else:
            h["type"] = rng.choice(types)
        yield [dump(h), kit.jpeg]


def gen_wrong_type(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Well-formed messages of types this receiver does not expect (a crop to the edge's frame
    socket, a frame to the cloud, RESULTs and ACKs to either)."""
    other_image = MessageType.FACE_CROP if kit.image_type is MessageType.FRAME else MessageType.FRAME
    while True:
        mtype = rng.choice((other_image, MessageType.RESULT, MessageType.ACK))
        if mtype is other_image:
            yield [dump(header(rng, kit, mtype, payload=kit.jpeg)), kit.jpeg]
        else:
            h = header(rng, kit, mtype)
            h["meta"] = {"ack_of": _hex_id(rng), "status": rng.choice(("recognised", "unknown", "??"))}
            yield [dump(h)]


def gen_heartbeat(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Heartbeats, well-formed (counted, nothing else happens)."""
    while True:
        yield [dump(header(rng, kit, MessageType.HEARTBEAT))]


def gen_lying_image_claims(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """``image`` descriptions that lie: more/fewer bytes than the payload, more than the 8 MB
    limit, sizes out of range, unknown encodings, missing or mistyped fields."""
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        image = h["image"]
        choice = rng.randrange(10)
        if choice == 0:
            image["bytes"] = len(kit.jpeg) + rng.randrange(1, 10**6)
        elif choice == 1:
            image["bytes"] = DEFAULT_LIMITS.max_payload_bytes + rng.randrange(1, 10**9)
        elif choice == 2:
            image["bytes"] = rng.choice((0, -1, len(kit.jpeg) - 1))
        elif choice == 3:
            image["width"], image["height"] = rng.choice(
                ((0, 10), (10, 0), (-5, 10), (16385, 10), (HUGE_SIDE, HUGE_SIDE), (2**31, 2**31))
            )
        elif choice == 4:
            image["encoding"] = rng.choice(("gif", "", "JPEG", "webp", 5, None))
        elif choice == 5:
            h["image"] = rng.choice((None, [], "jpeg", 5, {}))
        elif choice == 6:
            del image[rng.choice(("width", "height", "encoding", "bytes"))]
        elif choice == 7:
            image["width"] = True
        elif choice == 8:  # an empty payload announced as empty
            image["bytes"] = 0
            yield [dump(h), b""]
            continue
        else:  # the header announces 60000x60000, the JPEG is small: refused by the header rule
            image["width"] = image["height"] = HUGE_SIDE
        yield [dump(h), kit.jpeg]


def gen_wrong_frame_count(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Image messages with 0 or several payloads, too many frames, payloads on messages that
    carry none (END_OF_STREAM, HEARTBEAT)."""
    while True:
        choice = rng.randrange(4)
        h = header(rng, kit, payload=kit.jpeg)
        if choice == 0:
            yield [dump(h)]
        elif choice == 1:
            yield [dump(h), *([kit.jpeg] * rng.randrange(2, 5))]
        elif choice == 2:
            yield [dump(h), *([b"x"] * rng.randrange(5, 40))]
        else:
            h = header(rng, kit, rng.choice((MessageType.END_OF_STREAM, MessageType.HEARTBEAT)))
            yield [dump(h), *([rng.randbytes(64)] * rng.randrange(1, 5))]


def gen_oversize_payload(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """A payload just over the 8 MB protocol limit (the header tells the truth). Costly: use rarely."""
    while True:
        payload = b"\xff\xd8\xff" + b"\x00" * (DEFAULT_LIMITS.max_payload_bytes + rng.randrange(1, 100_000))
        yield image_message(rng, kit, payload)


def gen_big_payload(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """A 2-4 MB payload starting like a JPEG: within the protocol limit, over the cloud's
    ``max_crop_bytes`` (2 MB) and not a decodable image for the edge."""
    while True:
        size = rng.randrange(2 * _MB + 1, 4 * _MB)
        yield image_message(rng, kit, kit.jpeg[:20] + bytes(size - 20))


def gen_sof_bomb(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Small JPEGs / PNGs whose own header announces huge dimensions (the protocol header states a
    modest size): 60000x60000 (over every decode limit) most of the time."""
    while True:
        if rng.random() < 0.8:
            payload = jpeg_with_size(kit.jpeg, HUGE_SIDE, HUGE_SIDE)
        else:
            payload = png_with_size(HUGE_SIDE, rng.choice((HUGE_SIDE, 40_000)), rng)
        yield image_message(rng, kit, payload)


def gen_decodable_bomb(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """A JPEG of a few hundred bytes announcing 6000x6000 (36 MP, under the old 40 MP limit): it decoded
    into a 108 MB array and cost the edge about 1.7 s of CPU; since issue 13 it is refused before
    decoding (over the edge's 8.3 MP and the cloud's 4 MP caps). Was costly: still used rarely."""
    while True:
        yield image_message(rng, kit, jpeg_with_size(kit.extras["tiny"], BIG_SIDE, BIG_SIDE))


def gen_truncated_jpeg(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """The kit's JPEG cut short (sometimes so short that only the markers remain)."""
    while True:
        cut = rng.choice((rng.randrange(1, 64), rng.randrange(1, len(kit.jpeg))))
        yield image_message(rng, kit, kit.jpeg[:cut])


def gen_corrupt_jpeg(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """The kit's JPEG with bytes overwritten, markers removed, tables zeroed or the scan replaced
    by noise; or a JPEG signature followed by noise."""
    while True:
        data = bytearray(kit.jpeg)
        choice = rng.randrange(5)
        if choice == 0:
            for _ in range(rng.randrange(1, 50)):
                data[rng.randrange(2, len(data))] = rng.randrange(256)
        elif choice == 1:
            start = rng.randrange(2, len(data) - 8)
            del data[start : start + rng.randrange(1, 64)]
        elif choice == 2:
            pos = data.find(b"\xff\xdb")  # DQT
            if pos > 0:
                data[pos + 5 : pos + 69] = bytes(64)
        elif choice == 3:
            pos = data.find(b"\xff\xda")  # SOS: keep the headers, replace the scan
            if pos > 0:
                data = data[: pos + 14] + bytearray(rng.randbytes(len(data) - pos - 14))
        else:
            data = bytearray(b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randrange(16, 4096)))
        yield image_message(rng, kit, bytes(data))


def gen_not_an_image(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Payloads that are no image at all, or other formats / PNGs with broken chunks."""
    while True:
        payload = rng.choice(
            (
                rng.randbytes(rng.randrange(1, 4096)),
                b"GIF89a" + rng.randbytes(100),
                b"BM" + rng.randbytes(100),
                b"PK\x03\x04" + rng.randbytes(100),
                b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randrange(0, 200)),
                b"<html>not a jpeg</html>",
                b"\xff\xd8\xff\xd9",
            )
        )
        yield image_message(rng, kit, payload)


def _truthful(h: dict, payload: bytes) -> dict:
    """``h`` with its ``image`` size set to what ``payload``'s own header says (else the edge and the
    cloud refuse the image as ``size_mismatch`` before it reaches a model)."""
    size = image_dimensions(payload)
    if size is not None:
        h["image"]["width"], h["image"]["height"] = size
    return h


def gen_odd_images(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Real, decodable images of unusual shape or format, described truthfully: 1x1, 4000x1, 2x4000,
    grey, progressive, PNG; and the kit's image announced with a mismatching (in-range) size in the
    header (refused as ``size_mismatch`` since issue 13)."""
    names = ("tiny", "line", "column", "grey", "progressive", "png")
    while True:
        name = rng.choice((*names, "mismatch"))
        if name == "mismatch":
            frames = image_message(rng, kit, kit.jpeg)
            h = json.loads(frames[0])
            h["image"]["width"], h["image"]["height"] = rng.randrange(1, 16385), rng.randrange(1, 16385)
            yield [dump(h), kit.jpeg]
            continue
        payload = kit.extras[name]
        h = _truthful(header(rng, kit, payload=payload), payload)
        h["image"]["encoding"] = "png" if name == "png" else "jpeg"
        yield [dump(h), payload]


def gen_eos_flood(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """END_OF_STREAM messages, mostly for the same few cameras (a flood), some for new ones."""
    while True:
        h = header(rng, kit, MessageType.END_OF_STREAM)
        if rng.random() < 0.05:
            h["camera_id"] = f"cam-eos-{rng.randrange(50)}"
        h["meta"] = {"reason": rng.choice(("end", "error", "x" * 100)), "frames": rng.randrange(10**6)}
        yield [dump(h)]


def gen_bad_ids(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Camera, classroom, message and trace ids that are empty, too long, not strings, or strings
    with control characters, lone surrogates, path traversal, emoji; and well-formed ids of
    cameras nobody configured."""
    bad: tuple[Any, ...] = (
        "",
        "z" * 129,
        5,
        None,
        [],
        {},
        True,
        "../../etc/passwd",
        "cam\u0000one",
        "cam\nnew-line",
        "\ud800",
        "\U0001f600" * 40,
        " ",
        "a" * 128,
        "<script>alert(1)</script>",
        "cam'; DROP TABLE sightings; --",
    )
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        name = rng.choice(("camera_id", "camera_id", "classroom_id", "msg_id", "trace_id"))
        if rng.random() < 0.2:
            h[name] = f"cam-unknown-{rng.randrange(100)}"
        elif rng.random() < 0.05:
            del h[name]
        else:
            h[name] = rng.choice(bad)
        yield [dump(h), kit.jpeg]


def gen_bad_hops(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """``ts`` maps with too many hops, over-long hop names, and values that are negative, floats,
    strings, booleans, null, lists or beyond int64; ``ts`` that is not a map; a bad ``seq``."""
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        choice = rng.randrange(6)
        if choice == 0:
            h["ts"] = {f"h{i}": i for i in range(rng.randrange(33, 100))}
        elif choice == 1:
            h["ts"]["x" * rng.randrange(33, 500)] = 1
        elif choice == 2:
            h["ts"]["captured"] = rng.choice((-1, 1.5, "soon", True, None, [1], 2**63, 10**30, -(2**63)))
        elif choice == 3:
            h["ts"] = rng.choice(([], "now", 5, None))
        elif choice == 4:
            h["seq"] = rng.choice((-1, "7", 7.5, True, None, 2**63, -(10**20)))
        else:  # fine: the most hops with names of our own (the rest is room for the pipeline's)
            h["ts"].update({f"h{i}": i for i in range(MAX_HOPS - len(HOPS))})
        yield [dump(h), kit.jpeg]


def gen_bad_meta(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """``meta`` that is not a map, or whose fields have the wrong types or absurd values
    (track ids, camera times, source times, purposes)."""
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        if rng.random() < 0.3:
            h["meta"] = rng.choice(([], "meta", 5, None, True))
        else:
            h["meta"] = {
                "track_id": rng.choice((-1, 0, 2**70, "7", None, [1], 1.5)),
                "source_ms": rng.choice((-1, 2**70, "x", None, 1.5)),
                "camera_ms": rng.choice((-1, 10**11, 2**70, "x")),
                "purpose": rng.choice(("evidence", "recognition", "", 5, None)),
                "face_box": rng.choice(([], [1, 2], "box", [10**9] * 4)),
                "quality": rng.choice(({}, [], "good")),
            }
        yield [dump(h), kit.jpeg]


def gen_bad_classroom(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Classroom ids that pass the wire rule but not the cloud's id rule (``_lab``, spaces, slashes,
    65 characters), and a few new well-formed classroom ids (unregistered: refused ``unknown_classroom``,
    nothing created, as auto-creation is off by default)."""
    while True:
        h = header(rng, kit, payload=kit.jpeg)
        if rng.random() < 0.1:
            h["classroom_id"] = f"room-new-{rng.randrange(20)}"
        else:
            h["classroom_id"] = rng.choice(("_lab", "-x", ".hidden", "a b", "room/../x", "r" * 65, "room\u00e9"))
        yield [dump(h), kit.jpeg]


def gen_duplicates(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """The same message (same msg_id) again and again."""
    frames = image_message(rng, kit, kit.jpeg)
    while True:
        yield list(frames)


def gen_to_open_session(rng: random.Random, kit: Kit) -> Iterator[Frames]:
    """Cloud only: odd but decodable crops for a classroom with an open session, so they reach
    recognition (the local Rekognition service) and storage. Falls back to the kit's classroom."""
    names = ("tiny", "line", "column", "grey", "progressive")
    while True:
        payload = kit.extras[rng.choice(names)] if rng.random() < 0.7 else kit.jpeg[: rng.randrange(200, len(kit.jpeg))]
        h = _truthful(header(rng, kit, payload=payload), payload)
        h["classroom_id"] = kit.open_classroom_id or kit.classroom_id
        yield [dump(h), payload]


#: name -> (generator, weight). Weights are relative; costly generators are rare on purpose.
CATALOGUE: dict[str, tuple[Generator, float]] = {
    "random_frames": (gen_random_frames, 8),
    "not_json": (gen_not_json, 8),
    "nested_json": (gen_nested_json, 4),
    "huge_header": (gen_huge_header, 4),
    "non_finite": (gen_non_finite, 5),
    "bad_version": (gen_bad_version, 5),
    "unknown_type": (gen_unknown_type, 4),
    "wrong_type": (gen_wrong_type, 3),
    "heartbeat": (gen_heartbeat, 2),
    "lying_image_claims": (gen_lying_image_claims, 7),
    "wrong_frame_count": (gen_wrong_frame_count, 5),
    "oversize_payload": (gen_oversize_payload, 0.04),
    "big_payload": (gen_big_payload, 0.1),
    "sof_bomb": (gen_sof_bomb, 4),
    "decodable_bomb": (gen_decodable_bomb, 0.05),
    "truncated_jpeg": (gen_truncated_jpeg, 6),
    "corrupt_jpeg": (gen_corrupt_jpeg, 6),
    "not_an_image": (gen_not_an_image, 6),
    "odd_images": (gen_odd_images, 1),
    "eos_flood": (gen_eos_flood, 8),
    "bad_ids": (gen_bad_ids, 7),
    "bad_hops": (gen_bad_hops, 6),
    "bad_meta": (gen_bad_meta, 3),
    "duplicates": (gen_duplicates, 1),
}
#: Generators whose messages are well-formed FRAMEs / FACE_CROPs around a hostile image payload.
IMAGE_PAYLOADS = ("sof_bomb", "truncated_jpeg", "corrupt_jpeg", "not_an_image", "odd_images")
#: Only for the cloud's crop socket.
CLOUD_ONLY: dict[str, tuple[Generator, float]] = {
    "bad_classroom": (gen_bad_classroom, 3),
    "to_open_session": (gen_to_open_session, 0.3),
}


def catalogue(target: str) -> dict[str, tuple[Generator, float]]:
    """The generators (and weights) for ``target``."""
    return {**CATALOGUE, **CLOUD_ONLY} if target == "cloud" else dict(CATALOGUE)


def hostile_messages(
    kit: Kit, count: int, seed: int, weights: dict[str, float] | None = None
) -> Iterator[tuple[str, Frames]]:
    """``count`` messages ``(generator name, frames)`` for ``kit.target``, drawn by weight from
    one seed: the same arguments give the same messages."""
    table = catalogue(kit.target)
    if weights is not None:
        table = {name: (table[name][0], w) for name, w in weights.items() if w > 0}
    rng = random.Random(seed)
    names = sorted(table)
    streams = {name: table[name][0](random.Random(f"{seed}:{name}"), kit) for name in names}
    cumulative = [table[name][1] for name in names]
    for _ in range(count):
        (name,) = rng.choices(names, weights=cumulative)
        yield name, next(streams[name])


def expected_outcome(frames: Frames) -> str:
    """How a receiver with the default limits counts ``frames``: ``rejected:<reason>`` (its
    ``rejected`` counter) or ``accepted:<message type>``."""
    try:
        message = decode(frames)
    except ProtocolError as exc:
        return f"rejected:{exc.reason}"
    return f"accepted:{message.header.type.value}"


@dataclass
class Tally:
    """What was sent, by generator and by expected outcome."""

    by_generator: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)
    accepted_crop_ids: Counter[str] = field(default_factory=Counter)
    accepted_frames_by_camera: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_generator.values())

    def rejected(self) -> dict[str, int]:
        """Expected ``Receiver.rejected``: reason -> count."""
        return {k.split(":", 1)[1]: v for k, v in self.by_outcome.items() if k.startswith("rejected:")}

    def accepted(self, mtype: MessageType) -> int:
        return self.by_outcome[f"accepted:{mtype.value}"]

    def add(self, name: str, frames: Frames) -> str:
        """Count one message about to be sent; returns its expected outcome."""
        outcome = expected_outcome(frames)
        self.by_generator[name] += 1
        self.by_outcome[outcome] += 1
        self.bytes_sent += sum(len(f) for f in frames)
        if outcome in ("accepted:face_crop", "accepted:frame"):
            h = json.loads(frames[0])
            if outcome == "accepted:face_crop":
                self.accepted_crop_ids[h["msg_id"]] += 1
            else:
                self.accepted_frames_by_camera[h["camera_id"]] += 1
        return outcome
