"""Access keys: SigV4 signatures verified (key id and secret) through boto3, clock skew, no keys =
closed unless anonymous access is opted into, and every refusal in AWS's JSON error shape."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from rekognition_local.app import Components, RekognitionApp, RunningServer
from rekognition_local.auth import AccessChecker, parse_access_keys
from rekognition_local.settings import RekognitionSettings


@pytest.fixture(scope="module")
def guarded_url(server: RunningServer) -> Iterator[str]:
    """A second HTTP front on the session service, with access keys configured."""
    shared = server.components
    with _front(server, access_keys=("AKIDSIGNED:top-secret", "AKIDOTHER:other-secret")) as url:
        yield url


@contextmanager
def _front(server: RunningServer, **settings_update: Any) -> Iterator[str]:
    """Another HTTP front on the session's service and engine, with other settings."""
    shared = server.components
    settings = shared.service.settings.model_copy(update=settings_update)
    app = RekognitionApp(shared.service, settings, logging.getLogger("test.auth"))
    front = RunningServer(Components(app, shared.service, shared.engine, shared.store), "127.0.0.1", 0, threads=2).start()
    try:
        yield front.url
    finally:
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
    assert "CollectionIds" in _client(guarded_url, "AKIDOTHER", "other-secret").list_collections()
    assert _code(_client(guarded_url, "AKIDSIGNED", "wrong").list_collections) == "InvalidSignatureException"
    assert _code(_client(guarded_url, "AKIDOTHER", "top-secret").list_collections) == "InvalidSignatureException"
    assert _code(_client(guarded_url, "AKIDSTRANGER", "top-secret").list_collections) == "UnrecognizedClientException"
    unsigned = boto3.client("rekognition", endpoint_url=guarded_url, region_name="eu-west-1",
                            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert _code(unsigned.list_collections) == "MissingAuthenticationTokenException"


def _post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(url + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections",
        **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, json.loads(exc.read())


def _signed_headers(url: str, body: bytes, key: str = "AKIDSIGNED", secret: str = "top-secret") -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "RekognitionService.ListCollections"})
    SigV4Auth(Credentials(key, secret), "rekognition", "eu-west-1").add_auth(request)
    return dict(request.headers.items())


def test_junk_signature_with_a_known_key_id_is_refused(guarded_url: str) -> None:
    """Issue 13: with compose's bare key id, a junk signature was accepted."""
    headers = _signed_headers(guarded_url, b"{}")
    good, _, _ = _post(guarded_url, b"{}", headers)
    assert good == 200
    auth = headers["Authorization"]
    headers["Authorization"] = auth[: auth.rindex("Signature=") + 10] + "0" * 64
    status, response_headers, body = _post(guarded_url, b"{}", headers)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert response_headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert response_headers["Content-Type"] == "application/x-amz-json-1.1"
    assert _post(guarded_url, b"{}")[2]["__type"] == "MissingAuthenticationTokenException"


def test_no_keys_refuses_every_call_unless_anonymous_is_opted_in(server: RunningServer) -> None:
    with _front(server, access_keys=()) as url:
        assert _code(_client(url, "AKIDSIGNED", "top-secret").list_collections) == "UnrecognizedClientException"
        assert _post(url, b"{}")[0] == 400
    with _front(server, access_keys=(), allow_anonymous=True) as url:
        assert "CollectionIds" in _client(url, "anyone", "anything").list_collections()
        assert _post(url, b"{}")[0] == 200
    with _front(server, access_keys=("AKIDSIGNED:top-secret",), allow_anonymous=True) as url:  # keys win
        assert _code(_client(url, "anyone", "anything").list_collections) == "UnrecognizedClientException"


def test_a_bare_key_id_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="no secret"):
        RekognitionSettings(access_keys="AKIDIDONLY")
    with pytest.raises(ValueError, match="no secret"):
        parse_access_keys(("AKIDIDONLY",))
    assert RekognitionSettings(access_keys="A:s, B:t").access_keys == ("A:s", "B:t")


def test_json_nested_200k_deep_is_a_400_serialization_error(guarded_url: str) -> None:
    """Issue 13: JSON nested 200k deep gave a 500."""
    body = b"[" * 200_000 + b"]" * 200_000
    status, headers, reply = _post(guarded_url, body, _signed_headers(guarded_url, body))
    assert (status, reply["__type"]) == (400, "SerializationException")
    assert headers["x-amzn-ErrorType"] == "SerializationException"
    body = b'{"a":' * 200_000 + b"1" + b"}" * 200_000
    status, _, reply = _post(guarded_url, body, _signed_headers(guarded_url, body))
    assert (status, reply["__type"]) == (400, "SerializationException")


def test_oversize_bodies_get_an_aws_json_error(guarded_url: str, server: RunningServer) -> None:
    """Issue 13: an oversize body got waitress's plain-text 413. Both limits answer in AWS's shape:
    the service's own (Content-Length over the image limit) and waitress's (far over it)."""
    limit = server.components.app.max_body
    body = b" " * (limit + 1)
    status, headers, reply = _post(guarded_url, body, _signed_headers(guarded_url, body))
    assert (status, reply["__type"]) == (400, "ImageTooLargeException")
    assert headers["Content-Type"] == "application/x-amz-json-1.1" and headers["x-amzn-ErrorType"] == reply["__type"]
    # Far over: waitress refuses after the headers, before reading the body (a client still sending
    # the body may see the connection reset, as with waitress's own 413; the probe sends headers only).
    host, port = guarded_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n"
                     f"Content-Length: {limit + 16 * 1024 * 1024}\r\n\r\n{{".encode())
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"content-type: application/x-amz-json-1.1" in head.lower()
    assert b"x-amzn-errortype: imagetoolargeexception" in head.lower()
    assert json.loads(payload)["__type"] == "ImageTooLargeException"
    client = _client(guarded_url, "AKIDSIGNED", "top-secret")
    image = b"\xff\xd8" + b"\0" * server.components.service.settings.max_image_bytes
    assert _code(lambda: client.detect_faces(Image={"Bytes": image})) == "ImageTooLargeException"


def test_clock_skew_and_key_parsing() -> None:
    assert parse_access_keys(("A:s", "B:s:with:colons")) == {"A": "s", "B": "s:with:colons"}
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
    assert AccessChecker(()).enabled and not AccessChecker((), allow_anonymous=True).enabled
