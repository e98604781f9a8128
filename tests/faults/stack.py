"""The real Rollcall tiers as subprocesses on loopback, for fault injection, fuzzing and soak runs.

One :class:`Stack` owns a root directory (normally a pytest tmp dir) and gives each process a home
under it, with its own log dir (``ROLLCALL_LOG_DIR``), data dir, working directory and console
file, and its own free loopback ports::

    root/rekognition/  logs/rekognition-rekognition.jsonl  data/   console.log   (rollcall-rekognition serve)
    root/cloud/        logs/cloud-cloud.jsonl               data/rollcall.sqlite3  (rollcall-cloud serve)
    root/edge/         logs/edge-edge.jsonl                 data/  outbox.sqlite3   (rollcall-edge)
    root/camera-<n>/   logs/iot-camera-<n>.jsonl                                    (rollcall-iot)

Usage::

    with Stack(tmp_path / "stack") as stack:           # nothing runs yet
        stack.start()                                    # rekognition -> cloud -> edge, each healthy
        stack.enrol_dir(scenario / "enroll")             # students + photos through the HTTP API
        stack.create_classroom("room-1")
        session = stack.open_session("room-1")
        cam = stack.camera("cam-1", source=scenario / "video.mp4", classroom_id="room-1")
        stack.cloud.kill9(); stack.cloud.restart()      # a crash, same ports and data dir
        stack.cloud.freeze(); stack.cloud.thaw()         # SIGSTOP / SIGCONT
        stack.attendance(session)                        # records from GET /api/sessions/<id>/attendance
    # leaving the block stops every process (SIGTERM, then SIGKILL), also after a failure

Every wait is bounded (``timeout`` arguments, :data:`START_TIMEOUT_S` for start-ups) and raises
:class:`StackError` with the tail of the process's console when something does not come up.
Each :class:`TierProcess` runs in its own session (process group): signals never reach pytest, and
:meth:`TierProcess.kill9` kills the whole group as a container kill would.

Settings are passed only through environment variables (``ROLLCALL_REKOG_*``, ``ROLLCALL_CLOUD_*``,
``ROLLCALL_EDGE_*``, ``ROLLCALL_IOT_*``; README's settings table). Every ``ROLLCALL_*`` variable of
the calling environment is removed first, so a developer's shell cannot change the stack; extra
settings per tier can be given to :class:`Stack` (``edge_env=...``) or :meth:`Stack.camera`.

The links run CurveZMQ, the default a user gets: the stack writes keys (``rollcall-keys``'s
``generate``) under ``root/keys`` for the cloud and one edge (``edge-1``), and :meth:`Stack.camera`
registers each camera (id + classroom) before starting it; the cloud and the edge read only their
own bundle and pick new cameras up from the registry without a restart. ``transport="plaintext"``
runs plain TCP instead (the explicit opt-in; tests/faults/test_hostile_input.py uses it to reach
the parsers with unauthenticated peers).

This module imports nothing from pytest, so benchmarks can use it too; tests check the assets
(``require_asset``, ``require_model_file``) before building a stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from common.keys_cli import generate as generate_keys

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
#: The edge's test detector (tests/edge/conftest.py) and its person classes.
PEOPLE_MODEL = "yolov8s-people-fall.onnx"
PEOPLE_CLASSES = "Normal,Fall"
#: The stack's one edge, as named in its key registry.
EDGE_NAME = "edge-1"
#: Longest wait for one process to become healthy (the local Rekognition service loads dlib).
START_TIMEOUT_S = 90.0
#: Longest wait for a process to exit after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0
#: The key pair the cloud signs with (boto3) and the local Rekognition service verifies
#: (ROLLCALL_REKOG_ACCESS_KEYS); a local test value, not a secret.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "rollcall-faults",
    "AWS_SECRET_ACCESS_KEY": "not-a-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class StackError(RuntimeError):
    """A process of the stack did not start, exited early or did not answer in time."""


def default_models_dir() -> Path:
    """``ROLLCALL_EDGE_MODELS_DIR`` or ``<repo>/models`` (as tests/edge/conftest.py ``models_dir()``)."""
    return Path(os.environ.get("ROLLCALL_EDGE_MODELS_DIR", REPO / "models"))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def now_ms() -> int:
    return int(time.time() * 1000)


def poll(predicate: Callable[[], T], timeout: float, interval: float = 0.2) -> T | None:
    """Call ``predicate()`` until it returns something truthy (returned) or ``timeout`` seconds
    have passed (``None``; it is tried once more at the deadline). Unlike tests/conftest.py
    ``wait_until`` this never fails a test: callers decide what a timeout means."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)  # poll interval of a bounded condition wait
    value = predicate()
    return value if value else None


def _python_entry(script: str, module: str) -> list[str]:
    """The console script next to this interpreter (``.venv/bin/rollcall-cloud``), else ``python -m module``."""
    path = Path(sys.executable).parent / script
    return [str(path)] if path.exists() else [sys.executable, "-m", module]


class JsonLog:
    """A tier's JSON-lines log file, read incrementally (new lines on each call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._events: list[dict[str, Any]] = []

    def _read(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size < self._offset:  # rotated (50 MB): start on the new file
            self._offset, self._partial = 0, b""
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = self._partial + fh.read()
            self._offset = fh.tell()
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for the next read
        for line in lines:
            if line.startswith(b"{"):
                try:
                    self._events.append(json.loads(line))
                except ValueError:
                    continue

    def events(self, event: str | None = None, since_ms: int | None = None, **match: Any) -> list[dict[str, Any]]:
        """Log entries (dicts) named ``event`` (any when None), logged at or after ``since_ms``,
        whose fields equal ``match``."""
        self._read()
        return [
            e
            for e in self._events
            if (event is None or e.get("event") == event)
            and (since_ms is None or e.get("ts_ms", 0) >= since_ms)
            and all(e.get(k) == v for k, v in match.items())
        ]

    def forget(self) -> None:
        """Drop the entries read so far (long soak runs); later calls see only newer lines."""
        self._read()
        self._events.clear()


class TierProcess:
    """One tier as a subprocess: start / health / kill -9 / restart / stop / SIGSTOP / SIGCONT / RSS.

    ``health(proc)`` returns truthy once the process serves; it is polled after every spawn.
    The environment, ports and directories are fixed at construction, so :meth:`restart` brings
    back the same service on the same data (SQLite files survive a kill -9)."""

    def __init__(
        self,
        name: str,
        tier: str,
        argv: list[str],
        env: dict[str, str],
        home: Path,
        health: Callable[[TierProcess], Any],
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.tier = tier
        self.argv = argv
        self.home = home
        self.log_dir = home / "logs"
        self.console_path = home / "console.log"
        self.env = {**env, "ROLLCALL_LOG_DIR": str(self.log_dir), "ROLLCALL_INSTANCE_ID": name}
        self.health = health
        self.start_timeout = start_timeout
        self.log = JsonLog(self.log_dir / f"{tier}-{name}.jsonl")
        self.proc: subprocess.Popen[bytes] | None = None
        self.frozen = False
        self.spawned_ms = 0  # epoch ms of the last spawn: log lines of this run have ts_ms >= it
        self.spawns = 0
        self.healthy_s: list[float] = []  # seconds from spawn to healthy, per start

    # --- state --------------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def rss_kb(self) -> int | None:
        """Resident set size of the main process in kB (``VmRSS`` of /proc/<pid>/status); None when gone."""
        if not self.alive:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return None

    def console_tail(self, chars: int = 3000) -> str:
        try:
            return self.console_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # --- lifecycle ----------------------------------------------------------------------------
    def spawn(self) -> TierProcess:
        """Start the process without waiting (see :meth:`start`)."""
        if self.alive:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spawned_ms = now_ms()
        with open(self.console_path, "ab") as console:
            console.write(f"\n===== spawn {self.spawns + 1} at {self.spawned_ms}: {' '.join(self.argv)}\n".encode())
            console.flush()
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: our signals never reach pytest
            )
        self.spawns += 1
        self.frozen = False
        return self

    def wait_healthy(self, timeout: float | None = None) -> float:
        """Wait until ``health`` passes; return the seconds since the spawn. Raises StackError when
        the process exits or ``timeout`` (default ``start_timeout``) passes first."""
        timeout = self.start_timeout if timeout is None else timeout

        def check() -> bool:
            if not self.alive:
                raise StackError(
                    f"{self.name} exited with {self.returncode} before it was healthy:\n{self.console_tail()}"
                )
            try:
                return bool(self.health(self))
            except (OSError, ValueError):  # not listening yet, half-written answer
                return False

        if not poll(check, timeout, interval=0.1):
            raise StackError(f"{self.name} not healthy within {timeout:g} s:\n{self.console_tail()}")
        took = (now_ms() - self.spawned_ms) / 1000
        self.healthy_s.append(took)
        return took

    def start(self, timeout: float | None = None) -> TierProcess:
        """Spawn and wait until healthy (on failure the process is killed before raising)."""
        self.spawn()
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.kill9()
            raise
        return self

    def restart(self, timeout: float | None = None) -> TierProcess:
        """Start again with the same environment, ports and data; stops it first if still running."""
        if self.alive:
            self.stop()
        return self.start(timeout)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self, timeout: float = 10.0) -> None:
        """SIGKILL the process group (a crash: no clean-up, nothing flushed) and reap it."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"{self.name} (pid {self.pid}) survived SIGKILL for {timeout:g} s") from None
        self.frozen = False

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM (after SIGCONT if frozen) and wait; SIGKILL when it does not exit within ``timeout``.
        Returns the exit code (None if it never ran)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self.frozen:
                self.thaw()
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._signal_group(signal.SIGKILL)  # children left behind by a clean exit of the leader
        return self.proc.returncode

    def freeze(self) -> None:
        """SIGSTOP the process group: sockets stay open, nothing is read or answered."""
        self._signal_group(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        """SIGCONT after :meth:`freeze`."""
        self._signal_group(signal.SIGCONT)
        self.frozen = False

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for the process to end by itself; its exit code, or None."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    # --- logs ---------------------------------------------------------------------------------
    def events(self, event: str | None = None, since_ms: int | None = None, **match: Any) -> list[dict[str, Any]]:
        """Entries of this process's JSON log (all runs; ``since_ms=proc.spawned_ms`` for the current one)."""
        return self.log.events(event, since_ms, **match)

    def wait_event(
        self, event: str, timeout: float, since_ms: int | None = None, **match: Any
    ) -> dict[str, Any] | None:
        """The first ``event`` logged at or after ``since_ms`` (default: this run), or None after ``timeout``."""
        since = self.spawned_ms if since_ms is None else since_ms
        found = poll(lambda: self.events(event, since, **match), timeout)
        return found[0] if found else None

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else ("running" if self.alive else f"exited {self.returncode}")
        return f"<{type(self).__name__} {self.name} pid={self.pid} {state}>"


def http_json(
    url: str,
    method: str = "GET",
    body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 10.0,
    token: str = "",
) -> tuple[int, Any]:
    """One HTTP request (with ``Authorization: Bearer <token>`` when given); (status, parsed JSON
    body or None). HTTP errors are returned, not raised; connection problems raise OSError."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # loopback test stack
            payload = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        payload, status = exc.read(), exc.code
    return status, (json.loads(payload) if payload else None)


#: API token the test stack's cloud registers at start (ROLLCALL_CLOUD_SEED_TOKEN) and its calls send.
STACK_TOKEN = "rct_fault-stack-token-" + "0123456789abcdef" * 2


class ApiError(RuntimeError):
    """A non-2xx answer of the cloud API."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: HTTP {status} {json.dumps(body)[:300]}")
        self.status = status
        self.body = body


class Stack:
    """The local Rekognition service, the cloud, the edge and any number of IoT cameras.

    Construction only allocates ports and directories; :meth:`start` starts the three servers.
    ``*_env`` add or override settings of one tier (applied at every (re)start)."""

    def __init__(
        self,
        root: Path,
        models_dir: Path | None = None,
        person_model: str = PEOPLE_MODEL,
        person_classes: str = PEOPLE_CLASSES,
        rekognition_env: dict[str, str] | None = None,
        cloud_env: dict[str, str] | None = None,
        edge_env: dict[str, str] | None = None,
        camera_env: dict[str, str] | None = None,
        log_level: str = "INFO",
        metrics_interval_s: float = 5.0,
        transport: str = "curve",
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self.keys_dir = self.root / "keys"
        if transport == "curve":
            generate_keys(self.keys_dir, [], edges=[EDGE_NAME])
        self.models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
        self.rekognition_port = free_port()
        self.http_port = free_port()
        self.zmq_port = free_port()
        self.edge_port = free_port()
        self.rekognition_url = f"http://127.0.0.1:{self.rekognition_port}"
        self.cloud_url = f"http://127.0.0.1:{self.http_port}"
        self.cloud_address = f"tcp://127.0.0.1:{self.zmq_port}"
        self.edge_address = f"tcp://127.0.0.1:{self.edge_port}"
        self._camera_env = dict(camera_env or {})
        self.cameras: dict[str, TierProcess] = {}

        base = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
        base.update(AWS_ENV)
        base.update({"ROLLCALL_LOG_LEVEL": log_level, "ROLLCALL_METRICS_INTERVAL_S": str(metrics_interval_s)})
        for tier in ("CLOUD", "EDGE", "IOT"):
            base[f"ROLLCALL_{tier}_TRANSPORT"] = transport
        base.pop("AWS_PROFILE", None)
        base.pop("AWS_SESSION_TOKEN", None)
        self._base_env = base

        home = self.root / "rekognition"
        self.rekognition = TierProcess(
            "rekognition",
            "rekognition",
            [*_python_entry("rollcall-rekognition", "rekognition_local.cli"), "serve"],
            {
                **base,
                "ROLLCALL_REKOG_HOST": "127.0.0.1",
                "ROLLCALL_REKOG_PORT": str(self.rekognition_port),
                "ROLLCALL_REKOG_DATA_DIR": str(home / "data"),
                "ROLLCALL_REKOG_MODELS_DIR": str(self.models_dir),
                "ROLLCALL_REKOG_MODELS_MIRROR": "",  # never download during a test
                "ROLLCALL_REKOG_ACCESS_KEYS": f"{AWS_ENV['AWS_ACCESS_KEY_ID']}:{AWS_ENV['AWS_SECRET_ACCESS_KEY']}",
                "ROLLCALL_REKOG_THREADS": "4",
                "ROLLCALL_REKOG_INFERENCE_WORKERS": "1",  # a 2-core machine runs the other tiers too
                **(rekognition_env or {}),
            },
            home,
            self._rekognition_healthy,
        )
        home = self.root / "cloud"
        self.cloud_data_dir = home / "data"
        self.cloud = TierProcess(
            "cloud",
            "cloud",
            [*_python_entry("rollcall-cloud", "cloud.cli"), "serve"],
            {
                **base,
                "ROLLCALL_CLOUD_ZMQ_BIND": self.cloud_address,
                "ROLLCALL_CLOUD_HTTP_HOST": "127.0.0.1",
                "ROLLCALL_CLOUD_HTTP_PORT": str(self.http_port),
                "ROLLCALL_CLOUD_HTTP_THREADS": "4",
                "ROLLCALL_CLOUD_WORKERS": "2",
                "ROLLCALL_CLOUD_DATA_DIR": str(self.cloud_data_dir),
                "ROLLCALL_CLOUD_STORAGE": "sqlite",
                "ROLLCALL_CLOUD_S3_BUCKET": "",
                "ROLLCALL_CLOUD_REKOGNITION_ENDPOINT_URL": self.rekognition_url,
                "ROLLCALL_CLOUD_AWS_REGION": "us-east-1",
                "ROLLCALL_CLOUD_SEED_TOKEN": STACK_TOKEN,  # the API token the stack's own calls send
                "ROLLCALL_CLOUD_KEYS_DIR": str(self.keys_dir / "bundles" / "cloud"),
                **(cloud_env or {}),
            },
            home,
            self._cloud_healthy,
        )
        home = self.root / "edge"
        self.edge_outbox = home / "outbox.sqlite3"
        self.edge = TierProcess(
            "edge",
            "edge",
            _python_entry("rollcall-edge", "edge.cli"),
            {
                **base,
                "ROLLCALL_EDGE_BIND": self.edge_address,
                "ROLLCALL_EDGE_CLOUD_ADDRESS": self.cloud_address,
                "ROLLCALL_EDGE_MODELS_DIR": str(self.models_dir),
                "ROLLCALL_EDGE_PERSON_MODEL": person_model,
                "ROLLCALL_EDGE_PERSON_CLASSES": person_classes,
                # The on-disk outbox (at-least-once crop delivery); ignored by an edge without one.
                "ROLLCALL_EDGE_DATA_DIR": str(home / "data"),
                "ROLLCALL_EDGE_OUTBOX_PATH": str(self.edge_outbox),
                "ROLLCALL_EDGE_KEYS_DIR": str(self.keys_dir / "bundles" / f"edge-{EDGE_NAME}"),
                **(edge_env or {}),
            },
            home,
            lambda proc: proc.events("edge_started", since_ms=proc.spawned_ms),
        )

    # --- health checks ------------------------------------------------------------------------
    def _rekognition_healthy(self, _proc: TierProcess) -> bool:
        status, body = http_json(f"{self.rekognition_url}/health", timeout=2)
        return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

    def _cloud_healthy(self, _proc: TierProcess) -> bool:
        """The API answers with storage up (200, ``ok`` or ``degraded``: Rekognition may be down on purpose).
        HTTP starts after the ZeroMQ ingest is bound, so the ingest is up too."""
        status, _ = http_json(f"{self.cloud_url}/api/health", timeout=2)
        return status == 200

    def cloud_sees_rekognition(self) -> bool:
        """The cloud's health check reaches Rekognition (cached a few seconds by the cloud)."""
        try:
            status, body = http_json(f"{self.cloud_url}/api/health", timeout=5)
        except OSError:
            return False
        return status == 200 and bool(body.get("rekognition", {}).get("ok"))

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def servers(self) -> list[TierProcess]:
        return [self.rekognition, self.cloud, self.edge]

    def processes(self) -> list[TierProcess]:
        return [*self.cameras.values(), self.edge, self.cloud, self.rekognition]

    def start(self, timeout: float = START_TIMEOUT_S) -> Stack:
        """Start Rekognition, then the cloud (until it reaches Rekognition), then the edge."""
        self.rekognition.start(timeout)
        self.cloud.start(timeout)
        if not poll(self.cloud_sees_rekognition, timeout=30, interval=0.5):
            raise StackError(f"the cloud does not reach Rekognition:\n{self.cloud.console_tail()}")
        self.edge.start(timeout)
        return self

    def ensure_running(self, timeout: float = START_TIMEOUT_S) -> None:
        """Thaw frozen servers and restart dead ones (between fault cases)."""
        for proc in self.servers:
            if proc.frozen:
                proc.thaw()
            if not proc.alive:
                proc.start(timeout)

    def camera(
        self,
        camera_id: str,
        source: Path | str,
        classroom_id: str,
        fps: float = 2.0,
        loop: bool = False,
        realtime: bool = True,
        max_frames: int = 0,
        env: dict[str, str] | None = None,
        start: bool = True,
        timeout: float = 30.0,
    ) -> TierProcess:
        """An IoT camera process streaming ``source`` to the edge (started unless ``start=False``;
        healthy once it logged ``iot_started``). A camera of the same id is replaced (stopped first)."""
        previous = self.cameras.pop(camera_id, None)
        if previous is not None:
            previous.stop()
        home = self.root / f"camera-{camera_id}"
        if self.transport == "curve":  # register the camera: its key, bound to its id and classroom
            generate_keys(self.keys_dir, [(camera_id, classroom_id, EDGE_NAME)])
        proc = TierProcess(
            camera_id,
            "iot",
            _python_entry("rollcall-iot", "iot.cli"),
            {
                **self._base_env,
                "ROLLCALL_IOT_SOURCE": str(source),
                "ROLLCALL_IOT_CAMERA_ID": camera_id,
                "ROLLCALL_IOT_CLASSROOM_ID": classroom_id,
                "ROLLCALL_IOT_EDGE_ADDRESS": self.edge_address,
                "ROLLCALL_IOT_FPS": str(fps),
                "ROLLCALL_IOT_LOOP": str(loop).lower(),
                "ROLLCALL_IOT_REALTIME": str(realtime).lower(),
                "ROLLCALL_IOT_MAX_FRAMES": str(max_frames),
                "ROLLCALL_IOT_KEYS_DIR": str(self.keys_dir / "bundles" / f"camera-{camera_id}"),
                **self._camera_env,
                **(env or {}),
            },
            home,
            lambda p: p.events("iot_started", since_ms=p.spawned_ms),
            start_timeout=timeout,
        )
        self.cameras[camera_id] = proc
        if start:
            proc.start()
        return proc

    def close(self) -> None:
        """Stop every process (cameras first, Rekognition last); never raises. Idempotent."""
        for proc in self.processes():
            try:
                proc.stop()
            except Exception:  # clean-up must reach every process
                with contextlib.suppress(Exception):
                    proc.kill9()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def rss_kb(self) -> dict[str, int | None]:
        """Resident memory of every process, kB."""
        return {proc.name: proc.rss_kb() for proc in self.processes()}

    # --- cloud API ----------------------------------------------------------------------------
    def cloud_request(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, Any]:
        """One request to the cloud API: (status, JSON); raises OSError when it does not answer."""
        return http_json(self.cloud_url + path, method, body, raw, content_type, timeout, token=STACK_TOKEN)

    def cloud_api(self, path: str, timeout: float = 10.0) -> Any:
        """``GET path`` of the cloud API, parsed; raises ApiError on a non-2xx answer."""
        status, body = self.cloud_request("GET", path, timeout=timeout)
        if not 200 <= status < 300:
            raise ApiError("GET", path, status, body)
        return body

    def cloud_post(
        self,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        status, answer = self.cloud_request("POST", path, body, raw, content_type, timeout=60)
        if status not in ok:
            raise ApiError("POST", path, status, answer)
        return answer

    def enrol_dir(self, enroll_dir: Path) -> dict[str, int]:
        """Create each ``enroll_dir/<student_id>/`` student and enrol its photos through the API
        (like ``rollcall-cloud enrol-dir``, but over HTTP so the running cloud does it);
        returns photos enrolled per student. Raises ApiError when a photo is refused."""
        enrolled: dict[str, int] = {}
        for folder in sorted(p for p in Path(enroll_dir).iterdir() if p.is_dir()):
            student_id = folder.name
            name = " ".join(w.capitalize() for w in student_id.replace("_", " ").split())
            self.cloud_post("/api/students", {"student_id": student_id, "name": name}, ok=(201, 409))
            enrolled[student_id] = 0
            for photo in sorted(folder.iterdir()):
                kind = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}.get(photo.suffix.lower())
                if kind is None:
                    continue
                self.cloud_post(f"/api/students/{student_id}/photos", raw=photo.read_bytes(), content_type=kind)
                enrolled[student_id] += 1
        return enrolled

    def create_classroom(self, classroom_id: str, name: str | None = None) -> None:
        self.cloud_post("/api/classrooms", {"classroom_id": classroom_id, "name": name or classroom_id}, ok=(201, 409))

    def open_session(self, classroom_id: str, name: str = "fault test") -> str:
        """Open a session now in ``classroom_id`` (created if missing); its id."""
        self.create_classroom(classroom_id)
        return str(self.cloud_post("/api/sessions", {"classroom_id": classroom_id, "name": name})["session_id"])

    def close_session(self, session_id: str) -> None:
        self.cloud_post(f"/api/sessions/{session_id}/close")

    def attendance(self, session_id: str) -> list[dict[str, Any]]:
        """The session's attendance records (``GET /api/sessions/<id>/attendance``)."""
        return list(self.cloud_api(f"/api/sessions/{session_id}/attendance")["records"])

    def metrics(self) -> dict[str, Any]:
        return dict(self.cloud_api("/api/metrics"))

    @contextlib.contextmanager
    def cloud_db(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection to the cloud's SQLite store (safe while the cloud runs: WAL)."""
        path = self.cloud_data_dir / "rollcall.sqlite3"
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        connection.row_factory = sqlite3.Row
        try:
            yield connection
        finally:
            connection.close()
