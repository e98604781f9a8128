"""``rollcall-cloud create-admin|create-user|create-token``: accounts from the command line.

A password never has to be on the command line: it is read from ``--password-env NAME`` (an
environment variable), ``--password-stdin`` (first line of stdin) or an interactive prompt
(asked twice). A new token is printed once on stdout; only its hash is stored.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TextIO

from ..audit import AUDIT_FILE, AuditLog
from ..errors import CloudError
from ..settings import CloudSettings
from .accounts import Accounts
from .setup import build_account_store


def add_parsers(commands: argparse._SubParsersAction) -> None:
    """The account subcommands of ``rollcall-cloud``."""
    for name, role, text in (
        ("create-admin", "admin", "create an admin account (password from a prompt, stdin or an env variable)"),
        ("create-user", None, "create a teacher (or admin) account"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("username")
        if role is None:
            sub.add_argument("--role", choices=("teacher", "admin"), default="teacher")
        sub.set_defaults(role=role or "teacher")
        source = sub.add_mutually_exclusive_group()
        source.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
        source.add_argument("--password-env", metavar="NAME", help="read the password from environment variable NAME")
    token = commands.add_parser("create-token", help="create an API token (printed once) for scripts")
    token.add_argument("name", help="the token's name, shown in the audit log as token:<name>")
    token.add_argument("--role", choices=("teacher", "admin"), default="teacher")


def _password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env, "")
        if not value:
            raise CloudError(f"environment variable {args.password_env} is empty or not set")
        return value
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise CloudError("no terminal to ask for the password: use --password-stdin or --password-env NAME")
    first = getpass.getpass(f"Password for {args.username}: ")
    if getpass.getpass("Same password again: ") != first:
        raise CloudError("the two passwords differ")
    return first


def run(args: argparse.Namespace, settings: CloudSettings, stdin: TextIO | None = None) -> int:
    """Run one account command; returns the exit code (errors on stderr)."""
    stdin = stdin or sys.stdin
    store = build_account_store(settings)
    accounts = Accounts(store, lambda: AuditLog(settings.data_dir / AUDIT_FILE))
    try:
        if args.command == "create-token":
            plain, token = accounts.create_token(args.name, args.role, actor="cli")
            print(plain)
            print(f"token {token.name!r} ({token.role}) created; it is shown only this once", file=sys.stderr)
            return 0
        user = accounts.create_user(args.username, args.role, _password(args, stdin), actor="cli")
        print(f"user {user.username!r} ({user.role}) created")
        return 0
    except CloudError as exc:
        print(f"rollcall-cloud {args.command}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
