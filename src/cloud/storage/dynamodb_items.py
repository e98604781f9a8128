"""DynamoDB items <-> the cloud's records: table layout, number conversion (Decimal), defaults."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ..records import Session

T = TypeVar("T")

FLOAT_FIELDS = frozenset({"confidence", "similarity", "best_similarity"})

TABLES: dict[str, dict[str, Any]] = {
    "students": {"keys": [("student_id", "S")]},
    "faces": {"keys": [("student_id", "S"), ("face_id", "S")]},
    "classrooms": {"keys": [("classroom_id", "S")]},
    "sessions": {"keys": [("session_id", "S")], "gsi": {"by_classroom": [("classroom_id", "S"), ("starts_ms", "N")]}},
    "sightings": {"keys": [("sighting_id", "S")]},
    "attendance": {
        "keys": [("session_id", "S"), ("student_id", "S")],
        "gsi": {"by_student": [("student_id", "S"), ("session_id", "S")]},
    },
    "unknown_faces": {"keys": [("unknown_id", "S")], "gsi": {"by_status": [("status", "S"), ("seen_ms", "N")]}},
}


def to_dynamo(value: Any) -> Any:
    """A value DynamoDB accepts: floats as Decimal, None values left out of maps."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [to_dynamo(v) for v in value]
    return value


def item_of(obj: Any) -> dict[str, Any]:
    """The DynamoDB item of a record (None fields left out; a session's status is never stored)."""
    item = {k: to_dynamo(v) for k, v in dataclasses.asdict(obj).items() if v is not None}
    if isinstance(obj, Session):
        item.pop("status", None)  # computed from the clock, never stored
    return item


def from_dynamo(name: str, value: Any) -> Any:
    """A stored value back as Python: Decimal -> float for similarity-like fields, else int."""
    if isinstance(value, Decimal):
        return float(value) if name in FLOAT_FIELDS else int(value)
    if isinstance(value, dict):
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in value.items()}
    return value


def load_record(cls: type[T], item: dict[str, Any]) -> T:
    """The ``cls`` record of a DynamoDB item (missing fields take their defaults)."""
    # T is always one of cloud.records' dataclasses; the TypeVar cannot say "a dataclass" to mypy.
    values = {f.name: from_dynamo(f.name, item.get(f.name)) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if values[f.name] is None and f.default is not dataclasses.MISSING and f.default is not None:
            values[f.name] = f.default
    return cls(**values)


def is_conditional_failure(exc: ClientError) -> bool:
    """True if a conditional write was refused (the record already existed / changed)."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
