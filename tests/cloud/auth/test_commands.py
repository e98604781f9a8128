"""``rollcall-cloud create-admin / create-user / create-token`` (through cloud.cli.main)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cloud import cli
from cloud.audit import AuditLog
from cloud.auth.accounts import Accounts
from cloud.storage.accounts import SQLiteAccountStore

PASSWORD = "correct horse battery"  # pragma: allowlist secret


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROLLCALL_CLOUD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ROLLCALL_CLOUD_STORAGE", "sqlite")
    monkeypatch.delenv("ROLLCALL_CONFIG_FILE", raising=False)
    return tmp_path


def _accounts(data_dir: Path) -> Accounts:
    return Accounts(SQLiteAccountStore(data_dir / "accounts.sqlite3"), lambda: AuditLog(data_dir / "audit.jsonl"))


def test_create_admin_reads_the_password_from_stdin(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["create-admin", "root.admin", "--password-stdin"]) == 0
    assert "created" in capsys.readouterr().out
    user = _accounts(data_dir).authenticate("root.admin", PASSWORD)
    assert user is not None and user.role == "admin"
    entry = AuditLog(data_dir / "audit.jsonl").entries()[-1]
    assert (entry["actor"], entry["action"], entry["username"]) == ("cli", "user_created", "root.admin")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["create-admin", "root.admin", "--password-stdin"]) == 1  # exists
    assert "already exists" in capsys.readouterr().err


def test_create_user_from_an_environment_variable(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NEW_PW", PASSWORD)
    assert cli.main(["create-user", "t.one", "--role", "teacher", "--password-env", "NEW_PW"]) == 0
    assert _accounts(data_dir).authenticate("t.one", PASSWORD).role == "teacher"
    assert cli.main(["create-user", "t.two", "--password-env", "UNSET_PW"]) == 1
    assert "UNSET_PW" in capsys.readouterr().err


def test_without_a_terminal_the_password_is_never_guessed(data_dir: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["create-admin", "ada"]) == 1
    assert "--password-stdin" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["create-admin", "ada", "--password-stdin"]) == 1
    assert "10 to 256 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # there is no option to put a password on the command line
        cli.main(["create-admin", "ada", "--password", PASSWORD])


def test_create_token_prints_it_once_and_stores_its_hash(data_dir: Path, capsys) -> None:
    assert cli.main(["create-token", "backup", "--role", "admin"]) == 0
    plain = capsys.readouterr().out.strip()
    assert plain.startswith("rct_") and len(plain) >= 40
    accounts = _accounts(data_dir)
    assert accounts.token_for(plain).role == "admin"
    assert plain not in (data_dir / "accounts.sqlite3").read_bytes().decode("latin-1")
    assert plain not in json.dumps(AuditLog(data_dir / "audit.jsonl").entries())
