"""Build the account store for the configured backend and create the bootstrap accounts."""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.logs import log_event

from ..audit import AuditLog
from ..errors import CloudError
from ..settings import CloudSettings
from ..storage.accounts import AccountStore, SQLiteAccountStore
from .accounts import SEED_TOKEN_NAME, Accounts

log = logging.getLogger("rollcall.cloud.auth")

ACCOUNTS_FILE = "accounts.sqlite3"


def build_account_store(settings: CloudSettings) -> AccountStore:
    """SQLite (``<data_dir>/accounts.sqlite3``) or DynamoDB, following ``settings.storage``."""
    if settings.storage == "dynamodb":
        from ..storage.accounts_dynamodb import DynamoDBAccountStore

        return DynamoDBAccountStore.connect(
            settings.aws_region,
            settings.dynamodb_endpoint_url,
            prefix=settings.dynamodb_table_prefix,
            create_tables=settings.dynamodb_create_tables,
        )
    return SQLiteAccountStore(settings.data_dir / ACCOUNTS_FILE)


def build_accounts(settings: CloudSettings, audit: Callable[[], AuditLog]) -> Accounts:
    """The Accounts of ``settings``, with the bootstrap admin and seeder token in place."""
    accounts = Accounts(build_account_store(settings), audit)
    bootstrap(accounts, settings)
    return accounts


def bootstrap(accounts: Accounts, settings: CloudSettings) -> None:
    """Create ``admin_user`` (if set and absent) and register ``seed_token`` (if set)."""
    password = settings.admin_password.get_secret_value()
    if settings.admin_user:
        if not password:
            log_event(log, "bootstrap_admin_skipped", level=logging.ERROR, detail="admin_user set without a password")
        else:
            try:
                if accounts.ensure_admin(settings.admin_user, password):
                    log_event(log, "bootstrap_admin_created", username=settings.admin_user)
            except CloudError as exc:
                log_event(log, "bootstrap_admin_failed", level=logging.ERROR, detail=exc.message)
    token = settings.seed_token.get_secret_value()
    if token:
        try:
            if accounts.ensure_token(SEED_TOKEN_NAME, token):
                log_event(log, "bootstrap_token_registered", token=SEED_TOKEN_NAME)
        except CloudError as exc:
            log_event(log, "bootstrap_token_failed", level=logging.ERROR, detail=exc.message)
