import time

import pytest
import zmq

from common.protocol import Message, MessageType, make_image_message
from common.transport import CurveKeys, Receiver, Sender, zap_handler
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


def server_keys(clients: dict[bytes, str]) -> tuple[CurveKeys, bytes]:
    public, secret = zmq.curve_keypair()
    return CurveKeys(public, secret, clients=clients), public


def client_keys(server_public: bytes) -> tuple[CurveKeys, bytes]:
    public, secret = zmq.curve_keypair()
    return CurveKeys(public, secret, server_public=server_public), public


def intruder_kept_out(rx: Receiver, intruder: Sender, seconds: float = 0.5) -> None:
    def got_through() -> Message | None:
        intruder.send(frame(666))  # keeps trying; IMMEDIATE drops it while the handshake is refused
        return rx.recv(timeout_ms=50)

    assert_nothing_within(got_through, seconds, "a client with an unregistered key was let in")


def test_curve_link_authenticates_and_names_the_client(ctx):
    client, client_public = client_keys(b"")
    server, server_public = server_keys({client_public: "cam-7"})
    rx = Receiver("tcp://127.0.0.1:*", curve=server, context=ctx)
    tx = Sender(rx.bound_address, curve=CurveKeys(client.public, client.secret, server_public=server_public),
                context=ctx)
    wait_until(lambda: tx.send(frame(9)), timeout=3, message="curve client not connected")
    assert recv_until(rx).header.seq == 9
    assert rx.last_user_id == "cam-7"  # the ZAP User-Id: the identity the key is registered under

    # A client with an unregistered key is refused by the ZAP handler: nothing arrives.
    intruder_keys, _ = client_keys(server_public)
    intruder = Sender(rx.bound_address, curve=intruder_keys, context=ctx)
    intruder_kept_out(rx, intruder)
    assert zap_handler(ctx).refused["unregistered_key"] >= 1
    tx.close(), intruder.close(), rx.close()


def test_an_empty_allow_list_accepts_nobody(ctx):
    server, server_public = server_keys({})
    rx = Receiver("tcp://127.0.0.1:*", curve=server, context=ctx)
    client, _ = client_keys(server_public)
    tx = Sender(rx.bound_address, curve=client, context=ctx)
    intruder_kept_out(rx, tx)
    tx.close(), rx.close()


def test_plain_client_cannot_talk_to_a_curve_server(ctx):
    server, _ = server_keys({})
    rx = Receiver("tcp://127.0.0.1:*", curve=server, context=ctx)
    plain = Sender(rx.bound_address, context=ctx)
    intruder_kept_out(rx, plain)
    assert rx.last_user_id is None
    plain.close(), rx.close()


def test_keys_of_one_server_do_not_open_another_in_the_same_context(ctx):
    client, client_public = client_keys(b"")
    first, first_public = server_keys({client_public: "edge-a"})
    second, second_public = server_keys({})  # same context, same ZAP handler, another domain
    rx1 = Receiver("tcp://127.0.0.1:*", kind="router", curve=first, context=ctx)
    rx2 = Receiver("tcp://127.0.0.1:*", kind="router", curve=second, context=ctx)
    tx2 = Sender(rx2.bound_address, curve=CurveKeys(client.public, client.secret, server_public=second_public),
                 context=ctx)
    intruder_kept_out(rx2, tx2)
    tx1 = Sender(rx1.bound_address, kind="dealer",
                 curve=CurveKeys(client.public, client.secret, server_public=first_public), context=ctx)
    wait_until(lambda: tx1.send(frame(3)), timeout=3, message="registered client not connected")
    assert recv_until(rx1).header.seq == 3 and rx1.last_user_id == "edge-a"
    for s in (tx1, tx2, rx1, rx2):
        s.close()


def test_the_zap_handler_answers_malformed_requests_and_keeps_working(ctx):
    handler = zap_handler(ctx)
    client = ctx.socket(zmq.REQ)
    client.setsockopt(zmq.LINGER, 0)
    client.connect("inproc://zeromq.zap.01")
    client.send_multipart([b"1.0", b"junk"])
    assert client.poll(2000) and client.recv_multipart()[2] == b"400"
    assert handler.refused["malformed_request"] == 1
    client.close()
    assert handler.decide("nowhere", b"NULL", []) == (False, "not_curve")
    assert handler.decide("nowhere", b"CURVE", [b"k" * 32]) == (False, "unregistered_key")
