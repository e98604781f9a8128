"""The app-level guard: who is calling, CSRF, admin-only views, write rate limit, audit."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, current_app, g, redirect, render_template, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from common.logs import log_event

from ..api.errors import error_response
from ..api.http_metrics import http_metrics
from ..settings import CloudSettings
from ..storage.accounts import User
from .accounts import Accounts
from .limits import KeyedRateLimiter, LoginThrottle
from .secret import secret_key

log = logging.getLogger("rollcall.cloud.auth")

AUTH_KEY = "rollcall_auth"  # pragma: allowlist secret
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Endpoints anybody may call: the login page, static files, the compose healthcheck.
OPEN_ENDPOINTS = frozenset({"auth.login", "dashboard.static", "health.health"})

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Actor:
    """Who made the request: ``user:<name>`` (session) or ``token:<name>`` (API token)."""

    name: str
    role: str


@dataclass
class AuthState:
    """The app's auth objects (``app.extensions["rollcall_auth"]``)."""

    accounts: Accounts
    csrf: CSRFProtect
    throttle: LoginThrottle
    writes: KeyedRateLimiter


def _stamp(user: User) -> str:
    """A fingerprint of the user's password hash: a new password ends every older session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


class LoginUser(UserMixin):
    """Flask-Login's view of a :class:`User`; its session id is ``<username>|<password stamp>``."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.username}|{_stamp(self.user)}"


def admin_only(view: F) -> F:
    """Mark a view as admin-only: the guard answers 403 to teacher accounts and tokens."""
    view.rollcall_admin_only = True  # type: ignore[attr-defined]
    return view


def auth_state() -> AuthState:
    """The running app's AuthState."""
    return current_app.extensions[AUTH_KEY]


def current_actor() -> str:
    """The audit name of the caller (``user:<name>``, ``token:<name>``), ``anonymous`` if none."""
    actor = g.get("rollcall_actor")
    return actor.name if actor is not None else "anonymous"


def wants_json() -> bool:
    """True for API paths and clients that prefer JSON."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _unauthenticated(message: str) -> Response:
    if wants_json():
        return error_response(401, "unauthenticated", message, {"WWW-Authenticate": 'Bearer realm="rollcall"'})
    target = request.full_path if request.method == "GET" and request.query_string else request.path
    return redirect("/login?next=" + quote(target, safe="/"), code=302)  # type: ignore[return-value]


def _identify(state: AuthState) -> Actor | Response:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        token = state.accounts.token_for(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            http_metrics().inc("auth_token_refused")
            log_event(log, "auth_token_refused", level=logging.WARNING, peer=request.remote_addr, path=request.path)
            return _unauthenticated("invalid, revoked or malformed API token (Authorization: Bearer <token>)")
        return Actor(f"token:{token.name}", token.role)
    if not current_user.is_authenticated:
        return _unauthenticated("log in first, or send an API token as 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS:
        state.csrf.protect()  # raises CSRFError (403) without a valid token
    return Actor(f"user:{current_user.user.username}", current_user.user.role)


def _guard() -> Response | None:
    state = auth_state()
    g.rollcall_actor = None
    if request.endpoint in OPEN_ENDPOINTS:
        if request.method not in SAFE_METHODS:
            state.csrf.protect()  # the login form
        return None
    actor = _identify(state)
    if isinstance(actor, Response):
        return actor
    g.rollcall_actor = actor
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "rollcall_admin_only", False) and actor.role != "admin":
        http_metrics().inc("auth_forbidden")
        return error_response(403, "forbidden", "this action needs an admin account")
    if request.method not in SAFE_METHODS:
        wait = state.writes.take(actor.name)
        if wait > 0:
            http_metrics().inc("auth_writes_rate_limited")
            retry = max(1, math.ceil(wait))
            return error_response(
                429, "rate_limited", f"too many changes; retry in {retry} s", {"Retry-After": str(retry)}
            )
    return None


def _audit_change(response: Response) -> Response:
    actor = g.get("rollcall_actor")
    # 429s are left out: refused before any change, and a flood of them must not grow the log
    if (
        actor is not None
        and request.method not in SAFE_METHODS
        and request.blueprint != "auth"
        and response.status_code != 429
    ):
        auth_state().accounts.audit(
            actor.name,
            "http_change",
            method=request.method,
            path=request.path[:200],
            endpoint=request.endpoint,
            status=response.status_code,
            peer=request.remote_addr,
        )
    return response


def _csrf_refused(exc: CSRFError) -> Response:
    http_metrics().inc("auth_csrf_refused")
    log_event(log, "csrf_refused", level=logging.WARNING, peer=request.remote_addr, path=request.path[:200])
    message = f"CSRF check failed: {exc.description} Reload the page and try again."
    if wants_json() or request.endpoint != "auth.login":
        return error_response(403, "csrf_failed", message)
    page = render_template("login.html", page="login", next="/", error="The form expired. Please try again.")
    return Response(page, status=403)


def install_auth(app: Flask, settings: CloudSettings, accounts: Accounts) -> AuthState:
    """Sessions, CSRF, the guard, the login views and the change audit on ``app``."""
    from .views import bp

    app.secret_key = secret_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME="rollcall_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # the guard decides (token requests need no CSRF token)
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session
    )
    csrf = CSRFProtect(app)
    manager = LoginManager(app)

    @manager.user_loader
    def _load(session_id: str) -> LoginUser | None:
        username, _, stamp = session_id.partition("|")
        user = accounts.active_user(username)  # a disabled user's sessions end at the next request
        return LoginUser(user) if user is not None and stamp == _stamp(user) else None

    burst = max(1.0, settings.writes_per_min / 3)
    state = AuthState(
        accounts=accounts,
        csrf=csrf,
        throttle=LoginThrottle(allowed=settings.login_attempts_per_min),
        writes=KeyedRateLimiter(settings.writes_per_min, burst),
    )
    app.extensions[AUTH_KEY] = state
    app.register_blueprint(bp)
    app.before_request(_guard)
    app.after_request(_audit_change)
    app.register_error_handler(CSRFError, _csrf_refused)
    return state
