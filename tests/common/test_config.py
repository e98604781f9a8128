import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import CommonSettings
from common.settings_base import CONFIG_FILE_ENV, ConfigError, RollcallSettings, load_settings, settings_table


class DemoSettings(RollcallSettings):
    toml_section = "demo"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_DEMO_", extra="ignore", frozen=True)

    fps: float = Field(1.0, gt=0, description="Frames per second.")
    address: str = Field("tcp://127.0.0.1:5555", description="Peer address.")


def test_defaults_run_locally(monkeypatch):
    monkeypatch.delenv(CONFIG_FILE_ENV, raising=False)
    s = load_settings(DemoSettings)
    assert s.fps == 1.0 and s.address.startswith("tcp://")


def test_env_beats_file_beats_default(monkeypatch, tmp_path):
    cfg = tmp_path / "rollcall.toml"
    cfg.write_text('[demo]\nfps = 3.0\naddress = "tcp://edge:5555"\n')
    monkeypatch.setenv(CONFIG_FILE_ENV, str(cfg))
    assert load_settings(DemoSettings).fps == 3.0
    monkeypatch.setenv("ROLLCALL_DEMO_FPS", "5")
    s = load_settings(DemoSettings)
    assert s.fps == 5.0 and s.address == "tcp://edge:5555"


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("ROLLCALL_DEMO_FPS", "-2")
    with pytest.raises(ConfigError) as info:
        load_settings(DemoSettings)
    assert "ROLLCALL_DEMO_FPS" in str(info.value)


def test_missing_or_broken_config_file(monkeypatch, tmp_path):
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not found"):
        load_settings(DemoSettings)
    bad = tmp_path / "bad.toml"
    bad.write_text("[demo\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(bad))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(DemoSettings)
    bad.write_text("demo = 5\n")
    with pytest.raises(ConfigError, match=r"\[demo\] must be a table"):
        load_settings(DemoSettings)


def test_settings_table_lists_every_variable():
    table = settings_table([CommonSettings, DemoSettings])
    for name in ("ROLLCALL_LOG_DIR", "ROLLCALL_LOG_LEVEL", "ROLLCALL_DEMO_FPS", "ROLLCALL_DEMO_ADDRESS"):
        assert f"`{name}`" in table
