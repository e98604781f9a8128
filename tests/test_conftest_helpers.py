"""The shared test helpers in tests/conftest.py (fast: no wait here is longer than 0.1 s)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import assert_nothing_within, require_path, wait_until


def calls_until_true(n: int, value: object = "done"):  # type: ignore[no-untyped-def]
    """A predicate that is falsy for its first ``n - 1`` calls, then returns ``value``."""
    calls = []

    def predicate() -> object:
        calls.append(1)
        return value if len(calls) >= n else None

    predicate.calls = calls  # type: ignore[attr-defined]
    return predicate


def test_wait_until_returns_the_truthy_value_at_once() -> None:
    predicate = calls_until_true(1, {"id": 7})
    assert wait_until(predicate, timeout=5, interval=0.001) == {"id": 7}
    assert len(predicate.calls) == 1


def test_wait_until_polls_until_the_predicate_holds() -> None:
    predicate = calls_until_true(4, 42)
    assert wait_until(predicate, timeout=5, interval=0.001) == 42
    assert len(predicate.calls) == 4


def test_wait_until_fails_with_the_message_and_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"the queue never drained \(waited 0.05 s\)"):
        wait_until(lambda: 0, timeout=0.05, interval=0.01, message="the queue never drained")
    assert 0.05 <= time.monotonic() - started < 1.0


def test_wait_until_checks_once_more_at_the_deadline() -> None:
    # With no time at all, the first call is falsy and the last-chance call at the deadline wins.
    predicate = calls_until_true(2, "late")
    assert wait_until(predicate, timeout=0, interval=0.001) == "late"


def test_wait_until_lets_the_predicate_give_up_early() -> None:
    def predicate() -> bool:
        raise AssertionError("the process exited")

    with pytest.raises(AssertionError, match="the process exited"):
        wait_until(predicate, timeout=5)


def test_assert_nothing_within_passes_when_nothing_shows_up() -> None:
    probes = []
    started = time.monotonic()
    assert_nothing_within(lambda: probes.append(1), 0.05, "nothing expected", interval=0.005)
    assert time.monotonic() - started >= 0.05
    assert len(probes) >= 2  # probed repeatedly, and once more at the end


def test_assert_nothing_within_fails_as_soon_as_something_shows_up() -> None:
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"the stranger got through: got 'frame 666' after"):
        assert_nothing_within(calls_until_true(3, "frame 666"), 5, "the stranger got through", interval=0.001)
    assert time.monotonic() - started < 1.0


def test_require_path_returns_an_existing_path(tmp_path: Path) -> None:
    assert require_path(tmp_path, "dir", "hint") == tmp_path


def test_require_path_skips_locally_and_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"model missing: .*nope \(run prepare\)"):
        require_path(missing, "model", "run prepare")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"model missing: .*nope \(run prepare\)"):
        require_path(missing, "model", "run prepare")
