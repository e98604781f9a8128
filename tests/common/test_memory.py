"""common.memory: the glibc arena cap the multi-threaded tiers set before their threads start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.memory import limit_malloc_arenas


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas(2) == 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_cap_is_set_on_glibc() -> None:
    # In a fresh interpreter: the cap holds for the process's lifetime.
    code = "from common.memory import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env, check=True)
    assert out.stdout.strip() == "2"
