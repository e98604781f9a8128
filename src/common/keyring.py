"""CurveZMQ keys of every tier and the registry that binds each client key to an identity.

A keys directory (``rollcall-keys generate`` writes it, :mod:`common.keys_cli`) holds::

    registry.json                 public keys only: the cloud, each edge, each camera
                                  (camera -> classroom and edge)
    cloud/cloud.key_secret        the cloud's key pair (server of the edge -> cloud link)
    edges/<edge>.key_secret       one key pair per edge (server for its cameras, client of the cloud)
    cameras/<camera>.key_secret   one key pair per camera (client of its edge)
    bundles/<host>/...            the same layout, with only what one host needs (see below)

Secret files are ``zmq.auth`` certificates (both halves), mode 0600. Bundles: ``cloud`` (the
cloud's secret + the whole registry), ``edge-<edge>`` (that edge's secret, the cloud's public key
and its cameras), ``camera-<camera>`` (one camera's secret + its edge's public key) and
``iot-<edge>`` (every camera of one edge: an IoT host running several cameras). A tier pointed at
the whole directory works too; a bundle only ships one host's secret.

The servers accept only registered client keys (an empty registry accepts nobody) and learn who
the peer is from its key (the ZAP ``User-Id``: the edge name or the camera id).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import zmq
import zmq.auth

from .logs import log_event
from .settings_base import ConfigError

REGISTRY_FILE = "registry.json"
CLOUD_NAME = "cloud"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
_NAME_RE = re.compile(NAME_PATTERN)
SECRET_SUFFIX = ".key_secret"

TransportMode = Literal["curve", "plaintext"]
TRANSPORT_DESCRIPTION = (
    "`curve` (default): CurveZMQ encryption and authentication with the keys in `KEYS_DIR` "
    "(create them with `rollcall-keys generate`); the tier refuses to start without them. "
    "`plaintext`: unencrypted, unauthenticated TCP (explicit opt-in, logged as a WARNING at start; "
    "anyone who can reach the port can then send messages)."
)
KEYS_DIR_DESCRIPTION = (
    "Directory of CurveZMQ keys written by `rollcall-keys generate` (the whole keys directory or "
    "this host's bundle, `<keys>/bundles/{bundle}`)."
)


class KeyringError(ConfigError):
    """Keys that are missing, unreadable or inconsistent; the message says how to fix it."""


def check_name(kind: str, name: str) -> str:
    """``name`` if it is usable as a key file name, else KeyringError."""
    if not _NAME_RE.match(name):
        raise KeyringError(
            f"invalid {kind} name {name!r}: 1-100 letters, digits, '_', '.', '-', starting with a letter or digit"
        )
    return name


def how_to_create(tier: str) -> str:
    """The hint every missing-key error ends with."""
    prefix = {"cloud": "ROLLCALL_CLOUD", "edge": "ROLLCALL_EDGE", "iot": "ROLLCALL_IOT"}[tier]
    return (
        "create the keys with `rollcall-keys generate --dir keys --camera CAMERA_ID=CLASSROOM_ID@EDGE_NAME ...` "
        f"and point {prefix}_KEYS_DIR at the directory (or its bundle for this host), "
        f"or opt in to unauthenticated plain TCP with {prefix}_TRANSPORT=plaintext"
    )


@dataclass(frozen=True)
class CameraEntry:
    """A camera's registration: where its frames may come from and what they may claim."""

    camera_id: str
    classroom_id: str
    edge: str
    public_key: str


@dataclass
class Registry:
    """Public keys and bindings (``registry.json``). Public keys are Z85 text."""

    cloud: str | None = None
    edges: dict[str, str] = field(default_factory=dict)
    cameras: dict[str, CameraEntry] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> Registry:
        """Read ``directory/registry.json``; KeyringError if it is missing or malformed."""
        path = directory / REGISTRY_FILE
        try:
            data = json.loads(path.read_text())
            cameras = {
                cid: CameraEntry(cid, str(c["classroom_id"]), str(c["edge"]), str(c["public_key"]))
                for cid, c in data.get("cameras", {}).items()
            }
            edges = {str(k): str(v["public_key"]) for k, v in data.get("edges", {}).items()}
            cloud = data.get("cloud", {}).get("public_key")
        except FileNotFoundError:
            raise KeyringError(f"no {REGISTRY_FILE} in {directory}") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"{path} is not a valid key registry ({type(exc).__name__}: {exc})") from None
        return cls(cloud=cloud, edges=edges, cameras=cameras)

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "version": 1,
            "cloud": {"public_key": self.cloud} if self.cloud else {},
            "edges": {name: {"public_key": key} for name, key in sorted(self.edges.items())},
            "cameras": {
                cid: {"classroom_id": c.classroom_id, "edge": c.edge, "public_key": c.public_key}
                for cid, c in sorted(self.cameras.items())
            },
        }
        return json.dumps(data, indent=2) + "\n"

    def save(self, directory: Path) -> None:
        _write_atomic(directory / REGISTRY_FILE, self.to_json(), 0o644)

    def subset(self, edges: set[str], cameras: set[str], cloud: bool = True) -> Registry:
        """Only the named edges and cameras (what a bundle ships)."""
        return Registry(
            cloud=self.cloud if cloud else None,
            edges={k: v for k, v in self.edges.items() if k in edges},
            cameras={k: v for k, v in self.cameras.items() if k in cameras},
        )

    def edge_clients(self) -> dict[bytes, str]:
        """Public key -> edge name: the clients the cloud accepts."""
        return {key.encode(): name for name, key in self.edges.items()}

    def camera_clients(self, edge: str) -> dict[bytes, str]:
        """Public key -> camera id of the cameras registered to ``edge``: the clients it accepts."""
        return {c.public_key.encode(): c.camera_id for c in self.cameras.values() if c.edge == edge}


def secret_path(directory: Path, kind: Literal["cloud", "edges", "cameras"], name: str) -> Path:
    """Where the secret of ``name`` lives in a keys directory or bundle."""
    return directory / kind / f"{name}{SECRET_SUFFIX}"


def read_secret(path: Path) -> tuple[bytes, bytes]:
    """(public, secret) of a ``zmq.auth`` secret certificate; KeyringError if unusable."""
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyringError(f"cannot read key file {path}: {exc}") from None
    if not public or not secret:
        raise KeyringError(f"{path} holds no secret key (a public .key file was given?)")
    return public, secret


def write_secret(path: Path, public: bytes, secret: bytes) -> None:
    """Write a ``zmq.auth`` secret certificate readable by its owner only (0600)."""
    text = (
        "#   ZeroMQ CURVE **Secret** Certificate, written by rollcall-keys\n"
        "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
        "metadata\ncurve\n"
        f'    public-key = "{public.decode()}"\n'
        f'    secret-key = "{secret.decode()}"\n'
    )
    _write_atomic(path, text, 0o600)


def _write_atomic(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def keypair() -> tuple[bytes, bytes]:
    """A new CurveZMQ (public, secret) pair, Z85 encoded."""
    return zmq.curve_keypair()


# ----------------------------------------------------------------------------- loading per tier
class RegistryWatch:
    """The registry of a running server, re-read when ``registry.json`` changes (cameras added or
    re-bound by ``rollcall-keys generate`` need no restart). Checked at most once per
    ``interval_s``, and at once by :meth:`refresh` (a key the server does not know yet)."""

    def __init__(self, directory: Path, registry: Registry, interval_s: float = 1.0) -> None:
        self.directory = directory
        self.registry = registry
        self.interval_s = interval_s
        self._stamp = self._mtime()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _mtime(self) -> int | None:
        try:
            return (self.directory / REGISTRY_FILE).stat().st_mtime_ns
        except OSError:
            return None

    def current(self) -> Registry:
        """The registry, re-read if the file changed and ``interval_s`` passed since the last look."""
        if time.monotonic() - self._checked >= self.interval_s:
            self.refresh()
        return self.registry

    def refresh(self) -> Registry:
        """Re-read the registry now if the file changed (an unreadable file keeps the old one)."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._mtime()
            if stamp is not None and stamp != self._stamp:
                try:
                    self.registry = Registry.load(self.directory)
                    self._stamp = stamp
                except KeyringError:
                    pass  # half-written by hand: keep serving with the previous registry
        return self.registry


class LiveClients(Mapping[bytes, str]):
    """Public key -> identity from a :class:`RegistryWatch` (what a server's ZAP handler asks)."""

    def __init__(self, watch: RegistryWatch, select: Callable[[Registry], dict[bytes, str]]) -> None:
        self._watch = watch
        self._select = select

    def __getitem__(self, key: bytes) -> str:
        clients = self._select(self._watch.current())
        if key not in clients:  # maybe registered a moment ago
            clients = self._select(self._watch.refresh())
        return clients[key]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._select(self._watch.current()))

    def __len__(self) -> int:
        return len(self._select(self._watch.current()))


@dataclass(frozen=True)
class ServerKeys:
    """A binding side: its key pair and the registered clients (public key -> identity)."""

    public: bytes
    secret: bytes
    clients: Mapping[bytes, str]


@dataclass(frozen=True)
class ClientKeys:
    """A connecting side: its key pair and the server's public key."""

    public: bytes
    secret: bytes
    server_public: bytes


def _require_dir(directory: Path | None, tier: str) -> Path:
    if directory is None:
        raise KeyringError(f"CurveZMQ is on and no keys directory is set: {how_to_create(tier)}")
    if not directory.is_dir():
        raise KeyringError(f"keys directory {directory} does not exist: {how_to_create(tier)}")
    return directory


def _load_secret(path: Path, tier: str) -> tuple[bytes, bytes]:
    if not path.is_file():
        raise KeyringError(f"no key file {path}: {how_to_create(tier)}")
    return read_secret(path)


def cloud_keys(directory: Path | None) -> tuple[ServerKeys, RegistryWatch]:
    """The cloud's key pair and the edges it accepts (followed as the registry changes)."""
    directory = _require_dir(directory, "cloud")
    watch = RegistryWatch(directory, Registry.load(directory))
    public, secret = _load_secret(secret_path(directory, "cloud", CLOUD_NAME), "cloud")
    return ServerKeys(public, secret, LiveClients(watch, Registry.edge_clients)), watch


def edge_name_in(directory: Path, name: str) -> str:
    """``name`` or, when empty, the only edge whose secret is in ``directory``."""
    if name:
        return name
    found = sorted(p.name[: -len(SECRET_SUFFIX)] for p in (directory / "edges").glob(f"*{SECRET_SUFFIX}"))
    if len(found) != 1:
        what = "no edge key" if not found else f"keys of several edges ({', '.join(found)})"
        raise KeyringError(f"{directory}/edges holds {what}: set ROLLCALL_EDGE_NAME or use the edge's bundle")
    return found[0]


def edge_keys(directory: Path | None, name: str = "") -> tuple[str, ServerKeys, ClientKeys, RegistryWatch]:
    """The edge's name, its server keys (cameras registered to it, followed as the registry
    changes), its client keys (to the cloud) and the registry."""
    directory = _require_dir(directory, "edge")
    registry = Registry.load(directory)
    name = edge_name_in(directory, name)
    public, secret = _load_secret(secret_path(directory, "edges", name), "edge")
    if registry.edges.get(name) != public.decode():
        raise KeyringError(f"edge {name!r}: its key in {directory} is not the one in {REGISTRY_FILE}")
    if not registry.cloud:
        raise KeyringError(f"{directory}/{REGISTRY_FILE} has no cloud public key: {how_to_create('edge')}")
    watch = RegistryWatch(directory, registry)
    server = ServerKeys(public, secret, LiveClients(watch, lambda r: r.camera_clients(name)))
    return name, server, ClientKeys(public, secret, registry.cloud.encode()), watch


def camera_keys(directory: Path | None, camera_id: str, classroom_id: str) -> ClientKeys:
    """A camera's key pair and its edge's public key; KeyringError if the camera is not registered
    or registered to another classroom."""
    directory = _require_dir(directory, "iot")
    registry = Registry.load(directory)
    entry = registry.cameras.get(camera_id)
    if entry is None:
        raise KeyringError(f"camera {camera_id!r} is not in {directory}/{REGISTRY_FILE}: {how_to_create('iot')}")
    if entry.classroom_id != classroom_id:
        raise KeyringError(
            f"camera {camera_id!r} is registered to classroom {entry.classroom_id!r}, not {classroom_id!r} "
            "(its edge refuses frames claiming another classroom); re-run rollcall-keys generate"
        )
    public, secret = _load_secret(secret_path(directory, "cameras", camera_id), "iot")
    if entry.public_key != public.decode():
        raise KeyringError(f"camera {camera_id!r}: its key in {directory} is not the one in {REGISTRY_FILE}")
    edge_public = registry.edges.get(entry.edge)
    if edge_public is None:
        raise KeyringError(f"{directory}/{REGISTRY_FILE} has no public key of edge {entry.edge!r}")
    return ClientKeys(public, secret, edge_public.encode())


PLAINTEXT_WARNING = (
    "transport=plaintext: ZeroMQ links without CurveZMQ, unencrypted and unauthenticated; anyone who "
    "can reach the port can send messages. Use only on a trusted network or in tests."
)


def warn_if_plaintext(logger: logging.Logger, tier: str, transport: TransportMode) -> None:
    """Log the plain-TCP opt-in as a WARNING (every tier calls it at start)."""
    if transport == "plaintext":
        log_event(logger, "transport_plaintext", level=logging.WARNING, tier=tier, detail=PLAINTEXT_WARNING)
