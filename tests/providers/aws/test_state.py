"""The DynamoDB state backend against the state backend contract, the idempotency races and the circuit
breaker's shared-state rules, on moto's DynamoDB (a real server on 127.0.0.1), and the items it writes as
deploy's table expects them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from portable_fn_aws.state import DynamoDbBackend, open_backend

from portable_fn.runtime.state import Record, State, StateError, create_or_read, new_version

from ...breaker_contract import BreakerContract, closed_port, store_of
from ...state_contract import BackendContract, IdempotencyContract

REGION = "eu-west-1"


def make_table(dynamodb: Any, name: str) -> None:
    """The table as deploy makes it: key `pk` (S), on demand, TTL on `ttl`."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})


@pytest.fixture
def dynamodb(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A DynamoDB client on the moto server; AWS_ENDPOINT_URL set, as an emulator would be in Lambda."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)


@pytest.fixture
def table(dynamodb: Any) -> str:
    name = f"shop-dev-orders-{uuid.uuid4().hex[:8]}"
    make_table(dynamodb, name)
    return name


class TestDynamoDbBackend(BackendContract):
    @pytest.fixture
    def backend(self, table: str) -> DynamoDbBackend:
        return open_backend("orders", table)  # the client boto3 makes from the environment, as in Lambda


class TestIdempotencyOnDynamoDb(IdempotencyContract):
    @pytest.fixture
    def backend(self, table: str) -> DynamoDbBackend:
        return open_backend("pfn-idempotency", table)


class TestBreakerOnDynamoDb(BreakerContract):
    @pytest.fixture
    def connect(self, table: str) -> Callable[[], DynamoDbBackend]:
        """Each instance's own client, made from the environment as in Lambda."""
        return lambda: open_backend("pfn-breakers", table)

    @pytest.fixture
    def unreachable(self, dynamodb: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> State:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
        return store_of(open_backend("pfn-breakers", table))


def test_items_carry_the_ttl_attribute_dynamodb_cleans_up_by(dynamodb: Any, table: str) -> None:
    backend = open_backend("orders", table)
    expires = time.time() + 90.5
    backend.write(Record("with-expiry", '{"n":1}', new_version(), expires))
    backend.write(Record("forever", '{"n":2}', new_version()))
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "with-expiry"}})["Item"]
    assert set(item) == {"pk", "value", "version", "expires_at", "ttl"}
    assert int(item["ttl"]["N"]) == int(expires) + 1 and abs(float(item["expires_at"]["N"]) - expires) < 1e-6
    assert set(dynamodb.get_item(TableName=table, Key={"pk": {"S": "forever"}})["Item"]) == {"pk", "value", "version"}


def test_a_missing_table_is_a_state_error_naming_it(dynamodb: Any) -> None:
    backend = open_backend("orders", "shop-dev-no-such-table")
    with pytest.raises(StateError, match="table 'shop-dev-no-such-table'.*portable-fn plan"):
        backend.read("k")


def test_a_duplicate_costs_one_dynamodb_call(dynamodb: Any, table: str) -> None:
    """A lost create brings back the record it lost to (ReturnValuesOnConditionCheckFailure), so the
    idempotency check of a duplicate is one request, as Powertools' is."""
    backend = open_backend("pfn-idempotency", table)
    sent: list[str] = []
    backend.client.meta.events.register("before-call.dynamodb.*", lambda model, **_: sent.append(model.name))
    first = Record("dup", '{"status":"completed"}', new_version(), time.time() + 60)
    assert create_or_read(backend, first, time.time()) == (True, None)
    created, found = create_or_read(backend, Record("dup", "{}", new_version()), time.time())
    assert (created, found) == (False, first)
    assert sent == ["PutItem", "PutItem"]


def test_scan_lists_the_records_under_a_key_prefix_in_key_order_across_pages(dynamodb: Any, table: str) -> None:
    """What `portable-fn workflows list` reads: every page of the Scan (items of 300 KB make moto's 1 MB
    pages hold three), sorted by key and cut to the limit; neighbours such as `wf$` and `wf` are left out."""
    backend = open_backend("pfn-workflows", table)
    big = "x" * 300_000
    keys = ["wf#c", "wf#a/1", "wf#b", "wf$", "wf", "other#1", *(f"wf#page{i}" for i in range(6))]
    for key in keys:
        backend.write(Record(key, f'"{big}"' if key.startswith("wf#page") else '{"n":1}', new_version()))
    sent: list[str] = []
    backend.client.meta.events.register("before-call.dynamodb.Scan", lambda model, **_: sent.append(model.name))
    assert [r.key for r in backend.scan("wf#")] == ["wf#a/1", "wf#b", "wf#c", *(f"wf#page{i}" for i in range(6))]
    assert len(sent) > 1  # more than one page was read
    assert [r.key for r in backend.scan("wf#", limit=2)] == ["wf#a/1", "wf#b"]
    assert backend.scan("wf#page3")[0] == backend.read("wf#page3")
    assert backend.scan("none#") == [] and len(backend.scan("")) == len(keys)
