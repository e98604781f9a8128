"""The edge outbox: crops kept on disk until answered, resent with backoff, bounded, and kept
across restarts (with track ids that never repeat)."""

from __future__ import annotations

from pathlib import Path

from common.protocol import Message, MessageType, make_image_message
from edge.outbox import TRACK_ID_BLOCK, Outbox, pack_frames, unpack_frames


def crop(msg_id: str, camera: str = "cam-1", payload: bytes = b"\xff\xd8jpeg\xff\xd9") -> Message:
    message = make_image_message(MessageType.FACE_CROP, payload, 64, 64, camera, "room-1")
    message.header.msg_id = msg_id
    return message


def test_frames_round_trip_through_one_blob() -> None:
    frames = [b"", b"header", bytes(range(256)) * 10]
    assert unpack_frames(pack_frames(frames)) == frames


def test_a_crop_is_due_at_once_then_after_a_doubling_backoff_until_answered() -> None:
    box = Outbox(":memory:", resend_timeout_ms=1000, max_backoff_ms=3000)
    assert box.add(crop("m1"), 7, now_ms=10_000) == []
    [held] = box.due(10_000)
    assert (held.msg_id, held.track_id, held.attempts) == ("m1", 7, 0)
    assert held.message().header.msg_id == "m1" and held.message().image == crop("m1").image
    assert box.sent("m1", 10_000) == 1
    assert box.due(10_999) == [] and [h.msg_id for h in box.due(11_000)] == ["m1"]
    assert box.sent("m1", 11_000) == 2
    assert box.due(12_999) == [] and box.due(13_000)
    assert box.sent("m1", 13_000) == 3
    assert box.due(15_999) == [] and box.due(16_000)  # capped at 3 s
    assert box.holds("m1") and box.ack("m1")
    assert not box.holds("m1") and box.due(10**9) == [] and len(box) == 0
    assert not box.ack("m1")  # a second answer to a resent crop


def test_a_retryable_error_waits_for_the_backoff() -> None:
    box = Outbox(":memory:", resend_timeout_ms=1000)
    box.add(crop("m1"), 7, now_ms=0)
    box.sent("m1", 0)
    assert box.retry_later("m1", 500)
    assert box.due(1499) == [] and box.due(1500)
    assert not box.retry_later("nope", 500)


def test_past_capacity_the_oldest_crops_are_dropped_and_returned() -> None:
    box = Outbox(":memory:", max_crops=3)
    for i in range(3):
        assert box.add(crop(f"m{i}"), i, now_ms=i) == []
    dropped = box.add(crop("m3"), 3, now_ms=3)
    assert [d.msg_id for d in dropped] == ["m0"] and len(box) == 3
    assert [h.msg_id for h in box.due(10)] == ["m1", "m2", "m3"]


def test_crops_past_the_age_limit_expire() -> None:
    box = Outbox(":memory:", max_age_ms=1000)
    box.add(crop("old"), 1, now_ms=0)
    box.add(crop("new"), 2, now_ms=900)
    assert [h.msg_id for h in box.expire(now_ms=1500)] == ["old"]
    assert not box.holds("old") and box.holds("new")


def test_the_same_crop_added_twice_is_held_once() -> None:
    box = Outbox(":memory:")
    box.add(crop("m1"), 1, now_ms=0)
    box.add(crop("m1"), 1, now_ms=5)
    assert len(box) == 1 and len(box.due(10)) == 1


def test_crops_survive_a_restart_and_are_due_at_once(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path, resend_timeout_ms=60_000)
    box.add(crop("kept"), 1, now_ms=1000)
    box.add(crop("answered"), 2, now_ms=1000)
    box.sent("kept", 1000)  # out, unanswered: not due for a minute
    box.ack("answered")
    box.close()  # the process dies; the database stays
    again = Outbox(path, resend_timeout_ms=60_000)
    assert again.recovered == 1 and again.holds("kept") and not again.holds("answered")
    [held] = again.due(1001)  # due at once: the cloud may have answered into the void
    assert held.msg_id == "kept" and held.attempts == 1


def test_track_ids_never_repeat_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    box = Outbox(path)
    ids = box.track_ids()
    first_run = [next(ids) for _ in range(TRACK_ID_BLOCK + 5)]  # crosses a block boundary
    box.close()
    again = Outbox(path).track_ids()
    second_run = [next(again) for _ in range(10)]
    assert len(set(first_run)) == len(first_run) and first_run[0] == 1
    assert min(second_run) > max(first_run)
