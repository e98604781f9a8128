"""The code's shape: the tiers import only ``common`` (and themselves), ``common`` imports no tier,
and no source file grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGES = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
TIERS = ("iot", "edge", "cloud", "rekognition_local")
MAX_LINES = 400


def project_imports(package: str) -> dict[str, set[str]]:
    """Module path -> the project packages it imports (absolute imports only; relative ones stay inside)."""
    found: dict[str, set[str]] = {}
    for path in sorted((SRC / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(SRC))] = names & PACKAGES
    return found


@pytest.mark.parametrize("tier", TIERS)
def test_a_tier_imports_only_common(tier: str) -> None:
    for module, packages in project_imports(tier).items():
        assert packages <= {tier, "common"}, f"{module} imports {sorted(packages - {tier, 'common'})}"


def test_common_imports_no_tier() -> None:
    for module, packages in project_imports("common").items():
        assert packages <= {"common"}, f"{module} imports {sorted(packages - {'common'})}"


def test_no_source_file_is_over_the_limit() -> None:
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"
