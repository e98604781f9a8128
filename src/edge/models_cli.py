"""``rollcall-models``: fetch official model files (or copy them from a mirror) and export YOLO to ONNX."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .models import (
    DEFAULT_FETCH,
    KNOWN_MODELS,
    MIRROR_ENV,
    MODELS_DIR_ENV,
    ModelError,
    export_onnx,
    fetch_model,
    log,
    quantize_onnx,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollcall-models",
        description="Get the edge's model files: download them from their official URLs (sha256-checked) "
        "or copy them from a local mirror directory, and export Ultralytics .pt weights to ONNX.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    default_dir = Path(os.environ.get(MODELS_DIR_ENV, "./models"))

    fetch = sub.add_parser("fetch", help="download (or copy from --mirror) model files into the models dir")
    fetch.add_argument(
        "names", nargs="*", default=list(DEFAULT_FETCH), help=f"model files (default: {' '.join(DEFAULT_FETCH)})"
    )
    fetch.add_argument(
        "--models-dir", type=Path, default=default_dir, help=f"destination (default ${MODELS_DIR_ENV} or ./models)"
    )
    fetch.add_argument(
        "--mirror",
        type=Path,
        default=Path(os.environ[MIRROR_ENV]) if os.environ.get(MIRROR_ENV) else None,
        help=f"copy from this directory instead of downloading (offline; default ${MIRROR_ENV})",
    )
    fetch.add_argument("--force", action="store_true", help="fetch even when a verified copy exists")

    export = sub.add_parser("export", help="export an Ultralytics .pt to ONNX (needs ultralytics: the export venv)")
    export.add_argument("weights", type=Path, help="the .pt file")
    export.add_argument("--out-dir", type=Path, default=None, help="where the .onnx goes (default: beside the .pt)")
    export.add_argument(
        "--imgsz",
        type=int,
        default=640,
        help="input size the model is traced at; with --static its fixed square input (default 640)",
    )
    export.add_argument(
        "--static",
        action="store_true",
        help="fixed imgsz x imgsz input instead of the default dynamic height/width (the edge then letterboxes "
        "every frame to that square rather than to its smallest stride-32 rectangle)",
    )
    export.add_argument("--force", action="store_true", help="export even when the ONNX matches the .pt")

    quantize = sub.add_parser(
        "quantize",
        help="optional INT8 variant NAME-int8.onnx of an exported detector (~2x less CPU; needs the export venv)",
    )
    quantize.add_argument("onnx", type=Path, help="the exported FP32 .onnx")
    quantize.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        required=True,
        help="videos/images like the cameras' (frames spread over them)",
    )
    quantize.add_argument("--frames", type=int, default=24, help="calibration frames (default 24)")
    quantize.add_argument(
        "--imgsz", type=int, default=640, help="letterbox size of the calibration frames (default 640)"
    )
    quantize.add_argument("--force", action="store_true", help="quantize even when the INT8 model is current")

    sub.add_parser("list", help="show the known models, their URLs and sha256")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``rollcall-models``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "fetch":
            for name in args.names:
                fetch_model(name, args.models_dir, mirror=args.mirror, force=args.force)
        elif args.command == "export":
            path = export_onnx(args.weights, args.out_dir, imgsz=args.imgsz, dynamic=not args.static, force=args.force)
            print(path)
        elif args.command == "quantize":
            print(quantize_onnx(args.onnx, args.calibration, frames=args.frames, imgsz=args.imgsz, force=args.force))
        else:
            for source in KNOWN_MODELS.values():
                print(f"{source.name}\n  url: {source.url or '(mirror only)'}\n  sha256: {source.sha256 or 'unknown'}")
                print(f"  license: {source.license}\n  note: {source.sha256_note}")
    except ModelError as exc:
        log(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
