"""``rollcall-keys``: create the CurveZMQ keys of every tier and the registry binding them.

    rollcall-keys generate --dir keys --camera cam-1=room-101@edge-1 --camera cam-2=room-102@edge-1
    rollcall-keys show --dir keys
    rollcall-keys install --from keys/bundles --owner 10001:10001 cloud=/out/cloud

``generate`` is idempotent: existing key pairs are kept, new cameras and edges get new ones, a
camera given with another classroom or edge is re-bound (its key stays), and the per-host
bundles under ``<dir>/bundles`` are rewritten (see :mod:`common.keyring`). Secret files are mode
0600. ``install`` copies bundles into a service's directory (:mod:`common.keys_install`).
Exit status: 0 done, 2 bad arguments or unusable directory.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .keyring import (
    CLOUD_NAME,
    REGISTRY_FILE,
    CameraEntry,
    KeyringError,
    Registry,
    check_name,
    keypair,
    read_secret,
    secret_path,
    write_secret,
)
from .keys_install import install, parse_owner
from .rules import ID_RE, ID_RULE_TEXT

DEFAULT_EDGE = "edge-1"


def parse_camera(text: str, default_edge: str) -> tuple[str, str, str]:
    """``CAMERA=CLASSROOM[@EDGE]`` -> (camera id, classroom id, edge name); KeyringError if malformed."""
    camera, sep, rest = text.partition("=")
    if not sep or not rest:
        raise KeyringError(f"--camera {text!r}: expected CAMERA_ID=CLASSROOM_ID[@EDGE_NAME]")
    classroom, _, edge = rest.partition("@")
    if not ID_RE.match(classroom):
        raise KeyringError(f"--camera {text!r}: classroom id {classroom!r} is invalid ({ID_RULE_TEXT})")
    return check_name("camera", camera), classroom, check_name("edge", edge or default_edge)


def _ensure_pair(directory: Path, kind: str, name: str, report: list[str]) -> str:
    """The public key of ``name``, creating its key pair if it has none."""
    path = secret_path(directory, kind, name)  # type: ignore[arg-type]
    if path.exists():
        public, _ = read_secret(path)
        path.chmod(0o600)
        return public.decode()
    public, secret = keypair()
    write_secret(path, public, secret)
    report.append(f"created {path}")
    return public.decode()


def generate(directory: Path, cameras: Sequence[tuple[str, str, str]], edges: Sequence[str] = ()) -> list[str]:
    """Create what is missing in ``directory``; return one line per change."""
    report: list[str] = []
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    registry = Registry.load(directory) if (directory / REGISTRY_FILE).exists() else Registry()
    registry.cloud = _ensure_pair(directory, "cloud", CLOUD_NAME, report)
    for edge in {*edges, *(e for _, _, e in cameras), *registry.edges}:
        registry.edges[edge] = _ensure_pair(directory, "edges", check_name("edge", edge), report)
    seen: dict[str, tuple[str, str]] = {}
    for camera_id, classroom_id, edge in cameras:
        if seen.setdefault(camera_id, (classroom_id, edge)) != (classroom_id, edge):
            raise KeyringError(f"camera {camera_id!r} is given twice with different bindings")
    for camera_id, entry in list(registry.cameras.items()):
        public = _ensure_pair(directory, "cameras", camera_id, report)  # a deleted secret is replaced
        registry.cameras[camera_id] = CameraEntry(camera_id, entry.classroom_id, entry.edge, public)
    for camera_id, (classroom_id, edge) in seen.items():
        public = _ensure_pair(directory, "cameras", camera_id, report)
        old = registry.cameras.get(camera_id)
        if old is not None and (old.classroom_id, old.edge) != (classroom_id, edge):
            report.append(f"camera {camera_id}: re-bound from {old.classroom_id}@{old.edge} to {classroom_id}@{edge}")
        registry.cameras[camera_id] = CameraEntry(camera_id, classroom_id, edge, public)
    registry.save(directory)
    write_bundles(directory, registry)
    return report


def write_bundles(directory: Path, registry: Registry) -> list[Path]:
    """(Re)write ``directory/bundles``: one folder per host with only its own secret. Files are
    replaced atomically (a running server re-reads its ``registry.json``); what no longer belongs
    to a bundle is deleted."""
    root = directory / "bundles"
    wanted: dict[str, tuple[Registry, list[tuple[str, str]]]] = {"cloud": (registry, [("cloud", CLOUD_NAME)])}
    for edge in sorted(registry.edges):
        cams = sorted(c.camera_id for c in registry.cameras.values() if c.edge == edge)
        wanted[f"edge-{edge}"] = (registry.subset({edge}, set(cams)), [("edges", edge)])
        wanted[f"iot-{edge}"] = (registry.subset({edge}, set(cams), cloud=False), [("cameras", c) for c in cams])
    for camera in registry.cameras.values():
        part = registry.subset({camera.edge}, {camera.camera_id}, cloud=False)
        wanted[f"camera-{camera.camera_id}"] = (part, [("cameras", camera.camera_id)])
    made = []
    for name, (part, secrets) in sorted(wanted.items()):
        target = root / name
        keep = {target / REGISTRY_FILE}
        for kind, who in secrets:
            public, secret = read_secret(secret_path(directory, kind, who))  # type: ignore[arg-type]
            path = secret_path(target, kind, who)  # type: ignore[arg-type]
            write_secret(path, public, secret)
            keep.add(path)
        part.save(target)
        for stale in [p for p in target.rglob("*") if p.is_file() and p not in keep]:
            stale.unlink()
        made.append(target)
    if root.is_dir():
        for stale_dir in [d for d in root.iterdir() if d.is_dir() and d.name not in wanted]:
            shutil.rmtree(stale_dir)
    return made


def show(directory: Path) -> str:
    """The registry as text: who holds a key and what it is bound to."""
    registry = Registry.load(directory)
    lines = [f"cloud: {registry.cloud or '-'}"]
    lines += [f"edge {name}: {key}" for name, key in sorted(registry.edges.items())]
    lines += [
        f"camera {c.camera_id}: classroom {c.classroom_id}, edge {c.edge}, {c.public_key}"
        for c in sorted(registry.cameras.values(), key=lambda c: c.camera_id)
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rollcall-keys", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="create missing key pairs, update the registry, rewrite the bundles")
    gen.add_argument("--dir", type=Path, default=Path("keys"), help="keys directory (default ./keys)")
    gen.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="CAMERA_ID=CLASSROOM_ID[@EDGE]",
        help=f"a camera, its classroom and its edge (default edge {DEFAULT_EDGE}); repeatable",
    )
    gen.add_argument("--edge", action="append", default=[], help="an edge without cameras yet; repeatable")
    gen.add_argument("--default-edge", default=DEFAULT_EDGE, help="edge of cameras given without @EDGE")
    gen.add_argument("--quiet", action="store_true", help="print nothing but errors")
    shw = sub.add_parser("show", help="print the registry (public keys and bindings)")
    shw.add_argument("--dir", type=Path, default=Path("keys"))
    ins = sub.add_parser("install", help="copy bundles into the directories services read (see common.keys_install)")
    ins.add_argument("--from", dest="source", type=Path, default=Path("keys/bundles"), help="the bundles directory")
    ins.add_argument("--owner", help="UID:GID to own the installed files (the service's user)")
    ins.add_argument("spec", nargs="+", metavar="BUNDLE[,BUNDLE...]=TARGET", help="bundle names (globs allowed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rollcall-keys``."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "show":
            print(show(args.dir))
            return 0
        if args.command == "install":
            owner = parse_owner(args.owner)
            for spec in args.spec:
                print(f"installed {install(args.source, spec, owner)}")
            return 0
        default_edge = check_name("edge", args.default_edge)
        cameras = [parse_camera(text, default_edge) for text in args.camera]
        edges = [check_name("edge", e) for e in args.edge]
        report = generate(args.dir, cameras, edges)
    except (KeyringError, OSError) as exc:
        print(f"rollcall-keys: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        for line in report or [f"{args.dir}: every key already exists"]:
            print(line)
        print(f"bundles (one per host, only its own secret): {args.dir / 'bundles'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
