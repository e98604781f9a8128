"""DynamoDB backend of :class:`cloud.storage.accounts.AccountStore`.

Tables: ``<prefix>users`` (key ``username``) and ``<prefix>api_tokens`` (key ``token_hash``).
Token names are unique: creating one scans the (small) token table first; usernames are
unique by key (conditional put).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..errors import Conflict
from .accounts import AccountStore, ApiToken, User
from .dynamodb_items import is_conditional_failure

TABLES = {"users": "username", "api_tokens": "token_hash"}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """Decimals back to int (every number here is an int)."""
    return {k: int(v) if type(v).__name__ == "Decimal" else v for k, v in item.items()}


class DynamoDBAccountStore(AccountStore):
    """Users and tokens in DynamoDB (``resource`` = ``boto3.resource("dynamodb")``)."""

    def __init__(self, resource: Any, prefix: str = "rollcall-", create_tables: bool = True) -> None:
        self.client = resource.meta.client
        self.prefix = prefix
        if create_tables:
            self._create_tables()
        self.users = resource.Table(prefix + "users")
        self.tokens = resource.Table(prefix + "api_tokens")

    @classmethod
    def connect(
        cls, region: str, endpoint_url: str = "", prefix: str = "rollcall-", create_tables: bool = True
    ) -> DynamoDBAccountStore:
        """A store on DynamoDB in ``region`` (or at ``endpoint_url``), credentials from the standard chain."""
        resource = boto3.session.Session(region_name=region).resource(
            "dynamodb", region_name=region, endpoint_url=endpoint_url or None
        )
        return cls(resource, prefix=prefix, create_tables=create_tables)

    def _create_tables(self) -> None:
        existing: set[str] = set()
        for page in self.client.get_paginator("list_tables").paginate():
            existing.update(page.get("TableNames", []))
        for name, key in TABLES.items():
            if self.prefix + name in existing:
                continue
            try:
                self.client.create_table(
                    TableName=self.prefix + name,
                    KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                    raise
            self.client.get_waiter("table_exists").wait(
                TableName=self.prefix + name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )

    @staticmethod
    def _scan(table: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = table.scan(**kwargs)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put_new(self, table: Any, item: dict[str, Any], key: str, what: str) -> None:
        try:
            table.put_item(
                Item=item, ConditionExpression="attribute_not_exists(#k)", ExpressionAttributeNames={"#k": key}
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict(f"{what} already exists") from None
            raise

    def create_user(self, user: User) -> None:
        self._put_new(self.users, asdict(user), "username", f"user {user.username!r}")

    def get_user(self, username: str) -> User | None:
        item = self.users.get_item(Key={"username": username}, ConsistentRead=True).get("Item")
        return User(**_plain(item)) if item else None

    def list_users(self) -> list[User]:
        return sorted((User(**i) for i in self._scan(self.users)), key=lambda u: u.username)

    def update_user(self, user: User) -> None:
        self.users.put_item(Item=asdict(user))

    def create_token(self, token: ApiToken) -> None:
        if any(t.name == token.name for t in self.list_tokens()):
            raise Conflict(f"token {token.name!r} already exists")
        self._put_new(self.tokens, asdict(token), "token_hash", f"token {token.name!r}")

    def get_token(self, token_hash: str) -> ApiToken | None:
        item = self.tokens.get_item(Key={"token_hash": token_hash}, ConsistentRead=True).get("Item")
        return ApiToken(**_plain(item)) if item else None

    def list_tokens(self) -> list[ApiToken]:
        return sorted((ApiToken(**i) for i in self._scan(self.tokens)), key=lambda t: t.name)

    def revoke_token(self, name: str) -> bool:
        for token in self.list_tokens():
            if token.name == name and not token.revoked:
                self.tokens.update_item(
                    Key={"token_hash": token.token_hash},
                    UpdateExpression="SET revoked = :t",
                    ExpressionAttributeValues={":t": True},
                )
                return True
        return False
