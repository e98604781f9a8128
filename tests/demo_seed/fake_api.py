"""An in-memory stand-in for the cloud HTTP API subset the seeder uses (127.0.0.1 only)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeCloud:
    """State + a server thread. ``fail_next`` lists statuses to answer before real ones. Like the
    real API, everything but ``/api/health`` needs ``Authorization: Bearer <TOKEN>`` (else 401)."""

    TOKEN = "rct_fake-seeder-token-0123456789abcdefghij"  # pragma: allowlist secret

    def __init__(self) -> None:
        self.classrooms: dict[str, dict] = {}
        self.students: dict[str, dict] = {}
        self.faces: dict[str, list[str]] = {}
        self.sessions: dict[str, dict] = {}
        self.records: dict[str, list[dict]] = {}
        self.streams_ended: dict[str, dict] = {}
        self.fail_next: list[int] = []
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeCloud":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: bytes, ctype: str) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path))
            if self.fail_next:
                return self.fail_next.pop(0), {"error": {"code": "unavailable", "message": "try later"}}
            if path == "/api/health":
                return 200, {"status": "ok"}
            if path == "/api/metrics":
                return 200, {"service": {"streams_ended": self.streams_ended}, "http": {}}
            if path == "/api/classrooms" and method == "POST":
                data = json.loads(body)
                if data["classroom_id"] in self.classrooms:
                    return 409, {"error": {"code": "conflict", "message": "exists"}}
                self.classrooms[data["classroom_id"]] = data
                return 201, data
            if path == "/api/students" and method == "POST":
                data = json.loads(body)
                if data["student_id"] in self.students:
                    return 409, {"error": {"code": "conflict", "message": "exists"}}
                self.students[data["student_id"]] = data
                self.faces[data["student_id"]] = []
                return 201, data
            m = re.fullmatch(r"/api/students/([^/]+)/photos", path)
            if m and method == "GET":
                return 200, {"faces": [{"face_id": f} for f in self.faces[m.group(1)]]}
            if m and method == "POST":
                if ctype not in ("image/jpeg", "image/png"):
                    return 415, {"error": {"code": "unsupported_media_type", "message": ctype}}
                if body.startswith(b"NOFACE"):
                    return 422, {"error": {"code": "no_face", "message": "no face in photo"}}
                face_id = f"face-{len(self.faces[m.group(1)]) + 1}"
                self.faces[m.group(1)].append(face_id)
                return 201, {"face_id": face_id}
            if path == "/api/sessions" and method == "GET":
                room, status = query.get("classroom_id", [None])[0], query.get("status", [None])[0]
                found = [s for s in self.sessions.values()
                         if (room is None or s["classroom_id"] == room) and (status is None or s["status"] == status)]
                return 200, {"sessions": found}
            if path == "/api/sessions" and method == "POST":
                data = json.loads(body)
                if data["classroom_id"] not in self.classrooms:
                    return 404, {"error": {"code": "not_found", "message": "no such classroom"}}
                if any(s["classroom_id"] == data["classroom_id"] and s["status"] == "open" for s in self.sessions.values()):
                    # as the real service: one open session per classroom
                    return 409, {"error": {"code": "conflict", "message": "classroom already has an open session"}}
                sid = f"s{len(self.sessions) + 1}"
                self.sessions[sid] = {"session_id": sid, "classroom_id": data["classroom_id"], "status": "open",
                                      "name": data.get("name")}
                self.records[sid] = []
                return 201, self.sessions[sid]
            m = re.fullmatch(r"/api/sessions/([^/]+)/.*", path)
            if m and m.group(1) not in self.sessions:
                return 404, {"error": {"code": "not_found", "message": "no such session"}}
            m = re.fullmatch(r"/api/sessions/([^/]+)/close", path)
            if m and method == "POST":
                session = self.sessions[m.group(1)]
                if session["status"] == "closed":
                    return 409, {"error": {"code": "conflict", "message": "closed"}}
                session["status"] = "closed"
                return 200, session
            m = re.fullmatch(r"/api/sessions/([^/]+)/attendance", path)
            if m:
                return 200, {"session": self.sessions[m.group(1)], "records": self.records[m.group(1)]}
            m = re.fullmatch(r"/api/sessions/([^/]+)/attendance\.csv", path)
            if m:
                rows = ["student_id,name"] + [f"{r['student_id']},{r['name']}" for r in self.records[m.group(1)]]
                return 200, "\n".join(rows) + "\n"
            return 404, {"error": {"code": "not_found", "message": path}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if parts.path != "/api/health" and self.headers.get("Authorization") != f"Bearer {cloud.TOKEN}":
                    status, payload = 401, {"error": {"code": "unauthenticated", "message": "log in first"}}
                else:
                    status, payload = cloud.handle(self.command, parts.path, parse_qs(parts.query), body,
                                                   self.headers.get("Content-Type", ""))
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/csv" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
