"""``rollcall-keys install``: copy host bundles into the directory a service reads, owned by the
service's user (containers: the one-shot ``keys`` service of the compose files runs it as root and
fills one volume per service, so each container sees only its own secret).

    rollcall-keys install --from keys/bundles --owner 10001:10001 cloud=/out/cloud 'camera-cam-load-*=/out/load'

Each ``SPEC`` is ``BUNDLE[,BUNDLE...]=TARGET``; a bundle name may be a glob. Several bundles are
merged (their registries and secrets). The target ends up holding exactly those files: secrets
0600, the registry 0644, directories 0700, all owned by ``--owner`` when given.
"""

from __future__ import annotations

import os
from pathlib import Path

from .keyring import REGISTRY_FILE, SECRET_SUFFIX, KeyringError, Registry, read_secret, write_secret


def parse_owner(text: str | None) -> tuple[int, int] | None:
    """``UID:GID`` (or ``UID``) -> (uid, gid); None when not given."""
    if not text:
        return None
    uid, _, gid = text.partition(":")
    try:
        return int(uid), int(gid or uid)
    except ValueError:
        raise KeyringError(f"--owner {text!r}: expected numeric UID:GID") from None


def resolve(source: Path, names: str) -> list[Path]:
    """The bundle directories ``names`` (comma-separated, globs allowed) designate in ``source``."""
    found: list[Path] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        matches = sorted(p for p in source.glob(name) if (p / REGISTRY_FILE).is_file())
        if not matches:
            raise KeyringError(
                f"no key bundle {name!r} in {source}: create the keys first "
                "(scripts/up.sh does; or rollcall-keys generate --dir keys --camera ...)"
            )
        found += [m for m in matches if m not in found]
    return found


def merge(bundles: list[Path]) -> tuple[Registry, dict[str, Path]]:
    """The union of the bundles' registries, and relative secret path -> source file."""
    merged = Registry()
    secrets: dict[str, Path] = {}
    for bundle in bundles:
        part = Registry.load(bundle)
        merged.cloud = merged.cloud or part.cloud
        merged.edges.update(part.edges)
        merged.cameras.update(part.cameras)
        for path in bundle.rglob(f"*{SECRET_SUFFIX}"):
            secrets[str(path.relative_to(bundle))] = path
    return merged, secrets


def install(source: Path, spec: str, owner: tuple[int, int] | None = None) -> Path:
    """Install the bundles ``spec`` names into its target; returns the target."""
    names, sep, target_text = spec.partition("=")
    if not sep or not names or not target_text:
        raise KeyringError(f"{spec!r}: expected BUNDLE[,BUNDLE...]=TARGET_DIR")
    target = Path(target_text)
    registry, secrets = merge(resolve(source, names))
    target.mkdir(parents=True, exist_ok=True)
    keep = {target / REGISTRY_FILE}
    registry.save(target)
    for relative, src in secrets.items():
        public, secret = read_secret(src)
        dest = target / relative
        write_secret(dest, public, secret)
        keep.add(dest)
    for stale in [p for p in target.rglob("*") if p.is_file() and p not in keep]:
        stale.unlink()
    for path in [target, *target.rglob("*")]:
        if path.is_dir():
            path.chmod(0o700)
        if owner is not None:
            os.chown(path, *owner)
    return target
