"""Access keys: key-id check, SigV4 signature verification (through boto3), clock skew."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rekognition_local.app import Components, RekognitionApp, RunningServer
from rekognition_local.auth import AccessChecker, parse_access_keys


@pytest.fixture(scope="module")
def guarded_url(server: RunningServer) -> Iterator[str]:
    """A second HTTP front on the session service, with access keys configured."""
    shared = server.components
    settings = shared.service.settings.model_copy(update={"access_keys": ("AKIDSIGNED:top-secret", "AKIDIDONLY")})
    app = RekognitionApp(shared.service, settings, logging.getLogger("test.auth"))
    front = RunningServer(Components(app, shared.service, shared.engine, shared.store), "127.0.0.1", 0, threads=2).start()
    yield front.url
    front.close_sockets()  # not stop(): the engine and store belong to the session server
    front.server.task_dispatcher.shutdown(timeout=5)


def _client(url: str, key: str, secret: str) -> Any:
    return boto3.client("rekognition", endpoint_url=url, region_name="eu-west-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def _code(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"]


def test_signed_requests(guarded_url: str) -> None:
    assert "CollectionIds" in _client(guarded_url, "AKIDSIGNED", "top-secret").list_collections()
    assert _code(_client(guarded_url, "AKIDSIGNED", "wrong").list_collections) == "InvalidSignatureException"
    assert "CollectionIds" in _client(guarded_url, "AKIDIDONLY", "anything").list_collections()
    assert _code(_client(guarded_url, "AKIDOTHER", "top-secret").list_collections) == "AccessDeniedException"


def test_body_tampered_after_signing_is_rejected(guarded_url: str) -> None:
    client = _client(guarded_url, "AKIDSIGNED", "top-secret")

    def tamper(request: Any, **_: Any) -> None:
        request.body = b'{"MaxResults": 5}'
        request.headers["Content-Length"] = str(len(request.body))

    client.meta.events.register("before-send.rekognition.ListCollections", tamper)
    assert _code(lambda: client.list_collections(MaxResults=7)) == "InvalidSignatureException"


def test_clock_skew_and_key_parsing() -> None:
    assert parse_access_keys(("A", "B:s:with:colons")) == {"A": None, "B": "s:with:colons"}
    late = AccessChecker(("AKID:secret",), now=lambda: datetime.now(timezone.utc) + timedelta(hours=1))
    environ = {
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/rekognition/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "HTTP_X_AMZ_DATE": datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
        "HTTP_HOST": "127.0.0.1",
    }
    late.check_key(environ)
    from rekognition_local.auth import InvalidSignature

    with pytest.raises(InvalidSignature, match="expired"):
        late.check_signature(environ, b"")
    assert not AccessChecker(()).keys  # no keys configured: open
