"""Shared fixtures: paths to the shared assets, which must exist in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))


def require_asset(relative: str) -> Path:
    """Path of a shared asset. Missing in CI fails the test loudly; locally it skips."""
    path = ASSETS / relative
    if not path.exists():
        message = f"required test asset missing: {path} (set ROLLCALL_ASSETS_DIR or put ../shared beside the repo)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    return ASSETS
