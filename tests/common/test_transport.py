import time

import pytest
import zmq

from common.protocol import Message, MessageType, make_image_message
from common.transport import CurveKeys, Receiver, Sender, generate_keypair
from tests.conftest import assert_nothing_within, wait_until

JPEG = b"\xff\xd8" + b"x" * 100 + b"\xff\xd9"


def frame(seq: int = 0) -> Message:
    return make_image_message(MessageType.FRAME, JPEG, 8, 8, camera_id="cam", classroom_id="room", seq=seq)


def recv_until(receiver: Receiver, timeout_s: float = 3.0) -> Message:
    # recv() itself blocks up to 50 ms, so no extra poll interval.
    return wait_until(lambda: receiver.recv(timeout_ms=50), timeout=timeout_s, interval=0,
                      message="no message received")


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def test_push_pull_round_trip(ctx):
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    tx = Sender(rx.bound_address, context=ctx)
    # IMMEDIATE: nothing is queued until connected, so send() is False until then.
    wait_until(lambda: tx.send(frame(1)), timeout=3, message="not connected")
    msg = recv_until(rx)
    assert msg.header.seq == 1 and msg.image == JPEG
    tx.close(), rx.close()


def test_sender_drops_instead_of_blocking_without_peer(ctx):
    tx = Sender("tcp://127.0.0.1:1", hwm=2, context=ctx)  # nobody listens there
    started = time.monotonic()
    results = [tx.send(frame(i)) for i in range(100)]
    assert time.monotonic() - started < 1.0
    assert results.count(False) == 100
    tx.close()


def test_receiver_counts_malformed_and_keeps_going(ctx):
    rx = Receiver("tcp://127.0.0.1:*", context=ctx)
    raw = ctx.socket(zmq.PUSH)
    raw.connect(rx.bound_address)
    raw.send_multipart([b"not json"])
    raw.send_multipart([b'{"v": 99}'])
    good = Sender(rx.bound_address, context=ctx)
    wait_until(lambda: good.send(frame(5)), timeout=3, message="good sender not connected")
    msg = recv_until(rx)
    assert msg.header.seq == 5
    # PULL fair-queues between the two peers: the good frame may overtake the raw ones.
    deadline = time.monotonic() + 3
    while sum(rx.rejected.values()) < 2 and time.monotonic() < deadline:
        assert rx.recv(timeout_ms=50) is None
    assert rx.rejected == {"bad_json": 1, "version": 1}
    raw.close(), good.close(), rx.close()


def test_dealer_router_reply(ctx):
    rx = Receiver("tcp://127.0.0.1:*", kind="router", context=ctx)
    tx = Sender(rx.bound_address, kind="dealer", context=ctx)
    crop = make_image_message(MessageType.FACE_CROP, JPEG, 8, 8, camera_id="cam", classroom_id="room")
    wait_until(lambda: tx.send(crop), timeout=3, message="dealer not connected")
    got = recv_until(rx)
    result = Message(got.header.derive(MessageType.RESULT, meta={"ack_of": got.header.msg_id, "status": "unknown"}))
    assert rx.reply(rx.last_peer, result)
    reply = wait_until(lambda: tx.recv(timeout_ms=50), timeout=3, interval=0, message="no reply")
    assert reply.header.meta["ack_of"] == crop.header.msg_id
    assert reply.header.trace_id == crop.header.trace_id
    tx.close(), rx.close()


def test_curve_link_authenticates(ctx, tmp_path):
    server_pub, server_sec = generate_keypair(tmp_path / "server", "server")
    client_pub, client_sec = generate_keypair(tmp_path / "clients", "edge")
    rx = Receiver("tcp://127.0.0.1:*", curve=CurveKeys(secret_file=server_sec,
                  allowed_clients_dir=tmp_path / "clients"), context=ctx)
    tx = Sender(rx.bound_address, curve=CurveKeys(secret_file=client_sec, server_public_file=server_pub), context=ctx)
    wait_until(lambda: tx.send(frame(9)), timeout=3, message="curve client not connected")
    assert recv_until(rx).header.seq == 9

    # A client with an unknown key is refused by the authenticator: nothing arrives.
    _, stranger_sec = generate_keypair(tmp_path / "strangers", "stranger")
    intruder = Sender(rx.bound_address, curve=CurveKeys(secret_file=stranger_sec, server_public_file=server_pub),
                      context=ctx)

    def intruder_got_through() -> Message | None:
        intruder.send(frame(666))  # keeps trying; IMMEDIATE drops it while the handshake is refused
        return rx.recv(timeout_ms=50)

    assert_nothing_within(intruder_got_through, 0.5, "a client with an unknown key was let in")
    tx.close(), intruder.close(), rx.close()
