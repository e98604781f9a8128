"""README.md must stay true to the code: settings table and the two commands."""

from pathlib import Path

from common.settings_base import all_settings_classes, render_readme, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_table_is_current():
    text = README.read_text()
    expected = render_readme(text, settings_table(all_settings_classes()))
    assert text == expected, "README settings table is stale: run `python -m common.settings_base --write-readme README.md`"


def test_every_tier_is_documented():
    names = {cls.__module__.split(".")[0] for cls in all_settings_classes()}
    assert {"common", "iot", "edge", "cloud", "rekognition_local"} <= names


def test_readme_commands_exist():
    text = README.read_text()
    root = README.parent
    for script in ("scripts/test.sh", ".ci/run"):
        assert (root / script).exists()
    assert "./scripts/test.sh" in text
    assert "./scripts/test.sh" in (root / ".ci/run").read_text()
