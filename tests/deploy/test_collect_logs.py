"""collect_logs.sh with a fake docker (local compose) and fake ssh (inventory hosts)."""

from __future__ import annotations

from pathlib import Path

from .fakes import calls, install_fakes, make_tar, run_script

LINE = '{"ts_ms":1,"tier":"%s","event":"metrics"}\n'


def test_local_compose_sorts_files_by_tier_and_is_idempotent(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    env["FAKE_CIDS"] = "c1 c2"
    make_tar(tmp_path / "tars" / "local.tar", {
        "cloud-abc.jsonl": LINE % "cloud",
        "edge-def.jsonl": LINE % "edge",
        "edge-def.jsonl.1": LINE % "edge",
        "iot-1.jsonl": LINE % "iot",
        "iot-2.jsonl": LINE % "iot",
        "notes.txt": "ignored",
    }, top="logs")
    out = tmp_path / "collected"
    args = ["--run-id", "r1", "--out", str(out)]
    result = run_script("collect_logs.sh", args, env)
    assert result.returncode == 0, result.stderr
    run = out / "r1"
    found = sorted(str(p.relative_to(run)) for p in run.rglob("*.jsonl*"))
    assert found == ["cloud/cloud-abc.jsonl", "edge/edge-def.jsonl", "edge/edge-def.jsonl.1",
                     "iot/iot-1.jsonl", "iot/iot-2.jsonl"]
    assert (run / "iot" / "iot-2.jsonl").read_text() == LINE % "iot"
    assert "local compose container c1:/app/logs" in (run / "MANIFEST.txt").read_text()
    assert ["docker", "cp", "c1:/app/logs", "-"] in calls(tmp_path)
    assert ["docker", "compose", "ps", "-a", "-q"] in calls(tmp_path)  # stopped containers count too
    assert result.stdout.splitlines()[-1] == str(run)
    # second run with the same id: same content, stale files removed
    (run / "iot" / "stale.jsonl").write_text("old")
    assert run_script("collect_logs.sh", args, env).returncode == 0
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*.jsonl*")) == found


def test_local_without_containers_fails_clearly(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    result = run_script("collect_logs.sh", ["--out", str(tmp_path / "o")], env)
    assert result.returncode != 0 and "no containers" in result.stderr


def test_inventory_hosts_over_ssh(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    for tier in ("cloud", "edge", "iot"):
        make_tar(tmp_path / "tars" / f"{tier}.tar", {f"{tier}-host.jsonl": LINE % tier,
                                                      **({"rekognition-h.jsonl": LINE % "rekognition"} if tier == "cloud" else {})})
    inventory = tmp_path / "inv.ini"
    inventory.write_text("[all]\nuser = u\nkey = /k.pem\n[cloud]\nhosts = c1\n[edge]\nhosts = e1\n[iot]\nhosts = i1 i2\n")
    out = tmp_path / "collected"
    result = run_script("collect_logs.sh", ["--inventory", str(inventory), "--run-id", "ec2", "--out", str(out)], env)
    assert result.returncode == 0, result.stderr
    ssh_calls = [c for c in calls(tmp_path) if c[0] == "ssh"]
    assert [c[-2] for c in ssh_calls] == ["u@c1", "u@e1", "u@i1", "u@i2"]
    assert all("rollcall-logs:/logs:ro" in c[-1] for c in ssh_calls)
    assert "-i" in ssh_calls[0] and "/k.pem" in ssh_calls[0]
    run = out / "ec2"
    assert (run / "cloud" / "cloud-host.jsonl").is_file() and (run / "rekognition" / "rekognition-h.jsonl").is_file()
    # two camera hosts sent a file of the same name and content: kept once
    assert [p.name for p in (run / "iot").iterdir()] == ["iot-host.jsonl"]


def test_relative_out_is_relative_to_the_caller(tmp_path: Path) -> None:
    env = install_fakes(tmp_path)
    env["FAKE_CIDS"] = "c1"
    make_tar(tmp_path / "tars" / "local.tar", {"cloud-a.jsonl": LINE % "cloud"}, top="logs")
    result = run_script("collect_logs.sh", ["--run-id", "r2", "--out", "here"], env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "here" / "r2" / "cloud" / "cloud-a.jsonl").is_file()
    assert result.stdout.splitlines()[-1] == str(tmp_path / "here" / "r2")
