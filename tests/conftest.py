"""Shared fixtures and helpers: paths to the shared assets (which must exist in CI), and waits on
conditions (``wait_until``) or on the absence of something (``assert_nothing_within``) instead of
fixed sleeps."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))

T = TypeVar("T")


def require_path(path: Path, what: str, hint: str) -> Path:
    """``path`` if it exists. Missing: fails the test loudly under CI (env CI set), skips locally."""
    if not path.exists():
        message = f"{what} missing: {path} ({hint})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_asset(relative: str) -> Path:
    """Path of a shared asset (fails under CI, skips locally when missing)."""
    return require_path(ASSETS / relative, "required test asset",
                        "set ROLLCALL_ASSETS_DIR or put ../shared beside the repo")


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    return ASSETS


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02,
               message: str = "condition not met") -> T:
    """Poll ``predicate()`` until it is truthy and return that value; else fail the test.

    The predicate is tried once more at the deadline, so a slow scheduler costs time, not a false
    failure. Exceptions from the predicate propagate (a predicate may raise to give up early)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)  # poll interval of a condition wait
    value = predicate()
    if value:
        return value
    pytest.fail(f"{message} (waited {timeout:g} s)")


def assert_nothing_within(probe: Callable[[], object], seconds: float, reason: str, interval: float = 0.02) -> None:
    """A negative check: ``probe()`` must stay falsy for ``seconds``; fail at once when it is not.

    Nothing can signal that something did *not* happen, so this bounded wait is the point: it is
    as long as a positive outcome would plausibly take to show up."""
    started = time.monotonic()
    deadline = started + seconds
    while True:
        value = probe()
        if value:
            pytest.fail(f"{reason}: got {value!r} after {time.monotonic() - started:.2f} s")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)  # poll interval of a bounded negative check
