"""Settings shared by every tier (logging and metrics)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from .settings_base import RollcallSettings


class CommonSettings(RollcallSettings):
    """Logging and metrics settings, read by every tier."""

    toml_section = "common"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_", extra="ignore", frozen=True)

    log_dir: Path = Field(
        Path("/app/logs"),
        description="Directory for JSON-lines log files (stdout always gets them too). Unwritable -> stdout only, with a warning.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Minimum log level.")
    metrics_interval_s: float = Field(10.0, gt=0, description="Seconds between periodic `metrics` log lines.")
    instance_id: str = Field("", description="Name of this process in logs and log file names (default: hostname).")
