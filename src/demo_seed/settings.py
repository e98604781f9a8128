"""Settings of the demo seeder (``ROLLCALL_SEED_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from common.settings_base import RollcallSettings


class SeedSettings(RollcallSettings):
    """Where the cloud API and the demo faces are, and what to create."""

    toml_section = "seed"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_SEED_", extra="ignore", frozen=True)

    api_url: str = Field("http://127.0.0.1:8080", description="Base URL of the cloud HTTP API the seeder talks to.")
    token: SecretStr = Field(
        SecretStr(""),
        description="API token the seeder sends (`Authorization: Bearer`): one made by `rollcall-cloud create-token`, or in the compose demo the value the cloud registers from `ROLLCALL_CLOUD_SEED_TOKEN`.",
    )
    enroll_dir: Path = Field(
        Path("../shared/assets/faces/enroll"),
        description="Demo students: one folder per student id holding `<n>.jpg` enrolment photos.",
    )
    probe_dir: Path = Field(
        Path("../shared/assets/faces/probe"),
        description="Photos (other than the enrolment ones) that the demo camera shows.",
    )
    manifest: Path = Field(
        Path("../shared/assets/faces/manifest.csv"),
        description="CSV `file,expected_person_ids` naming who is in each probe photo (ids `;`-separated, empty = nobody enrolled).",
    )
    frames_dir: Path | None = Field(
        None,
        description="Where to write the demo camera frames (probe photos of enrolled students, plus unknown people, letterboxed to one size). Empty = do not write frames.",
    )
    frame_width: int = Field(960, ge=160, le=4096, description="Width of the demo camera frames.")
    frame_height: int = Field(540, ge=120, le=4096, description="Height of the demo camera frames.")
    include_unknown: bool = Field(
        True,
        description="Also put probe photos of people nobody enrolled into the demo frames (they become unknown faces).",
    )
    classroom_id: str = Field(
        "demo-101", min_length=1, max_length=128, description="Classroom the demo creates and opens a session in."
    )
    classroom_name: str = Field("Demo classroom", description="Display name of the demo classroom.")
    session_name: str = Field(
        "Demo session", description="Name of the demo session (an open session of the classroom is reused)."
    )
    wait_s: float = Field(
        120.0, gt=0, description="How long to wait for the cloud API to become healthy before giving up."
    )
    timeout_s: float = Field(
        60.0, gt=0, description="Timeout of one HTTP request (enrolment runs face detection, so it can be slow)."
    )
