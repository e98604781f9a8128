"""Request validation: JSON bodies (pydantic models), ids in paths and queries.

Status codes follow the API contract: 415 when the body is not JSON, 400 when
it is malformed or a required field is missing, 422 when a value is invalid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from common.rules import EMAIL_MAX_CHARS, EMAIL_PATTERN, ID_PATTERN, NAME_MAX_CHARS, is_id

from .errors import ApiError

# The rules themselves live in common.rules (shared with the service and the models).
SafeId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX_CHARS)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=EMAIL_MAX_CHARS, pattern=EMAIL_PATTERN)]

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StudentCreate(_Body):
    student_id: SafeId
    name: Name
    email: Email | None = None


class StudentUpdate(_Body):
    name: Name | None = None
    email: Email | Literal[""] | None = None  # "" clears the email


class ClassroomCreate(_Body):
    classroom_id: SafeId
    name: Name | None = None  # defaults to the id


class SessionCreate(_Body):
    classroom_id: SafeId
    name: Name | None = None
    starts_at: datetime | None = Field(None, strict=False)
    ends_at: datetime | None = Field(None, strict=False)


class UnknownAssign(_Body):
    student_id: SafeId
    enrol: bool = False


def require_id(value: str, what: str) -> str:
    """Return ``value`` if it is a safe id, else raise a 422."""
    if not is_id(value):
        raise ApiError(
            422,
            "invalid_id",
            f"{what} {str(value)[:80]!r} is not a valid id "
            "(letters, digits, '_', '.', '-'; 1-64 chars, starting with a letter or digit)",
        )
    return value


def parse_json(model: type[M], allow_empty: bool = False) -> M:
    """Validate the request's JSON body against ``model``.

    ``allow_empty`` accepts a request without any body (for action endpoints
    whose fields are all optional).
    """
    raw = request.get_data(cache=True)
    if allow_empty and not raw.strip():
        return model()
    if request.mimetype != "application/json":
        shown = request.mimetype or "none"
        raise ApiError(415, "unsupported_media_type", f"expected Content-Type application/json, got {shown}")
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"request body is not valid JSON ({exc.__class__.__name__})") from None
    except RecursionError:  # nested deeper than the parser's recursion limit (~1000 levels): was a 500
        raise ApiError(400, "bad_json", "request body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def _validation_error(exc: ValidationError) -> ApiError:
    errors = exc.errors(include_url=False, include_input=False)
    missing = [_field(err) for err in errors if err["type"] == "missing"]
    if missing:
        return ApiError(400, "missing_field", "missing required field(s): " + ", ".join(missing))
    parts = []
    seen: set[str] = set()
    for err in errors:
        name = _field(err)
        if name in seen:  # a union reports each alternative; the first says enough
            continue
        seen.add(name)
        if err["type"] == "extra_forbidden":
            parts.append(f"{name}: unknown field")
        elif err["type"] == "string_pattern_mismatch" and name.endswith("_id"):
            parts.append(f"{name}: not a valid id (letters, digits, '_', '.', '-'; 1-64 chars)")
        elif err["type"] == "string_pattern_mismatch":
            parts.append(f"{name}: not a valid {name}")
        elif err["type"] == "string_too_short":
            parts.append(f"{name}: must not be empty")
        else:
            parts.append(f"{name}: {err['msg']}")
    return ApiError(422, "invalid_field", "; ".join(parts))


def _field(err: Mapping[str, Any]) -> str:
    return str(err["loc"][0]) if err["loc"] else "body"
