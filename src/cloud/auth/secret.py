"""The key that signs session cookies and CSRF tokens: from settings, else a persisted random file."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from common.logs import log_event

from ..settings import CloudSettings

log = logging.getLogger("rollcall.cloud.auth")

SECRET_FILE = "secret_key"  # pragma: allowlist secret


def secret_key(settings: CloudSettings) -> str:
    """``settings.secret_key``, else ``<data_dir>/secret_key`` (created with 64 random hex digits,
    mode 0600, on first use, so sessions survive restarts and the key never enters the repository)."""
    configured = settings.secret_key.get_secret_value()
    if configured:
        return configured
    path = Path(settings.data_dir) / SECRET_FILE
    try:
        existing = path.read_text(encoding="ascii").strip()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    log_event(log, "secret_key_generated", path=str(path))
    return key
