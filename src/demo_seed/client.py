"""A small JSON client for the cloud HTTP API (standard library only)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


class ApiError(RuntimeError):
    """An HTTP error answer of the API (``status``, ``code`` from its error body) or no answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ApiClient:
    """Calls ``base_url``/api/...; JSON in, JSON out; raises ApiError on failures. With a
    ``token``, every request carries ``Authorization: Bearer <token>``."""

    #: Answers worth retrying: no answer, bad gateway, unavailable (e.g. Rekognition starting).
    RETRY_STATUSES = frozenset({0, 502, 503, 504})

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30.0,
        retries: int = 3,
        retry_delay_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        token: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_delay_s = retry_delay_s
        self._sleep = sleep

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """Send one request; return (status, body bytes) for 2xx, raise ApiError otherwise.
        Unreachable / 502 / 503 / 504 answers are retried ``retries`` times."""
        for attempt in range(self.retries + 1):
            try:
                return self._send(method, path, body, raw, content_type, query)
            except ApiError as exc:
                if exc.status not in self.RETRY_STATUSES or attempt == self.retries:
                    raise
                self._sleep(self.retry_delay_s * (attempt + 1))
        raise AssertionError("unreachable")

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        raw: bytes | None,
        content_type: str,
        query: dict[str, str] | None,
    ) -> tuple[int, bytes]:
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # the configured API URL
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            code, message = "http_error", payload[:200].decode("utf-8", "replace")
            try:
                err = json.loads(payload)["error"]
                code, message = str(err.get("code", code)), str(err.get("message", message))
            except (ValueError, KeyError, TypeError):
                pass
            if exc.code == 401:
                message += " (set ROLLCALL_SEED_TOKEN to an API token: rollcall-cloud create-token)"
            raise ApiError(exc.code, code, message) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, "unreachable", f"{url}: {getattr(exc, 'reason', exc)}") from None

    def json(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Any:
        """A request whose answer is JSON."""
        _, payload = self.request(method, path, body=body, query=query)
        return json.loads(payload) if payload else None

    def wait_healthy(self, timeout_s: float, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Poll ``GET /api/health`` until it answers 2xx; raise ApiError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        last: ApiError | None = None
        while True:
            try:
                _, payload = self._send("GET", "/api/health", None, None, "application/json", None)
                return json.loads(payload) if payload else {}
            except ApiError as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise ApiError(
                    last.status if last else 0, "not_healthy", f"cloud API not healthy after {timeout_s:.0f} s ({last})"
                )
            sleep(1.0)
