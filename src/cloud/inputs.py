"""The service's input checks: :mod:`common.rules` with violations raised as ``InvalidInput`` (422)."""

from __future__ import annotations

from typing import Any

from common import rules

from .errors import InvalidInput


def check_id(kind: str, value: Any) -> str:
    """``value`` if it is a valid id (:data:`common.rules.ID_PATTERN`), else InvalidInput."""
    try:
        return rules.check_id(kind, value)
    except rules.RuleViolation as exc:
        raise InvalidInput(str(exc)) from None


def check_name(kind: str, value: Any, required: bool = True) -> str | None:
    """The stripped name (1-200 characters); ``None`` passes when not ``required``."""
    if value is None and not required:
        return None
    try:
        return rules.check_name(kind, value)
    except rules.RuleViolation as exc:
        raise InvalidInput(str(exc)) from None


def check_email(value: Any) -> str | None:
    """The stripped e-mail address, None for ``None``/``""``; else InvalidInput."""
    try:
        return rules.check_email(value)
    except rules.RuleViolation as exc:
        raise InvalidInput(str(exc)) from None


def parse_time(value: Any, what: str) -> int | None:
    """ISO 8601 text, datetime or epoch ms -> epoch ms (naive = UTC); else InvalidInput."""
    try:
        return rules.parse_time(value, what)
    except rules.RuleViolation as exc:
        raise InvalidInput(str(exc)) from None
