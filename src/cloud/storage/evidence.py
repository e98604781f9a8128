"""Evidence crops and CSV exports: local directory (default) or S3.

Evidence references are opaque, URL-safe names (``<32 hex>.jpg``) derived from a
stable key (the crop's msg_id), so a crop delivered twice is stored once and a
reference can never name a path outside the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound

#: Why an evidence image may be missing (in the 404's message).
GONE = "crops are deleted after the retention period or erased with their student"

_REF = re.compile(r"^[0-9a-f]{32}\.(jpg|png)$")
_EXPORT = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


def evidence_ref_for(key: str, encoding: str = "jpeg") -> str:
    """The evidence reference for stable ``key`` (e.g. ``crop:<msg_id>``)."""
    ext = "png" if encoding == "png" else "jpg"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32] + "." + ext


def valid_ref(ref: str) -> bool:
    """True if ``ref`` is a well-formed evidence reference."""
    return isinstance(ref, str) and bool(_REF.match(ref))


def _check_ref(ref: str) -> None:
    if not valid_ref(ref):
        raise InvalidInput(f"not an evidence reference: {str(ref)[:80]!r}")


class EvidenceStore(ABC):
    """Stores crop images by reference, and CSV exports by name."""

    @abstractmethod
    def put(self, ref: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, ref: str) -> bytes:
        """The bytes of ``ref``; NotFound if absent, InvalidInput if malformed."""

    @abstractmethod
    def delete(self, ref: str) -> None: ...

    @abstractmethod
    def put_export(self, name: str, text: str) -> str:
        """Store a CSV export; return where it went (path or s3:// URL)."""

    @abstractmethod
    def ping(self) -> None: ...


class LocalEvidenceStore(EvidenceStore):
    """Files under ``<root>/evidence/<ab>/<ref>`` and ``<root>/exports/<name>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        (self.root / "evidence").mkdir(parents=True, exist_ok=True)
        (self.root / "exports").mkdir(parents=True, exist_ok=True)

    def _path(self, ref: str) -> Path:
        _check_ref(ref)
        return self.root / "evidence" / ref[:2] / ref

    def put(self, ref: str, data: bytes) -> None:
        path = self._path(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, data)

    def get(self, ref: str) -> bytes:
        try:
            return self._path(ref).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"evidence {ref} not found ({GONE})") from None

    def delete(self, ref: str) -> None:
        try:
            self._path(ref).unlink()
        except FileNotFoundError:
            pass

    def put_export(self, name: str, text: str) -> str:
        if not _EXPORT.match(name):
            raise InvalidInput(f"bad export name {name[:80]!r}")
        path = self.root / "exports" / name
        _atomic_write(path, text.encode("utf-8"))
        return str(path)

    def ping(self) -> None:
        if not os.access(self.root / "evidence", os.W_OK):
            raise OSError(f"{self.root / 'evidence'} is not writable")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class S3EvidenceStore(EvidenceStore):
    """Objects ``<prefix>evidence/<ref>`` and ``<prefix>exports/<name>`` in one bucket."""

    def __init__(self, client: Any, bucket: str, prefix: str = "rollcall/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, ref: str) -> str:
        _check_ref(ref)
        return f"{self.prefix}evidence/{ref}"

    def put(self, ref: str, data: bytes) -> None:
        content_type = "image/png" if ref.endswith(".png") else "image/jpeg"
        self.client.put_object(Bucket=self.bucket, Key=self._key(ref), Body=data, ContentType=content_type)

    def get(self, ref: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(ref))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise NotFound(f"evidence {ref} not found ({GONE})") from None
            raise
        return obj["Body"].read()

    def delete(self, ref: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(ref))

    def put_export(self, name: str, text: str) -> str:
        if not _EXPORT.match(name):
            raise InvalidInput(f"bad export name {name[:80]!r}")
        key = f"{self.prefix}exports/{name}"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/csv")
        return f"s3://{self.bucket}/{key}"

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
