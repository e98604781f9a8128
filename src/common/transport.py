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

CurveZMQ: pass a :class:`CurveKeys` to encrypt and authenticate a link. Servers (binding side)
hold a key pair and the registered client public keys, each mapped to an identity (camera id or
edge name, :mod:`common.keyring`); a ZAP handler refuses every other key (an empty map refuses
everyone) and gives each accepted connection its identity as the ZMQ ``User-Id``, which
:attr:`Receiver.last_user_id` reports for every message. Clients hold a key pair and the
server's public key.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import zmq
import zmq.utils.z85

from .protocol import DEFAULT_LIMITS, Limits, Message, ProtocolError, decode, encode


@dataclass(frozen=True)
class CurveKeys:
    """CurveZMQ key material for one side of a link (Z85-encoded keys).

    Clients set ``server_public``. Servers set ``clients``: public key -> identity; only those
    keys may connect (empty: nobody) and the identity is each message's ``User-Id``.
    """

    public: bytes
    secret: bytes
    server_public: bytes | None = None
    clients: Mapping[bytes, str] = field(default_factory=dict)


ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class ZapHandler:
    """The ZAP (RFC 27) handler of one context: CURVE keys are accepted per ZAP domain only when
    registered for that domain, and answered with the key's identity as ``User-Id``."""

    def __init__(self, ctx: zmq.Context) -> None:
        self.ctx = ctx  # held: the handler is looked up by id(ctx), which must not be reused
        self._domains: dict[str, Mapping[bytes, str]] = {}
        self._lock = threading.Lock()
        self.refused: Counter[str] = Counter()
        self._sock = ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(ZAP_ENDPOINT)
        self._thread = threading.Thread(target=self._run, name="zap-handler", daemon=True)
        self._thread.start()

    def register(self, domain: str, clients: Mapping[bytes, str]) -> None:
        with self._lock:
            self._domains[domain] = clients  # may be live (common.keyring.LiveClients)

    def forget(self, domain: str) -> None:
        with self._lock:
            self._domains.pop(domain, None)

    def decide(self, domain: str, mechanism: bytes, credentials: list[bytes]) -> tuple[bool, str]:
        """(accepted, user id or refusal reason) of one ZAP request."""
        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            return False, "not_curve"
        with self._lock:
            clients = self._domains.get(domain)
        try:
            identity = None if clients is None else clients.get(zmq.utils.z85.encode(credentials[0]))
        except Exception:  # a registry that cannot be read must refuse, never kill the handler
            identity = None
        if identity is None:
            return False, "unregistered_key"
        return True, identity

    def _run(self) -> None:
        while True:
            try:
                if not self._sock.poll(200):
                    continue
                frames = self._sock.recv_multipart()
            except zmq.ZMQError:  # the context is being destroyed
                return
            if len(frames) < 6:  # not a ZAP request (REP must still answer before the next one)
                ok, detail, version, request_id = False, "malformed_request", b"1.0", b""
            else:
                version, request_id, domain, _address, _identity, mechanism, *credentials = frames
                ok, detail = self.decide(domain.decode(errors="replace"), mechanism, credentials)
            if not ok:
                self.refused[detail] += 1
            reply = [version, request_id, b"200" if ok else b"400", b"OK" if ok else detail.encode()]
            reply += [detail.encode() if ok else b"", b""]
            try:
                self._sock.send_multipart(reply)
            except zmq.ZMQError:
                return


_zap_lock = threading.Lock()
_zap_handlers: dict[int, ZapHandler] = {}
_domain_ids = itertools.count(1)


def zap_handler(ctx: zmq.Context) -> ZapHandler:
    """The ZAP handler of ``ctx`` (started on first use)."""
    with _zap_lock:
        handler = _zap_handlers.get(id(ctx))
        if handler is None or handler.ctx is not ctx:
            handler = _zap_handlers[id(ctx)] = ZapHandler(ctx)
        return handler


def _apply_curve_server(ctx: zmq.Context, sock: zmq.Socket, keys: CurveKeys) -> str:
    domain = f"rollcall-{next(_domain_ids)}"
    zap_handler(ctx).register(domain, keys.clients)
    sock.zap_domain = domain.encode()
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_server = True
    return domain


def _apply_curve_client(sock: zmq.Socket, keys: CurveKeys) -> None:
    if keys.server_public is None:
        raise ValueError("a CurveZMQ client needs the server's public key")
    sock.curve_secretkey = keys.secret
    sock.curve_publickey = keys.public
    sock.curve_serverkey = keys.server_public


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
        self._zap_domain: str | None = None
        if curve is not None:
            self._zap_domain = _apply_curve_server(self._ctx, self._sock, curve)
        self._sock.bind(address)
        self.bound_address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.rejected: Counter[str] = Counter()
        self.last_peer: bytes | None = None
        #: The ``User-Id`` of the last message's connection (its key's identity; None without Curve).
        self.last_user_id: str | None = None
        self.last_error: ProtocolError | None = None

    def recv(self, timeout_ms: int = 100) -> Message | None:
        """Wait up to ``timeout_ms`` for one valid message; None otherwise.
        Malformed messages are counted in :attr:`rejected` and skipped."""
        if not self._sock.poll(timeout_ms, zmq.POLLIN):
            return None
        parts = self._sock.recv_multipart(copy=False)
        self.last_user_id = _user_id(parts[-1]) if self._zap_domain else None
        frames = [part.bytes for part in parts]
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
        if self._zap_domain is not None:
            zap_handler(self._ctx).forget(self._zap_domain)


def _user_id(frame: zmq.Frame) -> str | None:
    """The ``User-Id`` ZAP gave the frame's connection (None if it has none)."""
    try:
        value = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    return value if isinstance(value, str) and value else None
