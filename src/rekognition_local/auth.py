"""Access control: SigV4 access key ids, and the signature itself where a secret is configured.

``ROLLCALL_REKOG_ACCESS_KEYS`` entries are ``AKID`` (the request's SigV4
credential must name this key id) or ``AKID:SECRET`` (additionally the
signature is recomputed with botocore's SigV4 signer over the headers the
client signed, the body and X-Amz-Date, and must match; timestamps more than
15 minutes off are refused, as AWS does).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .errors import AccessDenied, RekognitionError

MAX_SKEW_S = 15 * 60
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


class InvalidSignature(RekognitionError):
    code = "InvalidSignatureException"
    status = 400


def access_key_of(authorization: str) -> str | None:
    """The access key id in a SigV4 ``Authorization`` header (None if absent/unparseable)."""
    match = _CREDENTIAL_RE.search(authorization or "")
    return match.group(1) if match else None


def parse_access_keys(entries: tuple[str, ...]) -> dict[str, str | None]:
    """``("AKID", "AKID2:SECRET")`` -> ``{"AKID": None, "AKID2": "SECRET"}``."""
    keys: dict[str, str | None] = {}
    for entry in entries:
        key, _, secret = entry.partition(":")
        keys[key] = secret or None
    return keys


def _environ_header(environ: Mapping[str, Any], name: str) -> str | None:
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


class AccessChecker:
    """Checks each request against the configured keys (no keys configured = open)."""

    def __init__(self, entries: tuple[str, ...], now: Any = None) -> None:
        self.keys = parse_access_keys(entries)
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def check_key(self, environ: Mapping[str, Any]) -> None:
        """AccessDenied unless the request's SigV4 credential names a configured key (cheap, before the body)."""
        if not self.keys:
            return
        key = access_key_of(environ.get("HTTP_AUTHORIZATION", ""))
        if key is None:
            raise AccessDenied("Missing SigV4 Authorization credential")
        if key not in self.keys:
            raise AccessDenied(
                f"The security token included in the request is invalid (access key {key} is not allowed)"
            )

    def check_signature(self, environ: Mapping[str, Any], body: bytes) -> None:
        """InvalidSignature unless the signature matches (only for keys configured with a secret)."""
        if not self.keys:
            return
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        key = access_key_of(authorization)
        secret = self.keys.get(key or "")
        if key is not None and secret is not None:
            self._verify(environ, body, key, secret, authorization)

    def _verify(self, environ: Mapping[str, Any], body: bytes, key: str, secret: str, authorization: str) -> None:
        match = _AUTH_RE.match(authorization.strip())
        amz_date = environ.get("HTTP_X_AMZ_DATE", "")
        if not match or not amz_date:
            raise InvalidSignature("Malformed SigV4 Authorization header or missing X-Amz-Date")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise InvalidSignature("X-Amz-Date is not in the format YYYYMMDDTHHMMSSZ") from None
        if abs((self._now() - signed_at).total_seconds()) > MAX_SKEW_S or amz_date[:8] != match["date"]:
            raise InvalidSignature("Signature expired or not yet valid (X-Amz-Date more than 15 minutes off)")
        headers = {}
        for name in match["headers"].split(";"):
            value = _environ_header(environ, name)
            if value is None:
                raise InvalidSignature(f"Signed header {name} is missing from the request")
            headers[name] = value
        query = environ.get("QUERY_STRING", "")
        url = f"http://{headers.get('host') or environ.get('HTTP_HOST', 'localhost')}{environ.get('PATH_INFO', '/')}"
        request = AWSRequest(
            method=environ.get("REQUEST_METHOD", "POST"),
            url=url + (f"?{query}" if query else ""),
            headers=headers,
            data=body,
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(key, secret), match["service"], match["region"])
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise InvalidSignature("The request signature we calculated does not match the signature you provided.")
