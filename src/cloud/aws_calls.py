"""Calling Rekognition: error classification and the retry policy.

Throttling is retried with bounded exponential backoff and jitter; every other failure
becomes a :class:`RekognitionFailure` whose ``reason`` is a stable counter key
(``throttled``, ``access_denied``, ``collection_missing``, ``bad_image``,
``invalid_parameter``, ``aws_error``, ``no_credentials``, ``unreachable``, ``client_error``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from common.logs import log_event
from common.metrics import Metrics

log = logging.getLogger("rollcall.cloud.recognition")

THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TooManyRequestsException",
    }
)
ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "AccessDenied",
    }
)
BAD_IMAGE_CODES = frozenset({"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"})


class RekognitionFailure(Exception):
    """A classified Rekognition failure: ``reason`` is a counter key."""

    def __init__(self, reason: str, code: str, detail: str, attempts: int) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.code = code
        self.detail = detail
        self.attempts = attempts


def classify_client_error(code: str, message: str, attempt: int) -> RekognitionFailure:
    """The failure for a (non-throttling) ClientError ``code``."""
    if code in ACCESS_CODES:
        return RekognitionFailure("access_denied", code, message, attempt)
    if code == "ResourceNotFoundException":
        return RekognitionFailure("collection_missing", code, message, attempt)
    if code in BAD_IMAGE_CODES:
        return RekognitionFailure(
            "bad_image" if code != "InvalidParameterException" else "invalid_parameter", code, message, attempt
        )
    return RekognitionFailure("aws_error", code, message, attempt)


def call_with_retry(
    client: Any,
    operation: str,
    params: dict[str, Any],
    metrics: Metrics,
    max_retries: int,
    backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
    acquire: Callable[[str], bool] | None = None,
) -> tuple[dict[str, Any], int]:
    """Call ``client.<operation>(**params)``; retry throttling up to ``max_retries`` times.
    ``acquire(operation)`` (a quota, :mod:`cloud.quota`) is asked before every attempt; no
    permission in time fails as ``throttled`` without calling.

    Returns (response, attempts); raises RekognitionFailure for anything else."""
    method = getattr(client, operation)
    attempt = 0
    while True:
        attempt += 1
        if acquire is not None and not acquire(operation):
            metrics.inc("rekognition_quota_exhausted")
            raise RekognitionFailure("throttled", "LocalQuota", "no call left in the request quota", attempt)
        started = time.perf_counter()
        metrics.inc(f"rekognition_calls_{operation}")  # each call AWS bills, retries included
        try:
            response = method(**params)
            metrics.observe(f"rekognition_{operation}_ms", (time.perf_counter() - started) * 1000)
            return response, attempt
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            message = exc.response.get("Error", {}).get("Message", "") or str(exc)
            if code not in THROTTLING_CODES:
                raise classify_client_error(code, message, attempt) from None
            metrics.inc("rekognition_throttled")
            if attempt > max_retries:
                detail = f"still throttled after {attempt} attempts"
                raise RekognitionFailure("throttled", code, detail, attempt) from None
            delay = backoff_s * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log_event(
                log,
                "rekognition_throttled",
                level=logging.WARNING,
                operation=operation,
                attempt=attempt,
                retry_in_s=round(delay, 3),
            )
            sleep(delay)
        except (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError) as exc:
            raise RekognitionFailure(
                "no_credentials",
                type(exc).__name__,
                "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use an instance role)",
                attempt,
            ) from None
        except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as exc:
            raise RekognitionFailure("unreachable", type(exc).__name__, str(exc), attempt) from None
        except BotoCoreError as exc:
            raise RekognitionFailure("client_error", type(exc).__name__, str(exc), attempt) from None
