"""The one definition of Rollcall's value rules: ids, names, e-mail addresses and times.

Used by the cloud API (pydantic types in ``cloud.api.validation`` take the pattern
constants), the cloud service (``cloud.inputs`` turns :class:`RuleViolation` into
``InvalidInput``), the cloud models and the wire protocol.

**Ids** (students, classrooms, sessions, faces, unknown faces): :data:`ID_PATTERN`,
1-64 characters of letters, digits, ``_``, ``.``, ``-``, the first a letter or digit.
Safe in URL paths, file names and as a Rekognition ``ExternalImageId``.

**Ids on the wire** (``common.protocol``): ``msg_id``, ``camera_id``, ``classroom_id`` and
``trace_id`` must each be a non-empty string of at most ``Limits.max_id_chars``
(:data:`WIRE_ID_MAX_CHARS`, 128) characters; nothing else is checked there. The wider rule is
kept on purpose: the protocol is also the IoT -> edge link, whose camera settings allow any
camera id up to 100 and classroom id up to 128 characters, and ``encode`` checks every
message it sends, so narrowing the protocol would make a camera whose settings validated
fail at its first frame (in a tier the cloud does not own). The cloud is where ids become
addressable, so the cloud checks them: a FACE_CROP whose ``classroom_id`` is not an
:data:`ID_PATTERN` id is answered ``error`` with reason ``invalid_classroom_id`` (counted
``crops_rejected_invalid_classroom_id``) and never creates a classroom, so every classroom
the ingest creates can be reached through the API. Camera ids are only stored and shown
(never addressed by the API), so the wire rule is enough for them.

**Names**: text of 1-200 characters after stripping surrounding whitespace.
**E-mail**: :data:`EMAIL_PATTERN` after stripping, at most 254 characters.
**Times**: ISO 8601 text (``Z`` allowed; no offset = UTC), a datetime, or epoch ms.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

#: Ids chosen by users (students, classrooms) and by the service (sessions, faces, ...).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)
ID_MAX_CHARS = 64
#: Human description of the id rule, for error messages.
ID_RULE_TEXT = "1-64 characters of letters, digits, '_', '.', '-', starting with a letter or digit"

#: Longest id the wire protocol accepts (``common.protocol.Limits.max_id_chars``).
WIRE_ID_MAX_CHARS = 128

NAME_MAX_CHARS = 200
EMAIL_MAX_CHARS = 254
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$"
EMAIL_RE = re.compile(EMAIL_PATTERN)


class RuleViolation(ValueError):
    """A value that breaks one of the rules; the message says which and why.

    ``kind`` is a short key: ``invalid`` in general, ``too_long`` when only the length is wrong."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def is_id(value: Any) -> bool:
    """True if ``value`` is a string that satisfies :data:`ID_PATTERN`."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None  # fullmatch: "$" allows a final "\n"


def check_id(kind: str, value: Any) -> str:
    """``value`` if it is a valid id, else RuleViolation naming ``kind``."""
    if not is_id(value):
        raise RuleViolation(f"{kind} must be {ID_RULE_TEXT} (got {str(value)[:70]!r})")
    return value


def check_wire_id(name: str, value: Any, max_chars: int = WIRE_ID_MAX_CHARS) -> str:
    """The wire protocol's id rule: a non-empty string of at most ``max_chars``.

    Raises RuleViolation; ``common.protocol`` turns it into a ProtocolError."""
    if not isinstance(value, str):
        raise RuleViolation(f"{name!r} must be str")
    if not value:
        raise RuleViolation(f"{name!r} is empty")
    if len(value) > max_chars:
        raise RuleViolation(f"{name!r} longer than {max_chars} chars", kind="too_long")
    return value


def check_name(kind: str, value: Any) -> str:
    """The stripped name if it is text of 1-200 characters (after stripping)."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_MAX_CHARS:
        raise RuleViolation(f"{kind} must be non-empty text of at most {NAME_MAX_CHARS} characters")
    return value.strip()


def is_email(value: Any) -> bool:
    """True if ``value`` (stripped) is an e-mail address by :data:`EMAIL_PATTERN`."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return len(text) <= EMAIL_MAX_CHARS and EMAIL_RE.fullmatch(text) is not None


def check_email(value: Any) -> str | None:
    """The stripped address; ``None`` or ``""`` -> None (no address); else RuleViolation."""
    if value is None or value == "":
        return None
    if not is_email(value):
        raise RuleViolation(f"email {str(value)[:60]!r} is not an e-mail address")
    return value.strip()


def parse_time(value: Any, what: str) -> int | None:
    """ISO 8601 text, datetime or epoch ms -> epoch ms; ``None``/``""`` -> None.

    A time without offset is UTC. RuleViolation naming ``what`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RuleViolation(f"{what}: not a time")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise RuleViolation(f"{what}: {value[:40]!r} is not an ISO 8601 time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    raise RuleViolation(f"{what}: not a time")
