"""The service's input checks: :mod:`common.rules` with violations raised as ``InvalidInput`` (422)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from common import rules

from .errors import InvalidInput

T = TypeVar("T")


def _checked(rule: Callable[..., T], *args: Any) -> T:
    """``rule(*args)``, its RuleViolation turned into InvalidInput."""
    try:
        return rule(*args)
    except rules.RuleViolation as exc:
        raise InvalidInput(str(exc)) from None


def check_id(kind: str, value: Any) -> str:
    """``value`` if it is a valid id (:data:`common.rules.ID_PATTERN`), else InvalidInput."""
    return _checked(rules.check_id, kind, value)


def check_name(kind: str, value: Any, required: bool = True) -> str | None:
    """The stripped name (1-200 characters); ``None`` passes when not ``required``."""
    if value is None and not required:
        return None
    return _checked(rules.check_name, kind, value)


def check_email(value: Any) -> str | None:
    """The stripped e-mail address, None for ``None``/``""``; else InvalidInput."""
    return _checked(rules.check_email, value)


def parse_time(value: Any, what: str) -> int | None:
    """ISO 8601 text, datetime or epoch ms -> epoch ms (naive = UTC); else InvalidInput."""
    return _checked(rules.parse_time, value, what)
