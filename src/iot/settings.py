"""IoT tier settings (``ROLLCALL_IOT_*``) and the per-camera configuration derived from them.

The simple case is one camera: ``ROLLCALL_IOT_SOURCE``, ``ROLLCALL_IOT_CAMERA_ID`` and
``ROLLCALL_IOT_CLASSROOM_ID``. Several cameras in one process come from
``ROLLCALL_IOT_CAMERAS`` (a JSON list) or a TOML ``[[iot.cameras]]`` list; each entry
needs ``camera_id`` and ``source`` and may override ``classroom_id`` and the per-camera
options below. ``replicate`` turns every camera into N simulated ones (load generator).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from common.keyring import KEYS_DIR_DESCRIPTION, TRANSPORT_DESCRIPTION, TransportMode
from common.settings_base import ConfigError, RollcallSettings

from .sources import SourceSpec, parse_source


class CameraSpec(BaseModel):
    """One entry of ``ROLLCALL_IOT_CAMERAS``; unset options fall back to the top-level settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str = Field(min_length=1, max_length=100)
    source: str = Field(min_length=1)
    classroom_id: str | None = Field(None, min_length=1, max_length=128)
    fps: float | None = Field(None, ge=0)
    loop: bool | None = None
    realtime: bool | None = None
    max_width: int | None = Field(None, ge=0)
    jpeg_quality: int | None = Field(None, ge=1, le=100)
    motion_gate: bool | None = None
    motion_threshold: float | None = Field(None, gt=0, le=1)
    keyframe_interval_s: float | None = Field(None, ge=0)

    @field_validator("source")
    @classmethod
    def _source_exists(cls, value: str) -> str:
        parse_source(value)
        return value


class IotSettings(RollcallSettings):
    """Settings of the IoT tier (``rollcall-iot``)."""

    toml_section = "iot"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_IOT_", extra="ignore", frozen=True)

    source: str = Field(
        "0",
        description="Frame source: webcam index (`0`), video file, `rtsp://`/`http://` stream URL, or an image folder.",
    )
    camera_id: str = Field("cam-1", min_length=1, max_length=100, description="Camera id put in every message header.")
    classroom_id: str = Field("room-1", min_length=1, max_length=128, description="Classroom the camera belongs to.")
    cameras: Annotated[list[CameraSpec], NoDecode] = Field(
        [],
        description="Several cameras in one process: JSON list of `{camera_id, classroom_id, source, ...}` "
        "(or TOML `[[iot.cameras]]`). Overrides `SOURCE`/`CAMERA_ID`/`CLASSROOM_ID` when set.",
    )
    replicate: int = Field(
        1, ge=1, le=1000, description="Load generator: run each camera N times as `<camera_id>-<k>` (1 = off)."
    )
    edge_address: str = Field(
        "tcp://127.0.0.1:5555", min_length=1, description="ZeroMQ address of the edge's PULL socket."
    )
    fps: float = Field(1.0, ge=0, description="Maximum frames per second sent per camera (0 = every source frame).")
    realtime: bool = Field(
        True,
        description="Replay files and image folders at their native pace (camera simulation); false = as fast as "
        "possible, still sampling at `FPS` per second of video time.",
    )
    loop: bool = Field(
        False, description="Restart video files / image folders at the end instead of ending the stream."
    )
    folder_fps: float = Field(0.0, ge=0, description="Images per second an image-folder source produces (0 = `FPS`).")
    max_width: int = Field(1280, ge=0, description="Downscale frames wider than this many pixels (0 = never).")
    jpeg_quality: int = Field(85, ge=1, le=100, description="JPEG quality of sent frames.")
    motion_gate: bool = Field(
        False, description="Send only frames that differ from the last sent one (still scene -> nothing)."
    )
    motion_threshold: float = Field(
        0.005, gt=0, le=1, description="Motion gate: fraction of (downscaled) pixels that must change."
    )
    motion_pixel_delta: int = Field(
        25, ge=1, le=255, description="Motion gate: grey-level difference that counts a pixel as changed."
    )
    motion_width: int = Field(160, ge=16, le=1280, description="Motion gate: width of the grey frames compared.")
    keyframe_interval_s: float = Field(
        60.0, ge=0, description="Motion gate: send a frame at least this often even without motion (0 = never)."
    )
    stagger_cameras: bool = Field(
        True,
        description="Several cameras in one process start spread over one frame interval (camera i of n waits i/n "
        "of its interval, with `FPS` > 0 and `REALTIME`), as independent cameras are, so their frames reach the edge "
        "evenly instead of all at once every interval; false = all start together (phase-locked).",
    )
    send_hwm: int = Field(
        2, ge=1, le=1000, description="ZeroMQ send high-water mark; beyond it new frames are dropped."
    )
    eos_timeout_s: float = Field(
        10.0, ge=0, description="How long to keep retrying END_OF_STREAM when the edge is slow or down."
    )
    reconnect_initial_s: float = Field(0.5, gt=0, description="First wait before reopening a failed stream or webcam.")
    reconnect_max_s: float = Field(
        30.0, gt=0, description="Longest wait between stream reconnect attempts (backoff cap)."
    )
    open_timeout_s: float = Field(10.0, gt=0, description="Timeout for opening / reading a network stream.")
    max_frames: int = Field(
        0, ge=0, description="Stop each camera after this many frames (sent + dropped), 0 = no limit."
    )
    frame_log_level: Literal["DEBUG", "INFO"] = Field(
        "INFO", description="Level of the per-frame `frame_sent`/`frame_dropped` events."
    )
    transport: TransportMode = Field("curve", description=TRANSPORT_DESCRIPTION)
    keys_dir: Path = Field(
        Path("./keys"),
        description=KEYS_DIR_DESCRIPTION.format(bundle="camera-<camera_id>` or `iot-<edge>")
        + " Each camera uses its own key; its id and classroom must be the ones registered.",
    )

    @field_validator("cameras", mode="before")
    @classmethod
    def _cameras_json(cls, value: Any) -> Any:
        if isinstance(value, (str, bytes)):
            text = value.strip() if isinstance(value, str) else value.decode().strip()
            if not text:
                return []
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
        return value

    @field_validator("source")
    @classmethod
    def _source_exists(cls, value: str) -> str:
        parse_source(value)
        return value


@dataclass(frozen=True)
class CameraConfig:
    """Everything one camera pipeline needs, resolved from the settings."""

    camera_id: str
    classroom_id: str
    source: SourceSpec
    fps: float
    loop: bool
    realtime: bool
    folder_fps: float
    max_width: int
    jpeg_quality: int
    motion_gate: bool
    motion_threshold: float
    motion_pixel_delta: int
    motion_width: int
    keyframe_interval_s: float
    max_frames: int


def camera_configs(settings: IotSettings) -> list[CameraConfig]:
    """The cameras this process runs: the configured list (or the single camera), replicated.

    Raises ConfigError for combinations a single field cannot check.
    """
    problems = []
    specs = list(settings.cameras) or [
        CameraSpec(camera_id=settings.camera_id, classroom_id=settings.classroom_id, source=settings.source)
    ]
    configs: list[CameraConfig] = []
    for spec in specs:

        def pick(name: str, spec: CameraSpec = spec) -> Any:
            value = getattr(spec, name)
            return getattr(settings, name) if value is None else value

        base = {
            "classroom_id": spec.classroom_id or settings.classroom_id,
            "source": parse_source(spec.source),
            "fps": pick("fps"),
            "loop": pick("loop"),
            "realtime": pick("realtime"),
            "folder_fps": settings.folder_fps,
            "max_width": pick("max_width"),
            "jpeg_quality": pick("jpeg_quality"),
            "motion_gate": pick("motion_gate"),
            "motion_threshold": pick("motion_threshold"),
            "motion_pixel_delta": settings.motion_pixel_delta,
            "motion_width": settings.motion_width,
            "keyframe_interval_s": pick("keyframe_interval_s"),
            "max_frames": settings.max_frames,
        }
        if settings.replicate == 1:
            configs.append(CameraConfig(camera_id=spec.camera_id, **base))
        else:
            configs.extend(
                CameraConfig(camera_id=f"{spec.camera_id}-{k}", **base) for k in range(1, settings.replicate + 1)
            )
    ids = [c.camera_id for c in configs]
    clashes = sorted({i for i in ids if ids.count(i) > 1})
    if clashes:
        problems.append(f"  ROLLCALL_IOT_CAMERAS: duplicate camera ids (after replication): {', '.join(clashes)}")
    if problems:
        raise ConfigError("invalid IotSettings:\n" + "\n".join(problems))
    return configs


def load_iot_settings(**overrides: Any) -> IotSettings:
    """Like :func:`common.settings_base.load_settings`, naming the exact camera entry at fault
    (``ROLLCALL_IOT_CAMERAS[1].source``). Raises ConfigError."""
    try:
        return IotSettings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = err["loc"]
            name = IotSettings.env_name(str(loc[0])) if loc else "ROLLCALL_IOT_?"
            for part in loc[1:]:
                name += f"[{part}]" if isinstance(part, int) else f".{part}"
            lines.append(f"  {name}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("invalid IotSettings:\n" + "\n".join(lines)) from None
