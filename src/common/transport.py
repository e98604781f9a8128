"""ZeroMQ endpoints that speak :mod:`common.protocol` (imagezmq-style, tiny API).

Pipeline links:

* IoT -> edge: :class:`Sender` (PUSH, connects) -> :class:`Receiver` (PULL, binds).
* edge -> cloud: :class:`Sender` (DEALER, connects) -> :class:`Receiver` (ROUTER,
  binds). The ROUTER remembers each peer's identity so the cloud can send
  RESULT / ACK messages back with :meth:`Receiver.reply`, and the edge reads them
  with :meth:`Sender.recv`.

Senders never block: with a small high-water mark a full queue means the message
is dropped and ``send`` returns False (callers count it). Receivers decode and
validate; malformed input is counted by reason in :attr:`Receiver.rejected` and
skipped, never raised.

CurveZMQ: pass a :class:`CurveKeys` to encrypt and authenticate a link. Servers
(binding side) hold a secret key; clients must know the server's public key, and
the server may restrict clients to the public keys found in a directory.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from .protocol import DEFAULT_LIMITS, Limits, Message, ProtocolError, decode, encode


@dataclass(frozen=True)
class CurveKeys:
    """CurveZMQ key material for one side of a link.

    ``secret_file`` is this side's secret certificate (``zmq.auth`` format).
    Clients set ``server_public_file``; servers may set ``allowed_clients_dir``
    (a directory of client ``.key`` files; ``None`` allows any client that knows
    the server key).
    """

    secret_file: Path
    server_public_file: Path | None = None
    allowed_clients_dir: Path | None = None


def generate_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """Write ``name.key`` and ``name.key_secret`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    return Path(public), Path(secret)


_auth_lock = threading.Lock()
_authenticators: dict[int, ThreadAuthenticator] = {}


def _apply_curve_server(ctx: zmq.Context, sock: zmq.Socket, keys: CurveKeys) -> None:
    public, secret = zmq.auth.load_certificate(str(keys.secret_file))
    with _auth_lock:
        auth = _authenticators.get(id(ctx))
        if auth is None:
            auth = ThreadAuthenticator(ctx)
            auth.start()
            _authenticators[id(ctx)] = auth
        if keys.allowed_clients_dir is not None:
            auth.configure_curve(domain="*", location=str(keys.allowed_clients_dir))
        else:
            auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY)
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True


def _apply_curve_client(sock: zmq.Socket, keys: CurveKeys) -> None:
    if keys.server_public_file is None:
        raise ValueError("a CurveZMQ client needs server_public_file")
    public, secret = zmq.auth.load_certificate(str(keys.secret_file))
    server_public, _ = zmq.auth.load_certificate(str(keys.server_public_file))
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_serverkey = server_public


class Sender:
    """Connects to a peer and sends messages without ever blocking.

    ``kind`` is ``"push"`` (one-way) or ``"dealer"`` (replies can be read with
    :meth:`recv`). ``hwm`` bounds the queue; beyond it ``send`` drops and
    returns False.
    """

    def __init__(
        self,
        address: str,
        kind: str = "push",
        hwm: int = 2,
        curve: CurveKeys | None = None,
        limits: Limits = DEFAULT_LIMITS,
        context: zmq.Context | None = None,
        linger_ms: int = 0,
    ) -> None:
        self.address = address
        self.limits = limits
        self._ctx = context or zmq.Context.instance()
        socket_type = {"push": zmq.PUSH, "dealer": zmq.DEALER}[kind]
        self._sock = self._ctx.socket(socket_type)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.RCVHWM, 1000)
        self._sock.setsockopt(zmq.LINGER, linger_ms)
        # Do not queue messages for peers that are not connected yet.
        self._sock.setsockopt(zmq.IMMEDIATE, 1)
        if curve is not None:
            _apply_curve_client(self._sock, curve)
        self._sock.connect(address)
        self.rejected: Counter[str] = Counter()

    def send(self, message: Message) -> bool:
        """Queue ``message`` for sending. False when the peer is slow or absent."""
        frames = encode(message, self.limits)
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return False
        return True

    def recv(self, timeout_ms: int = 0) -> Message | None:
        """Read one reply (DEALER only); None on timeout or malformed input."""
        if not self._sock.poll(timeout_ms, zmq.POLLIN):
            return None
        frames = self._sock.recv_multipart()
        try:
            return decode(frames, self.limits)
        except ProtocolError as exc:
            self.rejected[exc.reason] += 1
            return None

    def close(self) -> None:
        self._sock.close()


class Receiver:
    """Binds and receives validated messages.

    ``kind`` is ``"pull"`` or ``"router"``. For ROUTER, :attr:`last_peer` holds
    the identity of the sender of the last message, used by :meth:`reply`.
    """

    def __init__(
        self,
        address: str,
        kind: str = "pull",
        hwm: int = 100,
        curve: CurveKeys | None = None,
        limits: Limits = DEFAULT_LIMITS,
        context: zmq.Context | None = None,
    ) -> None:
        self.address = address
        self.limits = limits
        self.kind = kind
        self._ctx = context or zmq.Context.instance()
        socket_type = {"pull": zmq.PULL, "router": zmq.ROUTER}[kind]
        self._sock = self._ctx.socket(socket_type)
        self._sock.setsockopt(zmq.RCVHWM, hwm)
        self._sock.setsockopt(zmq.SNDHWM, 1000)
        self._sock.setsockopt(zmq.LINGER, 0)
        # Refuse oversize messages at the socket, before they are buffered.
        max_total = limits.max_header_bytes + limits.max_payloads * limits.max_payload_bytes
        self._sock.setsockopt(zmq.MAXMSGSIZE, max_total)
        if kind == "router":
            self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        if curve is not None:
            _apply_curve_server(self._ctx, self._sock, curve)
        self._sock.bind(address)
        self.bound_address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.rejected: Counter[str] = Counter()
        self.last_peer: bytes | None = None
        self.last_error: ProtocolError | None = None

    def recv(self, timeout_ms: int = 100) -> Message | None:
        """Wait up to ``timeout_ms`` for one valid message; None otherwise.
        Malformed messages are counted in :attr:`rejected` and skipped."""
        if not self._sock.poll(timeout_ms, zmq.POLLIN):
            return None
        frames = self._sock.recv_multipart()
        if self.kind == "router":
            self.last_peer, frames = frames[0], frames[1:]
        try:
            return decode(frames, self.limits)
        except ProtocolError as exc:
            self.rejected[exc.reason] += 1
            self.last_error = exc
            return None

    def reply(self, peer: bytes, message: Message) -> bool:
        """Send ``message`` back to ``peer`` (ROUTER only). False if the peer is gone
        or its queue is full."""
        frames = [peer, *encode(message, self.limits)]
        try:
            self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
        except (zmq.Again, zmq.ZMQError):
            return False
        return True

    def close(self, linger_ms: int = 0) -> None:
        """Close the socket; replies still queued are sent for up to ``linger_ms`` (0 = dropped)."""
        self._sock.close(linger=linger_ms)
