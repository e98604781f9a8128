"""boto3 plumbing for Rekognition: the client factory (with the trace header hook) and the
credential check. Only :mod:`cloud.bootstrap` and the adapter modules import this."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from .tracing import TRACE_HEADER, current_trace_id


def add_trace_header(request: Any, **_: Any) -> None:
    """botocore ``before-sign`` hook: send the current trace id as X-Rollcall-Trace-Id."""
    trace_id = current_trace_id()
    if trace_id:
        request.headers[TRACE_HEADER] = trace_id


def make_rekognition_client(
    region: str, endpoint_url: str = "", timeout_s: float = 10.0, session: boto3.session.Session | None = None
) -> Any:
    """A boto3 Rekognition client. botocore's own retries are off: throttling is
    retried by :class:`cloud.recognition.RekognitionRecognizer` so the policy is in one place."""
    session = session or boto3.session.Session(region_name=region)
    config = Config(
        region_name=region,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
    )
    client = session.client("rekognition", endpoint_url=endpoint_url or None, config=config)
    client.meta.events.register("before-sign.rekognition", add_trace_header)
    return client


def credentials_available(session: boto3.session.Session | None = None) -> bool:
    """True if the standard AWS credential chain yields credentials."""
    try:
        return (session or boto3.session.Session()).get_credentials() is not None
    except (BotoCoreError, OSError):
        return False
