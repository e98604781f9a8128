"""The compose files: every variable documented, no credentials, valid structure."""

from __future__ import annotations

import re
from pathlib import Path

import yaml  # PyYAML, pinned in dependencies/test.txt: a missing module must fail, not skip

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILES = sorted(REPO.glob("docker-compose*.yml"))


def _variables(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def test_every_compose_variable_is_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    used = set().union(*(_variables(p.read_text()) for p in COMPOSE_FILES))
    assert used and not used - documented, f"undocumented: {sorted(used - documented)}"


def test_no_credentials_in_compose_or_images() -> None:
    for path in [*COMPOSE_FILES, *REPO.glob("docker/*.Dockerfile")]:
        text = path.read_text()
        assert not re.search(r"AKIA[0-9A-Z]{12,}", text), path
        for match in re.finditer(r"AWS_SECRET_ACCESS_KEY:[ \t]*(\S*)", text):
            assert match.group(1) in ("", "${ROLLCALL_LOCAL_AWS_SECRET:-}"), path  # from .env, generated
        assert "COPY .env" not in text and "/.aws" not in text


def test_demo_compose_structure() -> None:
    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"rekognition", "cloud", "seed", "edge", "camera-students", "camera-classroom"} <= set(services)
    assert services["cloud"]["depends_on"]["rekognition"]["condition"] == "service_healthy"
    assert services["edge"]["depends_on"]["cloud"]["condition"] == "service_healthy"
    assert services["camera-students"]["depends_on"]["seed"]["condition"] == "service_completed_successfully"
    assert any(p.startswith("${ROLLCALL_HTTP_PUBLISH:-8080}:8080") for p in services["cloud"]["ports"])
    for name, service in services.items():
        if name == "keys":
            continue
        assert any(v.startswith("logs:/app/logs") for v in service["volumes"]), name
        if name != "seed":  # the one-shot seed has none; YAML merge keys (<<: *camera) are resolved here
            assert service["healthcheck"]["test"][:2] == ["CMD", "rollcall-healthcheck"], name
    assert services["camera-load"]["profiles"] == ["load"]
    assert services["camera-lecture"]["profiles"] == ["lecture"]


def test_demo_compose_runs_curve_with_one_key_volume_per_service() -> None:
    """Issue 13: CurveZMQ on both links. The one-shot `keys` service installs each service's bundle
    into its own volume; every ZeroMQ service waits for it, mounts only its own volume read-only
    and never opts in to plain TCP."""
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    keys = services["keys"]
    assert keys["entrypoint"][:2] == ["rollcall-keys", "install"] and keys["user"] == "0:0"
    assert "${ROLLCALL_KEYS_DIR:-./keys}/bundles:/bundles:ro" in keys["volumes"]
    seen = set()
    for name in ("cloud", "edge", "camera-students", "camera-classroom", "camera-load", "camera-lecture"):
        service = services[name]
        assert service["depends_on"]["keys"]["condition"] == "service_completed_successfully", name
        mounts = [v for v in service["volumes"] if v.split(":")[0].startswith("keys-")]
        assert len(mounts) == 1 and mounts[0].endswith(":/app/keys:ro"), (name, mounts)
        volume = mounts[0].split(":")[0]
        assert volume not in seen and any(t.startswith(volume + ":") for t in keys["volumes"]), name
        seen.add(volume)
        env = service["environment"]
        assert any(env.get(f"ROLLCALL_{tier}_KEYS_DIR") == "/app/keys" for tier in ("CLOUD", "EDGE", "IOT")), name
    for path in COMPOSE_FILES:
        assert "TRANSPORT: plaintext" not in path.read_text() and "_TRANSPORT=plaintext" not in path.read_text(), path


def test_aws_override_only_passes_credentials_through() -> None:
    doc = yaml.safe_load((REPO / "docker-compose.aws.yml").read_text())
    env = doc["services"]["cloud"]["environment"]
    assert env["ROLLCALL_CLOUD_REKOGNITION_ENDPOINT_URL"] == ""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        assert env[key] is None  # no value: passed through from the shell if set there


def test_dockerignore_keeps_secrets_and_bulk_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv*", "models", "data", "res", "tests", ".env", "keys", "deploy/inventory.ini"):
        assert entry in ignored


def _requirements(name: str) -> set[str]:
    """Package names a dependencies/*.txt file installs, following ``-r`` includes."""
    names: set[str] = set()
    for line in (REPO / "dependencies" / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= _requirements(line[3:].strip())
        elif line:
            names.add(re.split(r"[=<>~!\[; ]", line, maxsplit=1)[0].lower())
    return names


def test_edge_image_has_no_torch() -> None:
    text = (REPO / "docker" / "edge.Dockerfile").read_text()
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs and all(re.search(r"-r /tmp/dependencies/edge\.txt\s*$|--no-deps", line) for line in installs), installs
    edge = _requirements("edge.txt")
    assert "onnxruntime" in edge and not edge & {"torch", "torchvision", "ultralytics"}
    # pyproject's own dependencies (installed --no-deps, but they must not pull torch either)
    assert "torch" not in (REPO / "pyproject.toml").read_text().split("dependencies =", 1)[1].split("\n", 1)[0]
