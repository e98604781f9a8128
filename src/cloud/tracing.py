"""Trace propagation to recognizer calls: the crop's ``trace_id`` for the calls made
inside :func:`traced` (read by the AWS client's request hook, :mod:`cloud.aws_client`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: HTTP header that carries the trace id to Rekognition (the local service logs it; AWS ignores it).
TRACE_HEADER = "X-Rollcall-Trace-Id"
_current_trace_id: ContextVar[str | None] = ContextVar("rollcall_trace_id", default=None)


@contextmanager
def traced(trace_id: str | None) -> Iterator[None]:
    """Tag the Rekognition calls made inside this block with ``trace_id`` (sent as the
    X-Rollcall-Trace-Id header, which the local service logs; AWS ignores it)."""
    token = _current_trace_id.set(trace_id)
    try:
        yield
    finally:
        _current_trace_id.reset(token)


def current_trace_id() -> str | None:
    """The trace id set by the innermost :func:`traced` block, or None."""
    return _current_trace_id.get()
