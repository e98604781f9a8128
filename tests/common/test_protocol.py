import json

import pytest

from common.protocol import (
    PROTOCOL_VERSION,
    Header,
    Limits,
    Message,
    MessageType,
    ProtocolError,
    decode,
    encode,
    make_image_message,
)

JPEG = b"\xff\xd8fakejpegbytes\xff\xd9"


def frame_message() -> Message:
    msg = make_image_message(MessageType.FRAME, JPEG, 640, 480, camera_id="cam-1", classroom_id="room-101", seq=7)
    msg.header.stamp("captured", 1_700_000_000_000)
    msg.header.stamp("sent", 1_700_000_000_005)
    return msg


def header_of(frames):
    return json.loads(frames[0])


def rebuild(header: dict, payloads=(JPEG,)):
    return [json.dumps(header).encode(), *payloads]


def reason_of(frames, limits=Limits()):
    with pytest.raises(ProtocolError) as info:
        decode(frames, limits)
    return info.value.reason


def test_round_trip_keeps_every_field():
    msg = frame_message()
    out = decode(encode(msg))
    assert out.header == msg.header
    assert out.payloads == [JPEG]
    assert out.header.ts == {"captured": 1_700_000_000_000, "sent": 1_700_000_000_005}
    assert out.header.image.width == 640 and out.header.image.bytes == len(JPEG)
    assert out.header.v == PROTOCOL_VERSION


def test_header_carries_required_fields():
    h = header_of(encode(frame_message()))
    for key in ("v", "type", "msg_id", "camera_id", "classroom_id", "trace_id", "seq", "ts", "image", "meta"):
        assert key in h


def test_derived_header_keeps_trace_and_gets_new_id():
    frame = frame_message().header
    crop = frame.derive(MessageType.FACE_CROP, meta={"track_id": 3})
    assert crop.trace_id == frame.trace_id and crop.msg_id != frame.msg_id
    assert crop.ts == frame.ts and crop.ts is not frame.ts


def test_result_and_eos_messages_without_payload():
    eos = Message(Header(type=MessageType.END_OF_STREAM, camera_id="c", classroom_id="r", seq=3))
    assert decode(encode(eos)).header.type is MessageType.END_OF_STREAM
    result = Message(Header(type=MessageType.RESULT, camera_id="c", classroom_id="r",
                            meta={"ack_of": "abc", "status": "recognised", "student_id": "s1"}))
    assert decode(encode(result)).header.meta["status"] == "recognised"


def test_version_mismatch_is_rejected_clearly():
    h = header_of(encode(frame_message()))
    h["v"] = PROTOCOL_VERSION + 1
    with pytest.raises(ProtocolError) as info:
        decode(rebuild(h))
    assert info.value.reason == "version"
    assert f"v{PROTOCOL_VERSION + 1}" in str(info.value)


@pytest.mark.parametrize(
    "frames, reason",
    [
        ([], "frame_count"),
        ([b"{not json"], "bad_json"),
        ([b"\xff\xfe\x00"], "bad_json"),
        ([b"[1,2]"], "bad_json"),
        ([b'{"v":1,"meta":' + b"[" * 5000 + b"]" * 5000 + b"}"], "bad_json"),  # RecursionError inside json
    ],
)
def test_broken_frames(frames, reason):
    assert reason_of(frames) == reason


def test_wrong_payload_count_for_frame():
    frames = encode(frame_message())
    assert reason_of(frames[:1]) == "frame_count"
    assert reason_of(frames + [JPEG]) == "frame_count"


def test_too_many_payloads():
    frames = encode(frame_message())
    assert reason_of(frames + [b"x"] * 10) == "frame_count"


@pytest.mark.parametrize("field", ["type", "msg_id", "camera_id", "classroom_id", "trace_id", "seq", "ts"])
def test_missing_field(field):
    h = header_of(encode(frame_message()))
    del h[field]
    assert reason_of(rebuild(h)) == "missing_field"


@pytest.mark.parametrize(
    "field, value",
    [("type", "selfie"), ("seq", -1), ("seq", "7"), ("seq", True), ("camera_id", ""), ("camera_id", 5),
     ("ts", {"captured": "soon"}), ("ts", {"captured": -5}), ("meta", [1])],
)
def test_bad_field(field, value):
    h = header_of(encode(frame_message()))
    h[field] = value
    assert reason_of(rebuild(h)) == "bad_field"


def test_image_description_must_match_payload():
    h = header_of(encode(frame_message()))
    h["image"]["bytes"] = 3
    assert reason_of(rebuild(h)) == "bad_field"
    h = header_of(encode(frame_message()))
    h["image"]["encoding"] = "gif"
    assert reason_of(rebuild(h)) == "bad_field"
    h = header_of(encode(frame_message()))
    h["image"] = None
    assert reason_of(rebuild(h)) == "missing_field"


def test_oversize_fields_and_payloads():
    h = header_of(encode(frame_message()))
    h["camera_id"] = "c" * 500
    assert reason_of(rebuild(h)) == "oversize_field"
    h = header_of(encode(frame_message()))
    h["meta"] = {"junk": "x" * 9000}
    assert reason_of(rebuild(h)) == "oversize_field"
    big = b"x" * 2048
    h = header_of(encode(frame_message()))
    h["image"]["bytes"] = len(big)
    assert reason_of(rebuild(h, [big]), Limits(max_payload_bytes=1024)) == "oversize_payload"
    assert reason_of([b" " * 20000 + b"{}"]) == "oversize_header"


def test_encode_refuses_what_decode_would_reject():
    msg = frame_message()
    msg.header.camera_id = ""
    with pytest.raises(ProtocolError):
        encode(msg)


@pytest.mark.parametrize(
    "field, value",
    [("seq", 2**63), ("ts", {"captured": 2**63}), ("ts", {"captured": 10**30})],
)
def test_integers_beyond_int64_are_refused(field, value):
    h = header_of(encode(frame_message()))
    h[field] = value
    assert reason_of(rebuild(h)) == "bad_field"


def test_integer_of_more_than_4300_digits_is_bad_json_not_a_crash():
    # json.loads raises a plain ValueError (Python's int-string limit), not JSONDecodeError
    raw = json.dumps(header_of(encode(frame_message()))).replace('"seq": 7', '"seq": ' + "9" * 5000).encode()
    assert reason_of([raw, JPEG]) == "bad_json"
    raw = json.dumps(header_of(encode(frame_message()))).replace('"meta": {}', '"meta": {"x": ' + "9" * 5000 + "}")
    assert reason_of([raw.encode(), JPEG]) == "bad_json"


@pytest.mark.parametrize("version", [1.0, "1", True, None])
def test_version_must_be_the_integer(version):
    h = header_of(encode(frame_message()))
    h["v"] = version
    assert reason_of(rebuild(h)) == "version"


@pytest.mark.parametrize("mtype", ["eos", "heartbeat", "result", "ack"])
def test_messages_without_image_carry_no_payload(mtype):
    h = header_of(encode(frame_message()))
    h["type"], h["image"] = mtype, None
    assert decode(rebuild(h, [])).header.type.value == mtype
    assert reason_of(rebuild(h, [b"x" * 1000])) == "frame_count"


def test_accepted_hops_leave_room_for_every_pipeline_stamp():
    # A crop that arrived with a full ts map used to be accepted, stamped by the cloud, and then its
    # RESULT failed to encode (more than 32 hops): the edge never got an answer.
    from common.protocol import HOPS, MAX_HOPS

    h = header_of(encode(frame_message()))
    h["ts"] = {f"h{i}": i for i in range(MAX_HOPS)}
    assert reason_of(rebuild(h)) == "oversize_field"
    h["ts"] = {f"h{i}": i for i in range(MAX_HOPS - len(HOPS))}
    h["ts"].update({hop: 1 for hop in HOPS[:2]})
    crop = decode(rebuild(h)).header
    for hop in HOPS:
        crop.stamp(hop, 5)
    result = Message(crop.derive(MessageType.RESULT, meta={"ack_of": crop.msg_id}))
    assert len(decode(encode(result)).header.ts) == MAX_HOPS


@pytest.mark.parametrize("field", ["camera_id", "msg_id", "type"])
def test_lone_surrogate_escapes_are_refused(field):
    # json.loads turns "\ud800" into a str that SQLite (and any UTF-8 writer) cannot store: the
    # cloud answered such crops error/internal (retryable) instead of refusing them.
    raw = json.dumps(header_of(encode(frame_message()))).replace(f'"{field}": "', f'"{field}": "\\ud800', 1)
    assert reason_of([raw.encode(), JPEG]) == "bad_json"


def test_surrogate_pairs_and_other_escapes_are_fine():
    msg = frame_message()
    msg.header.camera_id = "salle-\u00e9-\U0001f600"  # json.dumps writes \u00e9 and \ud83d\ude00
    frames = encode(msg)
    assert b"\\ud83d\\ude00" in frames[0]
    assert decode(frames).header.camera_id == "salle-\u00e9-\U0001f600"


def test_nesting_is_limited_whatever_the_callers_stack_depth():
    # json.loads' own limit (RecursionError) depends on how deep the calling thread's stack already
    # is: the same header was accepted by the edge's receiver thread and refused from deeper stacks.
    import threading

    from common.protocol import MAX_DEPTH

    def header_with_meta_depth(levels: int) -> bytes:
        h = header_of(encode(frame_message()))
        return json.dumps(h).replace('"meta": {}', '"meta": {"x": ' + "[" * levels + "]" * levels + "}").encode()

    decode([header_with_meta_depth(MAX_DEPTH - 2), JPEG])  # header, meta, then 30 lists: 32 levels
    assert reason_of([header_with_meta_depth(MAX_DEPTH - 1), JPEG]) == "bad_json"
    outcomes = []

    def deep(n: int) -> None:
        if n:
            return deep(n - 1)
        for levels in (500, 900, 960, 990):
            try:
                decode([header_with_meta_depth(levels), JPEG])
                outcomes.append("accepted")
            except ProtocolError as exc:
                outcomes.append(exc.reason)

    deep(0)
    thread = threading.Thread(target=deep, args=(300,))
    thread.start()
    thread.join()
    assert outcomes == ["bad_json"] * 8


def test_edge_queued_is_a_pipeline_hop_and_older_senders_keep_their_room():
    # ``edge_queued`` (a crop chosen by the edge's crop policy, possibly frames after its own frame)
    # sits between detection and sending; adding it kept the 23 hops of a sender's own.
    from common.protocol import HOPS, MAX_HOPS

    assert HOPS.index("detect_end") < HOPS.index("edge_queued") < HOPS.index("edge_sent")
    assert MAX_HOPS - len(HOPS) == 23
    h = header_of(encode(frame_message()))
    h["ts"] = {f"h{i}": i for i in range(23)}
    assert len(decode(rebuild(h)).header.ts) == 23
