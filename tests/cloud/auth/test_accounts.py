"""Accounts on both backends (SQLite, DynamoDB via moto), argon2 hashes, hashed tokens, bootstrap."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloud.audit import AuditLog
from cloud.auth.accounts import Accounts, token_hash
from cloud.auth.setup import bootstrap
from cloud.errors import Conflict, InvalidInput, NotFound
from cloud.settings import CloudSettings
from cloud.storage.accounts import SQLiteAccountStore

PASSWORD = "correct horse battery"  # pragma: allowlist secret


@pytest.fixture(params=["sqlite", "dynamodb"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Accounts]:
    store: Any
    if request.param == "sqlite":
        store = SQLiteAccountStore(tmp_path / "accounts.sqlite3")
    else:
        request.getfixturevalue("moto_aws")
        from cloud.storage.accounts_dynamodb import DynamoDBAccountStore

        store = DynamoDBAccountStore(boto3.resource("dynamodb", region_name="us-east-1"), prefix=f"t{uuid.uuid4().hex[:6]}-")
    audit = AuditLog(tmp_path / "audit.jsonl")
    yield Accounts(store, lambda: audit)
    store.close()


def test_users_are_stored_with_argon2_hashes(accounts: Accounts) -> None:
    user = accounts.create_user("ada", "admin", PASSWORD, actor="test")
    stored = accounts.store.get_user("ada")
    assert stored == user and stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert accounts.authenticate("ada", PASSWORD) == user
    assert accounts.authenticate("ada", PASSWORD + "x") is None
    assert accounts.authenticate("nobody", PASSWORD) is None
    with pytest.raises(Conflict):
        accounts.create_user("ada", "teacher", PASSWORD, actor="test")
    for bad in (("bad name", "teacher", PASSWORD), ("bob", "root", PASSWORD), ("bob", "teacher", "short")):
        with pytest.raises(InvalidInput):
            accounts.create_user(*bad, actor="test")
    accounts.update_user("ada", "test", password="another long one", role="teacher")  # pragma: allowlist secret
    assert accounts.authenticate("ada", PASSWORD) is None
    assert accounts.authenticate("ada", "another long one").role == "teacher"
    accounts.update_user("ada", "test", disabled=True)
    assert accounts.authenticate("ada", "another long one") is None and accounts.active_user("ada") is None
    with pytest.raises(NotFound):
        accounts.update_user("nobody", "test", disabled=True)
    assert [u.username for u in accounts.store.list_users()] == ["ada"]


def test_tokens_are_stored_hashed_and_revocable(accounts: Accounts, tmp_path: Path) -> None:
    plain, token = accounts.create_token("seeder", "teacher", actor="user:ada")
    assert token.token_hash == token_hash(plain) and plain not in str(accounts.store.list_tokens())
    assert accounts.token_for(plain).name == "seeder"
    assert accounts.token_for(plain + "x") is None and accounts.token_for("") is None
    with pytest.raises(Conflict):
        accounts.create_token("seeder", "admin", actor="user:ada")
    accounts.revoke_token("seeder", actor="user:ada")
    assert accounts.token_for(plain) is None
    with pytest.raises(NotFound):
        accounts.revoke_token("seeder", actor="user:ada")
    actions = [e["action"] for e in AuditLog(tmp_path / "audit.jsonl").entries()]
    assert actions == ["token_created", "token_revoked"]


def test_bootstrap_creates_the_demo_admin_once_and_registers_the_seed_token(accounts: Accounts, tmp_path: Path) -> None:
    settings = CloudSettings(
        data_dir=tmp_path, admin_user="demo-admin", admin_password=PASSWORD, seed_token="s" * 40
    )
    bootstrap(accounts, settings)
    bootstrap(accounts, settings)  # a restart changes nothing
    assert accounts.authenticate("demo-admin", PASSWORD).role == "admin"
    assert accounts.token_for("s" * 40).name == "seeder"
    # a new .env value replaces the old seeder token
    bootstrap(accounts, CloudSettings(data_dir=tmp_path, seed_token="t" * 40))
    assert accounts.token_for("s" * 40) is None and accounts.token_for("t" * 40).role == "teacher"
    # an existing admin's password is never overwritten from the environment
    bootstrap(accounts, CloudSettings(data_dir=tmp_path, admin_user="demo-admin", admin_password="x" * 12))
    assert accounts.authenticate("demo-admin", PASSWORD) is not None
    entries = AuditLog(tmp_path / "audit.jsonl").entries()
    assert [e["action"] for e in entries].count("user_created") == 1
    assert all(PASSWORD not in str(e) and "s" * 40 not in str(e) for e in entries)


def test_the_dynamodb_backend_follows_the_storage_setting(moto_aws: None, tmp_path: Path) -> None:
    from cloud.auth.setup import build_account_store
    from cloud.storage.accounts_dynamodb import DynamoDBAccountStore

    settings = CloudSettings(data_dir=tmp_path, storage="dynamodb", dynamodb_table_prefix="acct-")
    store = build_account_store(settings)
    assert isinstance(store, DynamoDBAccountStore)
    tables = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    assert {"acct-users", "acct-api_tokens"} <= set(tables)
    assert not (tmp_path / "accounts.sqlite3").exists()
