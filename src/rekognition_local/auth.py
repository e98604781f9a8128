"""Access control: every call must carry a valid AWS SigV4 signature (key id and secret).

``ROLLCALL_REKOG_ACCESS_KEYS`` lists ``AKID:SECRET`` pairs. The signature of each request is
recomputed with botocore's SigV4 signer over the headers the client signed, the body and
X-Amz-Date, and compared in constant time; timestamps more than 15 minutes off are refused, as
AWS does. No ``Authorization`` -> ``MissingAuthenticationTokenException``, an unknown key id ->
``UnrecognizedClientException`` (HTTP 400, as AWS), a wrong signature ->
``InvalidSignatureException`` (HTTP 403). With no keys configured every call is refused
(``UnrecognizedClientException``) unless ``ROLLCALL_REKOG_ALLOW_ANONYMOUS=true``.
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

from .errors import RekognitionError

MAX_SKEW_S = 15 * 60
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[a-z0-9\-;]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")


class InvalidSignature(RekognitionError):
    code = "InvalidSignatureException"
    status = 403


class UnrecognizedClient(RekognitionError):
    code = "UnrecognizedClientException"
    status = 400


class MissingAuthenticationToken(RekognitionError):
    code = "MissingAuthenticationTokenException"
    status = 400


def parse_access_keys(entries: tuple[str, ...]) -> dict[str, str]:
    """``("AKID:SECRET", "AKID2:S:with:colons")`` -> ``{"AKID": "SECRET", "AKID2": "S:with:colons"}``.

    ValueError for an entry without a key id or a secret (a bare key id is no longer accepted)."""
    keys: dict[str, str] = {}
    for entry in entries:
        key, _, secret = entry.partition(":")
        if not key or not secret:
            raise ValueError(
                f"access key entry {key or '(empty)'!r} has no secret: entries are AKID:SECRET "
                "(a bare key id would let anyone who knows it call the service)"
            )
        keys[key] = secret
    return keys


def access_key_of(authorization: str) -> str | None:
    """The access key id in a SigV4 ``Authorization`` header (None if absent/unparseable)."""
    match = _CREDENTIAL_RE.search(authorization or "")
    return match.group(1) if match else None


def _environ_header(environ: Mapping[str, Any], name: str) -> str | None:
    if name == "content-type":
        return environ.get("CONTENT_TYPE")
    if name == "content-length":
        return environ.get("CONTENT_LENGTH")
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


class AccessChecker:
    """Checks each request's SigV4 signature against the configured key pairs.

    No keys configured: every call is refused, unless ``allow_anonymous`` (then any caller)."""

    def __init__(self, entries: tuple[str, ...], now: Any = None, allow_anonymous: bool = False) -> None:
        self.keys = parse_access_keys(entries)
        self.allow_anonymous = allow_anonymous and not self.keys
        self._now = now or (lambda: datetime.now(UTC))

    @property
    def enabled(self) -> bool:
        return not self.allow_anonymous

    def check_key(self, environ: Mapping[str, Any]) -> None:
        """Refuse unless the request's SigV4 credential names a configured key (cheap, before the body)."""
        if self.allow_anonymous:
            return
        if not self.keys:
            raise UnrecognizedClient(
                "No access keys are configured (ROLLCALL_REKOG_ACCESS_KEYS): every call is refused "
                "(ROLLCALL_REKOG_ALLOW_ANONYMOUS=true accepts any caller)"
            )
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if not authorization:
            raise MissingAuthenticationToken("Missing Authentication Token")
        key = access_key_of(authorization)
        if key is None or key not in self.keys:
            raise UnrecognizedClient("The security token included in the request is invalid.")

    def check_signature(self, environ: Mapping[str, Any], body: bytes) -> None:
        """InvalidSignature unless the request's SigV4 signature matches its key's secret."""
        if self.allow_anonymous:
            return
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        key = access_key_of(authorization) or ""
        if key not in self.keys:  # check_key came first; never verify against nothing
            raise UnrecognizedClient("The security token included in the request is invalid.")
        self._verify(environ, body, key, self.keys[key], authorization)

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
