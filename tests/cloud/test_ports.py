"""The domain (service, collaborators, port) imports and runs without boto3/botocore;
only the adapter modules and cloud.bootstrap pull AWS in. And src/cloud imports only common."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
DOMAIN = ["cloud.ports", "cloud.deps", "cloud.inputs", "cloud.tracing", "cloud.roster", "cloud.sessions",
          "cloud.attendance", "cloud.review", "cloud.crops", "cloud.health", "cloud.service", "common.rules"]
#: The only cloud modules allowed to import boto3/botocore: the adapters (storage/evidence.py's
#: S3EvidenceStore imports botocore lazily, inside a method) and bootstrap, which wires boto3 in.
AWS_ADAPTERS = {"aws_client.py", "aws_calls.py", "recognition.py", "bootstrap.py", "storage/dynamodb.py",
                "storage/dynamodb_items.py", "storage/accounts_dynamodb.py", "storage/teacher_dynamodb.py",
                "storage/evidence.py"}

PROBE = """
import sys
sys.modules["boto3"] = None        # "import boto3" now raises ImportError
sys.modules["botocore"] = None
import importlib
for name in {modules!r}:
    importlib.import_module(name)
from cloud.service import AttendanceService
from cloud.storage.evidence import LocalEvidenceStore
from cloud.storage.sqlite import SQLiteStore
from cloud.settings import CloudSettings
import tempfile, pathlib
tmp = pathlib.Path(tempfile.mkdtemp())
class Nobody:
    collection_id = "c"
    def describe_collection(self):
        return {{"FaceCount": 0}}
svc = AttendanceService(SQLiteStore(tmp / "db"), LocalEvidenceStore(tmp), Nobody(), CloudSettings(data_dir=tmp))
svc.create_classroom("room-1")
assert svc.health()["status"] == "ok"
assert not any(m.split(".")[0] in ("boto3", "botocore") for m, v in sys.modules.items() if v is not None)
try:
    import cloud.bootstrap
except ImportError:
    print("OK")
"""


def test_domain_imports_without_boto3() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", PROBE.format(modules=DOMAIN)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_cloud_imports_only_common_and_aws_only_in_adapters() -> None:
    root = SRC / "cloud"
    for path in root.rglob("*.py"):
        names = _imports(path)
        rel = path.relative_to(root).as_posix()
        assert not names & {"edge", "iot", "evaluation", "rekognition_local"}, rel
        if rel not in AWS_ADAPTERS:
            assert not names & {"boto3", "botocore"}, rel
