"""Accounts over HTTP: ``GET /api/me`` (anyone logged in); users and API tokens (admins only).

* ``GET/POST /api/users``, ``PATCH /api/users/<username>`` (role, password, disabled);
* ``GET/POST /api/tokens`` (the plain token is in the 201 answer, once), ``DELETE /api/tokens/<name>``.
"""

from __future__ import annotations

from typing import Literal

from flask import Blueprint, Response, g, jsonify
from pydantic import BaseModel, ConfigDict

from cloud.auth import admin_only, current_actor
from cloud.auth.guard import auth_state
from cloud.errors import Conflict

from .context import created, no_content
from .pagination import page
from .validation import parse_json

bp = Blueprint("accounts", __name__, url_prefix="/api")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UserCreate(_Body):
    username: str
    password: str
    role: Literal["admin", "teacher"] = "teacher"


class UserUpdate(_Body):
    role: Literal["admin", "teacher"] | None = None
    password: str | None = None
    disabled: bool | None = None


class TokenCreate(_Body):
    name: str
    role: Literal["admin", "teacher"] = "teacher"


@bp.get("/me")
def me() -> Response:
    """Who the caller is: ``{"actor", "role"}``."""
    actor = g.rollcall_actor
    return jsonify({"actor": actor.name, "role": actor.role})


@bp.get("/users")
@admin_only
def list_users() -> Response:
    """Every user (never a password hash), a page at a time."""
    return page([u.public() for u in auth_state().accounts.store.list_users()], "users")


@bp.post("/users")
@admin_only
def create_user() -> Response:
    """Create a user from ``{"username", "password", "role"?}`` (role teacher by default)."""
    body = parse_json(UserCreate)
    user = auth_state().accounts.create_user(body.username, body.role, body.password, actor=current_actor())
    return created(user.public(), f"/api/users/{user.username}")


@bp.patch("/users/<username>")
@admin_only
def update_user(username: str) -> Response:
    """Change a user's role, password or disabled flag (an admin cannot demote or disable themselves)."""
    body = parse_json(UserUpdate)
    if current_actor() == f"user:{username}" and (body.disabled or body.role == "teacher"):
        raise Conflict("you cannot disable or demote your own account")
    user = auth_state().accounts.update_user(
        username, actor=current_actor(), role=body.role, password=body.password, disabled=body.disabled
    )
    return jsonify(user.public())


@bp.get("/tokens")
@admin_only
def list_tokens() -> Response:
    """Every API token (names and roles, never the token), a page at a time."""
    return page([t.public() for t in auth_state().accounts.store.list_tokens()], "tokens")


@bp.post("/tokens")
@admin_only
def create_token() -> Response:
    """Create a token from ``{"name", "role"?}``; the answer's ``token`` is shown this once."""
    body = parse_json(TokenCreate)
    plain, token = auth_state().accounts.create_token(body.name, body.role, actor=current_actor())
    return created({**token.public(), "token": plain}, f"/api/tokens/{token.name}")


@bp.delete("/tokens/<name>")
@admin_only
def revoke_token(name: str) -> Response:
    """Revoke a token: it stops working at once."""
    auth_state().accounts.revoke_token(name, actor=current_actor())
    return no_content()
