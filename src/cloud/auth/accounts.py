"""Accounts logic: argon2 passwords, API tokens, bootstrap accounts, all audited.

Usernames and token names follow the API's id rule (letters, digits, ``_ . @ -``; 1-64).
Passwords need 10 to 256 characters. A token is ``rct_`` + 43 URL-safe characters (256 random
bits); only its SHA-256 is stored, and the plain token is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from common.clock import now_ms

from ..audit import AuditLog
from ..errors import Conflict, InvalidInput, NotFound
from ..storage.accounts import ROLES, AccountStore, ApiToken, User

NAME_RE = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
MIN_TOKEN = 32
TOKEN_PREFIX = "rct_"
SEED_TOKEN_NAME = "seeder"


def check_name(value: str, what: str) -> str:
    """``value`` if it is a valid username / token name, else InvalidInput."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise InvalidInput(f"{what} must be 1-64 letters, digits or _ . @ -")
    return value


def check_role(role: str) -> str:
    """``role`` if it is admin or teacher, else InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    """``password`` if its length is acceptable, else InvalidInput."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    """Users and tokens on an :class:`AccountStore`, with every change written to the audit log."""

    def __init__(self, store: AccountStore, audit: Callable[[], AuditLog], clock: Callable[[], int] = now_ms) -> None:
        self.store = store
        self._audit = audit
        self.clock = clock
        self.hasher = PasswordHasher()
        # verifying against this when the user does not exist keeps the timing of both answers alike
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def audit(self, actor: str, action: str, **fields: object) -> None:
        """Append one audit entry."""
        self._audit().record(self.clock(), actor, action, **fields)

    # ---------------------------------------------------------------- users
    def create_user(self, username: str, role: str, password: str, actor: str) -> User:
        """A new user; Conflict if the name is taken."""
        user = User(
            username=check_name(username, "username"),
            role=check_role(role),
            password_hash=self.hasher.hash(check_password(password)),
            created_ms=self.clock(),
        )
        self.store.create_user(user)
        self.audit(actor, "user_created", username=username, role=role)
        return user

    def update_user(
        self,
        username: str,
        actor: str,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change a user's role, password and/or disabled flag; NotFound if absent."""
        user = self.store.get_user(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        changes: dict[str, object] = {}
        if role is not None:
            changes["role"] = check_role(role)
        if disabled is not None:
            changes["disabled"] = bool(disabled)
        if password is not None:
            changes["password_hash"] = self.hasher.hash(check_password(password))
        if not changes:
            raise InvalidInput("nothing to update: give 'role', 'password' and/or 'disabled'")
        updated = User(**{**user.__dict__, **changes})
        self.store.update_user(updated)
        new_password = "password_hash" in changes  # pragma: allowlist secret
        shown = {k: v for k, v in changes.items() if k != "password_hash"}
        self.audit(actor, "user_updated", username=username, password_changed=new_password, **shown)
        return updated

    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account enabled, else None (same cost either way)."""
        user = self.store.get_user(username) if NAME_RE.match(username or "") else None
        try:
            self.hasher.verify(user.password_hash if user else self._dummy_hash, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if user is None or user.disabled:
            return None
        if self.hasher.check_needs_rehash(user.password_hash):
            self.store.update_user(User(**{**user.__dict__, "password_hash": self.hasher.hash(password)}))
        return user

    def active_user(self, username: str) -> User | None:
        """The enabled user named ``username`` (a session's user), else None."""
        user = self.store.get_user(username) if NAME_RE.match(username or "") else None
        return user if user is not None and not user.disabled else None

    def ensure_admin(self, username: str, password: str) -> bool:
        """Create the admin ``username`` unless it exists (startup bootstrap); True if created."""
        if self.store.get_user(check_name(username, "admin user")) is not None:
            return False
        try:
            self.create_user(username, "admin", password, actor="bootstrap")
        except Conflict:
            return False
        return True

    # ---------------------------------------------------------------- tokens
    def create_token(self, name: str, role: str, actor: str, plain: str | None = None) -> tuple[str, ApiToken]:
        """A new token (plain text, record); Conflict if the name is taken."""
        plain = plain or TOKEN_PREFIX + secrets.token_urlsafe(32)
        if len(plain) < MIN_TOKEN:
            raise InvalidInput(f"a token needs at least {MIN_TOKEN} characters")
        token = ApiToken(
            token_hash=token_hash(plain),
            name=check_name(name, "token name"),
            role=check_role(role),
            created_ms=self.clock(),
            created_by=actor,
        )
        self.store.create_token(token)
        self.audit(actor, "token_created", token=name, role=role)
        return plain, token

    def revoke_token(self, name: str, actor: str) -> None:
        """Revoke the token named ``name``; NotFound if there is no live one."""
        if not self.store.revoke_token(check_name(name, "token name")):
            raise NotFound(f"no live token named {name!r}")
        self.audit(actor, "token_revoked", token=name)

    def token_for(self, plain: str) -> ApiToken | None:
        """The live token whose plain text is ``plain``, else None."""
        if not plain or len(plain) > 512:
            return None
        token = self.store.get_token(token_hash(plain))
        return token if token is not None and not token.revoked else None

    def ensure_token(self, name: str, plain: str, role: str = "teacher") -> bool:
        """Register ``plain`` as token ``name`` unless that exact token exists; True if created."""
        if self.store.get_token(token_hash(plain)) is not None:
            return False
        if any(t.name == name and not t.revoked for t in self.store.list_tokens()):
            self.store.revoke_token(name)  # the .env value changed: the old seeder token stops working
            self.audit("bootstrap", "token_revoked", token=name, reason="replaced")
        try:
            self.create_token(name, role, actor="bootstrap", plain=plain)
        except Conflict:  # a revoked token of that name keeps the name: give the new one a suffix
            self.create_token(f"{name}-{self.clock()}", role, actor="bootstrap", plain=plain)
        return True
