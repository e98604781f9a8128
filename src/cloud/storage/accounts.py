"""Dashboard users and API tokens: the records, the store interface and the SQLite backend.

Accounts live apart from the attendance data (their own SQLite file, ``accounts.sqlite3`` in
the data dir, or the ``<prefix>users`` / ``<prefix>api_tokens`` DynamoDB tables, see
:mod:`cloud.storage.accounts_dynamodb`) so the attendance store's interface stays about
attendance. Passwords are stored as argon2 hashes, tokens as the SHA-256 of the token (a token
is 256 random bits, so a fast hash is safe and lets a request find its token in one lookup).
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import Conflict

ROLES = ("admin", "teacher")


@dataclass(frozen=True)
class User:
    """A dashboard account. ``password_hash`` is an argon2 hash; a disabled user cannot log in."""

    username: str
    role: str
    password_hash: str
    created_ms: int
    disabled: bool = False

    def public(self) -> dict[str, Any]:
        """The user as the API shows it (never the hash)."""
        return {"username": self.username, "role": self.role, "created_ms": self.created_ms, "disabled": self.disabled}


@dataclass(frozen=True)
class ApiToken:
    """An API token: only its SHA-256 is stored; ``name`` names it in the audit log."""

    token_hash: str
    name: str
    role: str
    created_ms: int
    created_by: str
    revoked: bool = False

    def public(self) -> dict[str, Any]:
        """The token as the API shows it (never the hash)."""
        return {k: v for k, v in asdict(self).items() if k != "token_hash"}


class AccountStore(ABC):
    """Users and API tokens. Creating an existing username or token name raises Conflict."""

    @abstractmethod
    def create_user(self, user: User) -> None: ...
    @abstractmethod
    def get_user(self, username: str) -> User | None: ...
    @abstractmethod
    def list_users(self) -> list[User]: ...
    @abstractmethod
    def update_user(self, user: User) -> None: ...
    @abstractmethod
    def create_token(self, token: ApiToken) -> None: ...
    @abstractmethod
    def get_token(self, token_hash: str) -> ApiToken | None: ...
    @abstractmethod
    def list_tokens(self) -> list[ApiToken]: ...
    @abstractmethod
    def revoke_token(self, name: str) -> bool:
        """Mark the token named ``name`` revoked; False if there is none (or it already was)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, role TEXT NOT NULL, password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    created_ms INTEGER NOT NULL, created_by TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
"""


class SQLiteAccountStore(AccountStore):
    """Accounts in one SQLite file (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    def _rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(row) for row in self._db.execute(sql, params).fetchall()]

    def _insert(self, sql: str, params: Any, what: str) -> None:
        try:
            with self._lock:
                self._db.execute(sql, params)
        except sqlite3.IntegrityError:
            raise Conflict(f"{what} already exists") from None

    @staticmethod
    def _user(row: dict[str, Any]) -> User:
        return User(**{**row, "disabled": bool(row["disabled"])})

    @staticmethod
    def _token(row: dict[str, Any]) -> ApiToken:
        return ApiToken(**{**row, "revoked": bool(row["revoked"])})

    def create_user(self, user: User) -> None:
        self._insert(
            "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
            (user.username, user.role, user.password_hash, user.created_ms, int(user.disabled)),
            f"user {user.username!r}",
        )

    def get_user(self, username: str) -> User | None:
        rows = self._rows("SELECT * FROM users WHERE username = ?", (username,))
        return self._user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        return [self._user(r) for r in self._rows("SELECT * FROM users ORDER BY username")]

    def update_user(self, user: User) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE users SET role = ?, password_hash = ?, disabled = ? WHERE username = ?",
                (user.role, user.password_hash, int(user.disabled), user.username),
            )

    def create_token(self, token: ApiToken) -> None:
        self._insert(
            "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?)",
            (token.token_hash, token.name, token.role, token.created_ms, token.created_by, int(token.revoked)),
            f"token {token.name!r}",
        )

    def get_token(self, token_hash: str) -> ApiToken | None:
        rows = self._rows("SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,))
        return self._token(rows[0]) if rows else None

    def list_tokens(self) -> list[ApiToken]:
        return [self._token(r) for r in self._rows("SELECT * FROM api_tokens ORDER BY name")]

    def revoke_token(self, name: str) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE api_tokens SET revoked = 1 WHERE name = ? AND revoked = 0", (name,))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
