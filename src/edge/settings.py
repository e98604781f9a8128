"""Edge tier settings (``ROLLCALL_EDGE_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.keyring import KEYS_DIR_DESCRIPTION, TRANSPORT_DESCRIPTION, TransportMode
from common.settings_base import RollcallSettings


class EdgeSettings(RollcallSettings):
    """Receiving, detection, tracking and uplink settings of the edge tier."""

    toml_section = "edge"
    model_config = SettingsConfigDict(env_prefix="ROLLCALL_EDGE_", extra="ignore", frozen=True)

    # --- links ---
    bind: str = Field(
        "tcp://*:5555",
        description="ZeroMQ PULL address the edge binds for FRAME / END_OF_STREAM messages from IoT cameras.",
    )
    cloud_address: str = Field(
        "tcp://127.0.0.1:5556",
        description="Cloud ROUTER address the edge connects a DEALER to (face crops up, RESULT messages back).",
    )
    receive_hwm: int = Field(
        100,
        ge=1,
        description="ZeroMQ receive high-water mark of the frame socket (messages queued in the kernel/library before the receiver thread pulls them).",
    )
    cloud_hwm: int = Field(
        32,
        ge=1,
        description="Face crops queued in ZeroMQ towards the cloud; beyond it crops wait in the outbox (`uplink_busy`), never dropped.",
    )
    max_cameras: int = Field(
        1024,
        ge=1,
        description="Cameras the edge keeps tracks for; beyond it the least recently seen camera is forgotten (`cameras_forgotten`), as is a camera idle for 10 minutes. Bounds the state new camera ids can create.",
    )
    allowed_cameras: str = Field(
        "",
        description="Comma-separated camera ids accepted from the IoT tier. Empty = any camera; otherwise frames of other cameras are dropped and counted as `unknown_cameras`.",
    )
    transport: TransportMode = Field("curve", description=TRANSPORT_DESCRIPTION)
    keys_dir: Path = Field(Path("./keys"), description=KEYS_DIR_DESCRIPTION.format(bundle="edge-<name>"))
    name: str = Field(
        "",
        max_length=100,
        description="This edge's name in the key registry: its key pair serves its cameras and connects to the cloud; it accepts only the cameras registered to it. Empty = the only edge whose key is in `keys_dir`.",
    )

    # --- frame buffer and workers ---
    buffer_capacity: int = Field(
        16,
        ge=1,
        description="Frames held between the receiver and the workers (all cameras together). When full the oldest frame of the camera holding most frames is dropped (`frames_dropped_buffer`).",
    )
    max_frame_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        le=16384 * 16384,
        description="Largest frame decoded (pixels, from the JPEG/PNG header before any pixel is decoded; default 4K UHD, 8.3 MP). Larger frames are refused (`frames_refused_too_large`), as are frames whose header cannot be read (`frames_refused_header_unreadable`) or whose size differs from the message's `image.width/height` (`frames_refused_size_mismatch`).",
    )
    workers: int = Field(
        2,
        ge=1,
        le=16,
        description="Worker threads running detection. Each camera is processed by one worker at a time, so its frames stay in order. One worker per core (2) with `onnx_threads=1` spends the least CPU per frame.",
    )

    # --- person detection ---
    backend: Literal["onnx", "openvino", "ultralytics"] = Field(
        "onnx",
        description="Person detector: `onnx` (ONNX Runtime on the CPU, no torch), `openvino` (OpenVINO on the CPU, same ONNX file, same boxes; no faster than ONNX Runtime on the AMD CPUs measured in res/benchmarks/REPORT.md, may be on Intel ones) or `ultralytics` (ultralytics.YOLO predict; needs torch + torchvision, e.g. on GPU hosts).",
    )
    models_dir: Path = Field(
        Path("./models"),
        description="Directory holding the model files (`rollcall-models fetch` / `scripts/prepare_models.sh` fill it).",
    )
    person_model: str = Field(
        "yolov8n.onnx",
        description="Person detector file in `models_dir` (or an absolute path). ONNX for the `onnx` backend; `.pt` or `.onnx` for `ultralytics`. Default: official Ultralytics COCO YOLOv8n exported to ONNX.",
    )
    person_classes: str = Field(
        "person",
        description="Comma-separated classes that count as a person, by name (from the model's metadata) or by numeric id. COCO: `person` (id 0). The test model yolov8s-people-fall: `Normal,Fall`.",
    )
    conf_threshold: float = Field(0.25, gt=0, lt=1, description="Minimum person confidence.")
    iou_threshold: float = Field(
        0.45, gt=0, lt=1, description="IoU above which overlapping person boxes are merged by non-maximum suppression."
    )
    input_size: int = Field(
        640,
        ge=32,
        le=4096,
        description="Detector input size in pixels: the longer side of the letterbox. With a dynamic-shape ONNX model (what `scripts/prepare_models.sh` exports) each frame is letterboxed to the smallest stride-32 rectangle, as Ultralytics does (16:9 at 640: 640x384). A static ONNX model's own input size wins.",
    )
    onnx_threads: int = Field(
        1,
        ge=0,
        le=64,
        description="Inference threads per detection for the `onnx` and `openvino` backends (0 = the engine's default). 1 costs the least CPU per frame (about 1.2x less than 2, res/benchmarks/REPORT.md); for many cameras run one worker per core (`workers`).",
    )
    onnx_allow_spinning: bool = Field(
        False,
        description="Let ONNX Runtime's idle threads busy-wait between operators. Off: on a shared or loaded CPU spinning costs about a third more CPU time per frame; turn it on only on a dedicated machine where a few ms of latency matter more.",
    )
    person_detection: Literal["beside", "inline"] = Field(
        "beside",
        description="Where person detection sits. `beside`: a frame's face crops are chosen from its faces and the camera's latest person boxes (moved along with their faces) and leave at once; the person detector runs on its own thread on each camera's newest frame, so its ~200 ms per whole frame is not in a crop's latency and, with many cameras, boxes get older instead of frames being dropped (edge.people). `inline`: each frame's people are detected before its faces (the boxes of that very frame; every crop waits for the detector).",
    )
    motion_regions: bool = Field(
        True,
        description="Detect people only where the camera's picture moved since its previous frame (Frigate's regions): no motion keeps the last boxes, motion runs the detector on the moving regions at full-frame scale, and every `motion_full_frame_every`-th frame is a whole one. `onnx` and `openvino` backends; about 2.5x less detector CPU on the shared videos (1.8x-4.8x by video), the boxes of a whole frame in 99 % of frames (res/benchmarks/REPORT.md).",
    )
    motion_full_frame_every: int = Field(
        5,
        ge=1,
        le=100,
        description="With `motion_regions`: every n-th frame of a camera is detected whole (1 = always).",
    )
    motion_threshold: int = Field(
        20,
        ge=1,
        le=255,
        description="With `motion_regions`: grey-level change (0-255, on a blurred 192-px copy) that counts as motion.",
    )
    detector_nice: int = Field(
        10,
        ge=0,
        le=19,
        description="Nice value added to the threads that detect people (the people thread with `person_detection=beside`, the worker threads with `inline`; `onnx`, `openvino` backends; with 1 inference thread the whole inference runs niced). Detection then yields the CPU to the edge's own receiving/uplink threads and to services on the same host: with an edge-like load beside it, a local Rekognition search is markedly faster than beside the same load at normal priority (res/benchmarks/REPORT.md). 0 = unchanged.",
    )
    device: str = Field("cpu", description="Device for the `ultralytics` backend (`cpu`, `0`, `cuda:0`, ...).")

    # --- faces ---
    face_model: str = Field(
        "face_detection_yunet_2023mar.onnx",
        description="YuNet face detector file in `models_dir` (or an absolute path).",
    )
    face_score_threshold: float = Field(0.6, gt=0, lt=1, description="Minimum YuNet face confidence.")
    min_face_px: int = Field(
        40,
        ge=1,
        description="Smallest face (shorter side of the face box, pixels) sent for recognition: 40 is Rekognition's own minimum. Smaller faces are counted (`faces_rejected_too_small`), never searched: tiny faces give false matches.",
    )
    opencv_threads: int = Field(
        0,
        ge=0,
        le=64,
        description="Threads OpenCV may use per call (YuNet faces, resizing) in the edge. 0 = adaptive: every core while one worker is busy (lowest latency on a quiet edge), one thread each while several are (OpenCV's threads on top of busy workers cost about a third more CPU per YuNet call here). N > 0: always N.",
    )
    face_max_side: int = Field(
        320,
        ge=160,
        le=8192,
        description="Faces are searched over the whole frame; a frame whose longer side exceeds this is searched on a downscaled copy, but never so small that a `min_face_px` face falls under 20 px (YuNet's reliable size): 1280x720 and 640x360 frames at half scale, 480x270 at two thirds. YuNet's cost grows with the pixels (1280x720 ~130 ms of CPU, 640x360 ~33 ms). On the shared and evaluation videos 233 of the 236 faces of `min_face_px` or more found at full scale are still found (the 3 others: one turned head in the head-pose clip, found in its other frames), and 74 of 92 smaller ones (sent only as evidence).",
    )
    evidence_small_faces: bool = Field(
        True,
        description="Send one crop per track of a face below `min_face_px` as evidence: the cloud stores it as an unknown face (reason `too_small`) for review during an open session and never searches it.",
    )
    min_blur: float = Field(
        20.0, ge=0, description="Smallest sharpness (variance of the Laplacian of the grey face) worth sending."
    )
    crop_padding: float = Field(
        0.25, ge=0, le=2, description="Margin added around the face box on each side, as a fraction of the box size."
    )
    crop_jpeg_quality: int = Field(
        85,
        ge=10,
        le=100,
        description="JPEG quality of face crops. 85 with `crop_max_side` 160: edge-to-cloud bytes 2.6 % of IoT-to-edge bytes with 100 % recall and no false accept in the evaluation suite (90 / 1600: 5.7 %; 75: a stranger was accepted). res/benchmarks/REPORT.md.",
    )
    crop_max_side: int = Field(
        160,
        ge=160,
        le=8192,
        description="A face crop whose longer side exceeds this is downscaled before it is sent: the recogniser aligns faces to 150-px chips, so more pixels only cost bandwidth (and crops stay within the cloud's `ROLLCALL_CLOUD_MAX_CROP_PIXELS`).",
    )

    # --- tracking and dedupe ---
    track_iou: float = Field(
        0.3, gt=0, lt=1, description="Minimum IoU between a person box and a track's last box to continue that track."
    )
    track_ttl_s: float = Field(5.0, gt=0, description="Seconds (of camera time) a track survives without being seen.")
    retry_interval_s: float = Field(
        1.0,
        gt=0,
        description="Camera seconds after an `unknown`/`no_face`/`error` RESULT before the track's best crop since then is tried; the wait doubles after each further unknown (up to 8 s).",
    )
    max_attempts: int = Field(
        4, ge=1, description="Crops tried per track before only clearly better crops (quality +25 %) are sent."
    )
    max_crops_per_track: int = Field(8, ge=1, description="Hard cap of crops sent for one track.")
    result_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Camera seconds a crop waits for its RESULT before its track may try another crop, once the outbox no longer holds it (dropped past the outbox's bounds). While the outbox still delivers it, the track waits for the answer.",
    )
    scene_cut_diff: float = Field(
        16.0,
        gt=0,
        le=255,
        description="Mean grey-level change (0-255) of a frame's thumbnail from the previous frame that counts as a scene cut: every track of the camera ends.",
    )
    appearance_split_distance: float = Field(
        0.27,
        gt=0,
        le=1,
        description="Bhattacharyya distance between a person box's colour histogram and its track's above which the track is split (another person stepped into the same place).",
    )

    # --- delivery to the cloud (outbox) ---
    outbox_path: Path = Field(
        Path("./data/edge-outbox.sqlite3"),
        description="SQLite file (WAL) where every face crop waits until the cloud has answered it: resent after `resend_timeout_s`, kept through cloud outages and edge restarts. `:memory:` keeps it in RAM only (lost on restart).",
    )
    outbox_max_crops: int = Field(
        20000,
        ge=1,
        description="Crops the outbox holds (about 15 KB each: 20,000 is about 300 MB on disk). Beyond it the oldest crop is dropped, counted (`outbox_dropped_full`) and logged.",
    )
    outbox_max_age_s: float = Field(
        3 * 3600.0,
        gt=0,
        description="A crop still unanswered after this many seconds is dropped, counted (`outbox_dropped_expired`) and logged.",
    )
    resend_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Seconds without a RESULT before a crop is sent again; the wait doubles after each attempt (up to `resend_max_backoff_s`). A retryable `error` RESULT (cloud overloaded, Rekognition throttled or down) waits the same way.",
    )
    resend_max_backoff_s: float = Field(60.0, gt=0, description="Longest wait between two attempts of one crop.")

    # --- observability ---
    result_poll_ms: int = Field(
        10,
        ge=1,
        le=1000,
        description="Longest wait (ms) of the uplink thread for a RESULT before it looks at the outbox again (a crop due for a resend waits at most this long).",
    )

    def allowed_camera_set(self) -> frozenset[str]:
        """The allow-list as a set (empty = every camera allowed)."""
        return frozenset(c.strip() for c in self.allowed_cameras.split(",") if c.strip())

    def person_class_list(self) -> list[str]:
        """``person_classes`` split into names / ids."""
        return [c.strip() for c in self.person_classes.split(",") if c.strip()]

    def model_path(self, name: str) -> Path:
        """Resolve a model file name against ``models_dir`` (absolute paths stay)."""
        path = Path(name)
        return path if path.is_absolute() else self.models_dir / path
