"""The login page (``GET/POST /login``) and ``POST /logout``."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, session
from flask_login import current_user, login_user, logout_user

from ..api.errors import error_response
from ..api.http_metrics import http_metrics
from .guard import LoginUser, auth_state, current_actor, wants_json

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else ``/`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _answer(status: int, code: str, message: str, nxt: str, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if wants_json():
        return error_response(status, code, message, headers)
    page = render_template("login.html", page="login", next=nxt, error=message, username=request.form.get("username"))
    return Response(page, status=status, headers=headers)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """The login form; a POST checks the password under the login throttle."""
    nxt = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(nxt)  # type: ignore[return-value]
        return render_template("login.html", page="login", next=nxt, error=None)
    state = auth_state()
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    peer = request.remote_addr or "-"
    keys = (f"ip:{peer}", f"user:{username.lower()}")
    wait = state.throttle.retry_after(*keys)
    if wait:
        http_metrics().inc("auth_login_locked")
        state.accounts.audit(f"user:{username}", "login_refused", peer=peer, reason="rate_limited", retry_after=wait)
        return _answer(429, "rate_limited", f"Too many failed logins. Try again in {wait} s.", nxt, retry_after=wait)
    user = state.accounts.authenticate(username, password)
    if user is None:
        http_metrics().inc("auth_login_failed")
        state.throttle.failed(*keys)
        state.accounts.audit(f"user:{username}", "login_failed", peer=peer)
        return _answer(401, "login_failed", "Wrong username or password.", nxt)
    http_metrics().inc("auth_logins")
    state.throttle.succeeded(keys[1])
    session.clear()  # no session fixation: a fresh session (and CSRF token) per login
    login_user(LoginUser(user))
    session.permanent = True
    state.accounts.audit(f"user:{user.username}", "login", peer=peer, role=user.role)
    return redirect(nxt)  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    """End the session (CSRF-checked by the guard like every POST)."""
    actor = current_actor()
    logout_user()
    session.clear()
    auth_state().accounts.audit(actor, "logout", peer=request.remote_addr)
    return redirect("/login")  # type: ignore[return-value]
