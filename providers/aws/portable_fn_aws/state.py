"""The DynamoDB state backend: what `state("orders")` reads and writes on AWS Lambda.

Ships in the function zip beside the shim, but is imported only when a function first uses a state
(`portable_fn.runtime.state.open_backend` finds it by `PORTABLE_FN_PROVIDER=aws`); boto3, which the Lambda
Python runtime provides, is imported then too, so a function that uses no state never pays for it.

Deploy makes one table per state (`<app>-<stage>-<state>`, key `pk`) and names it in
`PORTABLE_FN_STATE_<NAME>`, the locator. One item per key:

| attribute    | type | holds                                                                       |
|--------------|------|-----------------------------------------------------------------------------|
| `pk`         | S    | the key, as given (DynamoDB takes any non-empty string: nothing to encode)  |
| `value`      | S    | the value as JSON text                                                      |
| `version`    | S    | the opaque version of this write                                            |
| `expires_at` | N    | when the value expires, epoch seconds (absent: never); checked in code      |
| `ttl`        | N    | the same, a whole number: DynamoDB's own cleanup, which runs days late      |

Conditional writes are DynamoDB condition expressions, so they hold across every instance; a lost
condition (`ConditionalCheckFailedException`) is the backend's False. Reads are strongly consistent,
so a read after a write sees it. `scan` (listing by key prefix, for `portable-fn workflows list`) reads
the whole table. The client honours `AWS_ENDPOINT_URL` (an emulator) as boto3 does.
"""

from __future__ import annotations

import math
from typing import Any

from portable_fn.runtime.state import Record, StateError

KEY, VALUE, VERSION, EXPIRES_AT, TTL = "pk", "value", "version", "expires_at", "ttl"
# Expression names (#k, #v, #e) throughout: `value` and `ttl` are reserved words in DynamoDB expressions.
CREATE_CONDITION = "attribute_not_exists(#k) OR #e <= :now"
REPLACE_CONDITION = "#v = :v"
MAX_CONNECTIONS = 64  # threads of one instance sharing the client (botocore's default pool holds 10)


class DynamoDbBackend:
    """One state in one DynamoDB table, through one boto3 client (thread-safe, shared by the threads)."""

    def __init__(self, table: str, client: Any = None) -> None:
        self.table = table
        self.client = client if client is not None else make_client()
        self._lost = self.client.exceptions.ConditionalCheckFailedException

    def read(self, key: str) -> Record | None:
        found = self._call("get_item", Key={KEY: {"S": key}}, ConsistentRead=True).get("Item")
        return None if found is None else record_of(found)

    def write(self, record: Record) -> None:
        self._call("put_item", Item=item_of(record))

    def create(self, record: Record, now: float) -> bool:
        return self._put_if(record, CREATE_CONDITION, {"#k": KEY, "#e": EXPIRES_AT}, {":now": number(now)})

    def create_or_read(self, record: Record, now: float) -> tuple[bool, Record | None]:
        """`create`, handing back the record it lost to in the same request
        (`ReturnValuesOnConditionCheckFailure`), so a duplicate costs one call (`state.create_or_read`)."""
        try:
            self._call(
                "put_item",
                Item=item_of(record),
                ConditionExpression=CREATE_CONDITION,
                ExpressionAttributeNames={"#k": KEY, "#e": EXPIRES_AT},
                ExpressionAttributeValues={":now": number(now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._lost as lost:
            old = getattr(lost, "response", {}).get("Item")
            return False, record_of(old) if old else self.read(record.key)
        return True, None

    def replace(self, record: Record, version: str) -> bool:
        return self._put_if(record, REPLACE_CONDITION, {"#v": VERSION}, {":v": {"S": version}})

    def delete(self, key: str, version: str | None = None) -> bool:
        params: dict[str, Any] = {"Key": {KEY: {"S": key}}, "ReturnValues": "ALL_OLD"}
        if version is not None:
            params.update(
                ConditionExpression=REPLACE_CONDITION,
                ExpressionAttributeNames={"#v": VERSION},
                ExpressionAttributeValues={":v": {"S": version}},
            )
        try:
            return "Attributes" in self._call("delete_item", **params)
        except self._lost:
            return False

    def scan(self, prefix: str, limit: int = 100) -> list[Record]:
        """Up to `limit` records whose key starts with `prefix`, by key (listing, not a hot path). A table
        keyed by hash has no order: every page of a filtered Scan is read, then sorted and cut."""
        params: dict[str, Any] = {"ConsistentRead": True}
        if prefix:  # DynamoDB refuses an empty string in an expression; every key starts with ''
            params.update(
                FilterExpression="begins_with(#k, :p)",
                ExpressionAttributeNames={"#k": KEY},
                ExpressionAttributeValues={":p": {"S": prefix}},
            )
        found: list[Record] = []
        while True:
            page = self._call("scan", **params)
            found += [record_of(item) for item in page.get("Items", ())]
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda r: r.key)[:limit]
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put_if(self, record: Record, condition: str, names: dict[str, str], values: dict[str, Any]) -> bool:
        try:
            self._call(
                "put_item",
                Item=item_of(record),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._lost:
            return False
        return True

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One DynamoDB operation on the table; a failure other than a lost condition is a StateError
        naming the table and what to check."""
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            return dict(getattr(self.client, operation)(TableName=self.table, **params))
        except self._lost:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise StateError(
                f"DynamoDB {operation} on table {self.table!r} failed ({exc}); check that the table exists "
                "(`portable-fn plan --provider aws`) and that the function declares the state in uses=."
            ) from exc


def open_backend(name: str, locator: str) -> DynamoDbBackend:
    """The backend for state `name`, in the table `locator` names (`PORTABLE_FN_STATE_<NAME>`)."""
    return DynamoDbBackend(locator)


def make_client() -> Any:
    """A DynamoDB client for this function's region and endpoint (boto3 reads both from the environment)."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(retries={"mode": "standard"}, max_pool_connections=MAX_CONNECTIONS)
    return boto3.client("dynamodb", config=config)


def item_of(record: Record) -> dict[str, Any]:
    item: dict[str, Any] = {KEY: {"S": record.key}, VALUE: {"S": record.value}, VERSION: {"S": record.version}}
    if record.expires_at is not None:
        item[EXPIRES_AT] = number(record.expires_at)
        item[TTL] = {"N": str(math.ceil(record.expires_at))}
    return item


def record_of(item: dict[str, Any]) -> Record:
    expires = item.get(EXPIRES_AT)
    return Record(
        item[KEY]["S"], item[VALUE]["S"], item[VERSION]["S"], float(expires["N"]) if expires is not None else None
    )


def number(value: float) -> dict[str, str]:
    """A DynamoDB number attribute holding `value` exactly (`repr` round-trips a float)."""
    return {"N": repr(float(value))}
