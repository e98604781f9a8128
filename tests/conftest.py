"""Shared fixtures: paths to the shared assets, which must exist in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("ROLLCALL_ASSETS_DIR", REPO.parent / "shared" / "assets"))


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
