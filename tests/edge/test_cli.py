import json
import os
import signal
import subprocess
import sys
import time

from common.keys_cli import generate
from tests.conftest import REPO
from tests.edge.conftest import PEOPLE_MODEL, models_dir


def keys_dir(tmp_path):
    """CurveZMQ keys of one edge (the default transport): its bundle directory."""
    generate(tmp_path / "keys", [("cam-1", "room-1", "edge-1")])
    return str(tmp_path / "keys" / "bundles" / "edge-edge-1")


def test_help():
    out = subprocess.run([sys.executable, "-m", "edge.cli", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "ROLLCALL_EDGE_BIND" in out.stdout


def test_missing_model_is_a_clear_error(tmp_path):
    env = dict(os.environ, ROLLCALL_EDGE_MODELS_DIR=str(tmp_path), ROLLCALL_LOG_DIR=str(tmp_path / "logs"),
               ROLLCALL_EDGE_BIND="tcp://127.0.0.1:*", ROLLCALL_EDGE_KEYS_DIR=keys_dir(tmp_path))
    out = subprocess.run([sys.executable, "-m", "edge.cli"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    assert "yolov8n.onnx" in out.stderr and "rollcall-models fetch" in out.stderr


def test_missing_keys_are_a_clear_error(tmp_path):
    env = dict(os.environ, ROLLCALL_LOG_DIR=str(tmp_path / "logs"), ROLLCALL_EDGE_KEYS_DIR=str(tmp_path / "none"))
    out = subprocess.run([sys.executable, "-m", "edge.cli"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    assert "rollcall-keys generate" in out.stderr and "ROLLCALL_EDGE_TRANSPORT=plaintext" in out.stderr


def test_port_in_use_is_a_clear_error(tmp_path, monkeypatch, capsys, people_model, yunet_model):
    import zmq

    from edge.cli import main

    taken = zmq.Context.instance().socket(zmq.PULL)
    taken.setsockopt(zmq.LINGER, 0)
    port = taken.bind_to_random_port("tcp://127.0.0.1")
    try:
        for name, value in dict(
            ROLLCALL_EDGE_MODELS_DIR=str(models_dir()),
            ROLLCALL_EDGE_PERSON_MODEL=PEOPLE_MODEL,
            ROLLCALL_EDGE_PERSON_CLASSES="Normal,Fall",
            ROLLCALL_EDGE_BIND=f"tcp://127.0.0.1:{port}",
            ROLLCALL_LOG_DIR=str(tmp_path / "logs"),
            ROLLCALL_EDGE_KEYS_DIR=keys_dir(tmp_path),
        ).items():
            monkeypatch.setenv(name, value)
        assert main([]) == 1
        err = capsys.readouterr().err
        assert f"bind tcp://127.0.0.1:{port}" in err and "Address already in use" in err
    finally:
        taken.close()


def test_sigterm_stops_cleanly(tmp_path, people_model, yunet_model):
    env = dict(
        os.environ,
        ROLLCALL_EDGE_MODELS_DIR=str(models_dir()),
        ROLLCALL_EDGE_PERSON_MODEL=PEOPLE_MODEL,
        ROLLCALL_EDGE_PERSON_CLASSES="Normal,Fall",
        ROLLCALL_EDGE_BIND="tcp://127.0.0.1:*",
        ROLLCALL_LOG_DIR=str(tmp_path / "logs"),
        ROLLCALL_INSTANCE_ID="edge-test",
        ROLLCALL_EDGE_KEYS_DIR=keys_dir(tmp_path),
    )
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        events = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            events.append(json.loads(line)["event"])
            if events[-1] == "edge_started":
                break
        assert "edge_started" in events, proc.stderr.read() if proc.poll() is not None else events
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0
        tail = [json.loads(line)["event"] for line in rest.splitlines() if line.startswith("{")]
        assert "metrics" in tail and tail[-1] == "edge_stopped"
        assert (tmp_path / "logs" / "edge-edge-test.jsonl").is_file()
    finally:
        if proc.poll() is None:
            proc.kill()


# A stand-in EdgeService whose wait() holds the stop event's internal lock when SIGTERM arrives:
# what Event.wait() does for a few bytecodes of every call, made certain here. The signal handler
# runs inside that region (at the loop's next bytecode check).
SIGNAL_IN_WAIT = r'''
import os, signal, sys, threading
import edge.service

class Service:
    def __init__(self, settings, logger=None, metrics_interval_s=None):
        self._stop = threading.Event()

    def start(self):
        return self

    def wait(self):
        with self._stop._cond:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(100_000):
                pass
        while not self._stop.wait(0.5):
            pass

    def stop(self):
        print("stopped", flush=True)

edge.service.EdgeService = Service
from edge.cli import main
sys.exit(main([]))
'''


def test_a_signal_arriving_inside_wait_does_not_deadlock(tmp_path):
    env = dict(os.environ, ROLLCALL_LOG_DIR=str(tmp_path / "logs"), ROLLCALL_INSTANCE_ID="edge-test")
    proc = subprocess.Popen([sys.executable, "-c", SIGNAL_IN_WAIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    try:
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    events = [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]
    assert "signal" in events and out.rstrip().endswith("stopped")
