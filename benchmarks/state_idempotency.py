"""Idempotency per invocation against Powertools' on DynamoDB; state calls against each cloud's SDK.

Why it exists: issue 14 puts a store round trip into every idempotent invocation and behind every state
call, on every cloud. On AWS, Powertools' idempotency utility does the same job on the same DynamoDB, and
a user could call the SDK directly instead of `orders.get(...)`; this measures what portable-fn costs next
to both. A moto server (started here, on 127.0.0.1 at a free port) stands in for DynamoDB, so most of each
figure is moto's HTTP round trip on this machine: the tables give the ratio and the difference in µs.

1. An SQS-shaped event of one record through the AWS shim's `lambda_handler` of an
   `@function(trigger=queue(...), idempotent=True)` (store: `portable_fn_aws.state` on DynamoDB), against
   Powertools' documented SQS pattern (`BatchProcessor` and a record handler under `@idempotent_function`
   keyed on the `messageId`, `DynamoDBPersistenceLayer`): first executions (a new message id each call),
   duplicates (the same message id: the stored result is replayed, the handler does not run), and each
   side without idempotency (the baseline).
2. `orders.get`, `orders.put`, `orders.create` (a new key each call) and `orders.update(version=)` against
   the boto3 client's `get_item`, `put_item` and conditional `put_item` on the same table, storing the
   same JSON text and version; and the same two sides over a client answering from a dict
   (`DictClient`), which leaves each side's own work: the µs the state layer adds.

3. The same state calls and `orders.delete` on the two other clouds' backends against their SDKs called
   directly: portable-fn's Firestore backend (`portable_fn_gcp.state`) against google-cloud-firestore on
   gcloud's Firestore emulator, and its Table Storage backend (`portable_fn_azure.state`) against
   azure-data-tables on Azurite's table service, each started here on 127.0.0.1 at a free port as the
   test suite starts them (skipped, with a note, when the emulator is not installed).

Both sides use one boto3 client configuration and the same moto server. Contenders are interleaved call
by call, in a new (seeded) order each sweep, with the garbage collector on (`measure_interleaved`): the
machine these run on is shared, and a burst of load then falls on every contender alike. Before timing,
each contender is checked (same answer; the handler runs for a new message, not for a duplicate) and the
DynamoDB calls it sends are counted.

    python benchmarks/state_idempotency.py            # full run (about 3 min), writes results_state_idempotency.json
    python benchmarks/state_idempotency.py --quick    # smoke run (about 1 min), same tables, rougher numbers

Goals: none set by the issue; the figures say what idempotency and the state API add per call.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_sqs import FIXTURE, FakeLambdaContext, total
from botocore.exceptions import ClientError
from portable_fn_aws.shim import make_handler
from portable_fn_aws.state import DynamoDbBackend, make_client
from run import DATA, _loops_for, machine

from portable_fn.emulators import Emulator, EmulatorError
from portable_fn.runtime import CloudEvent, function, queue
from portable_fn.runtime.state import State, locator_env, use_backends

HERE = Path(__file__).resolve().parent
REGION = "eu-west-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
MOTO_SERVER = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]
POWERTOOLS_TABLE, IDEMPOTENCY_TABLE, ORDERS = "powertools-idempotency", "pfn-idempotency", "orders"
KEY = "pk"  # the key attribute of every table: portable_fn_aws.state's, and Powertools' key_attr here
SEED = 14

# -- the moto server and the boto3 client both sides use ---------------------------------------------------


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    """A moto server on 127.0.0.1 with dummy credentials in this process's environment (the child and
    every boto3 client here read them; AWS_ENDPOINT_URL keeps any client from reaching AWS)."""
    for name, value in CREDENTIALS.items():
        os.environ[name] = value
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(name, None)
    with Emulator(MOTO_SERVER, "http://127.0.0.1:{port}/moto-api/data.json", log_dir, "moto-server") as server:
        os.environ["AWS_ENDPOINT_URL"] = server.url
        yield server.url


def dynamodb_client() -> Any:
    """The client Powertools and the SDK side use: one made as portable-fn's DynamoDB backend makes its
    own (`make_client`: the same retry mode and connection pool), at moto through AWS_ENDPOINT_URL."""
    return make_client()


def provision(client: Any) -> None:
    """One table per store, all keyed on `pk` (a string), the shape portable-fn's deploy makes; the
    environment deploy would set tells portable-fn where its two stores are."""
    for table in (ORDERS, IDEMPOTENCY_TABLE, POWERTOOLS_TABLE):
        create_table(client, table, KEY)
    os.environ["PORTABLE_FN_PROVIDER"] = "aws"
    os.environ[locator_env(ORDERS)] = ORDERS
    os.environ[locator_env("pfn-idempotency")] = IDEMPOTENCY_TABLE


def create_table(client: Any, name: str, key: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


class CallCounter:
    """Counts the DynamoDB calls every client made from here on sends (botocore's `before-call` event on
    boto3's default session, which each new client copies), for the check."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


# -- 1. idempotency per invocation: the event and the contenders -------------------------------------------


def sqs_event(message_id: str) -> dict[str, Any]:
    """Powertools' JSON-body SQS fixture record carrying the benchmark's order, as a one-record event."""
    record = json.loads(FIXTURE.read_text())["Records"][1]
    record["messageId"] = message_id
    record["body"] = json.dumps({**DATA, "fail": False}, separators=(",", ":"))
    return {"Records": [record]}


class Events:
    """A fresh message id per call (first executions) or always the same one (duplicates)."""

    def __init__(self, prefix: str) -> None:
        self.template = sqs_event("")
        self.record = self.template["Records"][0]
        self.prefix = prefix
        self.count = itertools.count()
        self.duplicate = self.new()

    def new(self) -> dict[str, Any]:
        return {"Records": [{**self.record, "messageId": f"{self.prefix}-{next(self.count):09d}"}]}

    def same(self) -> dict[str, Any]:
        return self.duplicate


RUNS = {"ours": 0, "powertools": 0}  # handler executions, for the check


@function(trigger=queue("orders"))
def on_order(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
    return total(event.data)


def powertools_side(client: Any) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    """Powertools' SQS idempotency as its documentation writes it (batch integration), and the same
    batch handler without it."""
    persistence = DynamoDBPersistenceLayer(table_name=POWERTOOLS_TABLE, key_attr=KEY, boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath="messageId")
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> int:
        return total(json.loads(record.body))

    @idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence)  # type: ignore[untyped-decorator]
    def idempotent_record_handler(record: SQSRecord) -> int:
        RUNS["powertools"] += 1
        return total(json.loads(record.body))

    def idempotent(event: dict[str, Any], context: Any) -> Any:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=idempotent_record_handler, processor=processor, context=context
        )

    def plain(event: dict[str, Any], context: Any) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return {"idempotent": idempotent, "plain": plain}


def ours_side() -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    """The AWS shim's handler of the same function with and without `idempotent=True`."""

    @function(trigger=queue("orders"), idempotent=True)
    def on_order_once(event: CloudEvent[dict]) -> int:  # type: ignore[type-arg]
        RUNS["ours"] += 1
        return total(event.data)

    return {
        "idempotent": make_handler(on_order_once.__portable_fn__),  # type: ignore[attr-defined]
        "plain": make_handler(on_order.__portable_fn__),  # type: ignore[attr-defined]
    }


def idempotency_contenders(client: Any) -> dict[str, Callable[[], Any]]:
    context = FakeLambdaContext()
    sides = {"ours": ours_side(), "powertools": powertools_side(client)}
    out: dict[str, Callable[[], Any]] = {}
    for side, handlers in sides.items():
        events = Events(f"{side}-{os.urandom(4).hex()}")
        idem, plain = handlers["idempotent"], handlers["plain"]
        out[f"{side} first"] = _invoking(idem, events.new, context)
        out[f"{side} duplicate"] = _invoking(idem, events.same, context)
        out[f"{side} no idempotency"] = _invoking(plain, events.same, context)
    return out


def _invoking(
    handler: Callable[[dict[str, Any], Any], Any], event: Callable[[], Any], context: Any
) -> Callable[[], Any]:
    return lambda: handler(event(), context)


def check_idempotency(contenders: dict[str, Callable[[], Any]], counter: CallCounter) -> dict[str, list[str]]:
    """Refuse to time a contender that answers otherwise, or whose duplicates run the handler (or first
    executions do not); the DynamoDB requests each one sends, for the report."""
    requests: dict[str, list[str]] = {}
    for name, call in contenders.items():
        side = name.split()[0]
        for _ in range(2):  # the second duplicate is a replay whatever the first was
            runs = RUNS[side]
            counter.take()
            got = call()
            assert got == {"batchItemFailures": []}, (name, got)
            if name.endswith("first"):
                assert RUNS[side] == runs + 1, (name, "the handler did not run for a new message")
            if name.endswith("duplicate") and requests.get(name) is not None:
                assert RUNS[side] == runs, (name, "the handler ran for a duplicate")
            requests[name] = counter.take()
    return requests


# -- 2. state calls against the SDK ------------------------------------------------------------------------


def sdk_side(client: Any, table: str, key_attr: str) -> dict[str, Callable[[], Any]]:
    """The least boto3 code doing what the state calls do: the same JSON text and version token (128 random
    bits) in the item, strongly consistent reads, `create` also taking a key whose value expired."""
    value = DATA
    keys = (f"sdk-new-{i:09d}" for i in itertools.count())
    current = {"version": os.urandom(16).hex()}
    client.put_item(TableName=table, Item=_sdk_item(key_attr, "sdk-hot", value, current["version"]))

    def get() -> Any:
        item = client.get_item(TableName=table, Key={key_attr: {"S": "sdk-hot"}}, ConsistentRead=True).get("Item")
        return None if item is None else json.loads(item["value"]["S"])

    def put() -> str:
        version = os.urandom(16).hex()
        client.put_item(TableName=table, Item=_sdk_item(key_attr, "sdk-put", value, version))
        return version

    def create() -> str:
        version = os.urandom(16).hex()
        client.put_item(
            TableName=table,
            Item=_sdk_item(key_attr, next(keys), value, version),
            ConditionExpression="attribute_not_exists(#k) OR #e <= :now",
            ExpressionAttributeNames={"#k": key_attr, "#e": "expires_at"},
            ExpressionAttributeValues={":now": {"N": repr(time.time())}},
        )
        return version

    def update() -> str:
        version = os.urandom(16).hex()
        client.put_item(
            TableName=table,
            Item=_sdk_item(key_attr, "sdk-hot", value, version),
            ConditionExpression="#v = :v",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":v": {"S": current["version"]}},
        )
        current["version"] = version
        return version

    return {"get": get, "put": put, "create": create, "update": update}


def _sdk_item(key_attr: str, key: str, value: Any, version: str) -> dict[str, Any]:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return {key_attr: {"S": key}, "value": {"S": text}, "version": {"S": version}}


def ours_state(orders: State) -> dict[str, Callable[[], Any]]:
    """The same calls through `orders` (a `state("orders")`)."""
    keys = (f"ours-new-{i:09d}" for i in itertools.count())
    current = {"version": orders.put("ours-hot", DATA)}

    def update() -> str:
        current["version"] = orders.update("ours-hot", DATA, version=current["version"])
        return current["version"]

    return {
        "get": lambda: orders.get("ours-hot"),
        "put": lambda: orders.put("ours-put", DATA),
        "create": lambda: orders.create(next(keys), DATA),
        "update": update,
    }


def state_contenders(client: Any, orders: State) -> dict[str, Callable[[], Any]]:
    sides = {"ours": ours_state(orders), "sdk": sdk_side(client, ORDERS, KEY)}
    return {f"{side} {op}": fn for side, ops in sides.items() for op, fn in ops.items()}


def check_state(contenders: dict[str, Callable[[], Any]]) -> None:
    for name, call in contenders.items():
        got = call()
        if name.endswith(" get"):
            assert got == DATA, (name, got)
        elif name.endswith(" delete"):
            assert got is True, (name, got)
        else:
            assert isinstance(got, str) and got, (name, got)


# -- each side's own work: the same calls over a client answering from a dict ----------------------------


class DictClient:
    """Stands in for boto3's DynamoDB client, answering from a dict at once (no botocore, no network):
    what is left of a call is the caller's own work. Conditions are evaluated only as far as the
    benchmark's calls need: nothing expires within a run, so a create-style condition fails exactly when
    the key exists."""

    class exceptions:  # the client's attribute, as boto3 spells it
        class ConditionalCheckFailedException(ClientError):
            pass

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(Key[KEY]["S"])
        return {} if item is None else {"Item": item}

    def put_item(self, TableName: str, Item: dict[str, Any], **params: Any) -> dict[str, Any]:
        old = self.items.get(Item[KEY]["S"])
        if "ConditionExpression" in params and not _holds(old, **params):
            raise self._lost(old if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
        self.items[Item[KEY]["S"]] = Item
        return {}

    def update_item(self, TableName: str, Key: dict[str, Any], UpdateExpression: str, **params: Any) -> dict[str, Any]:
        item = self.items.setdefault(Key[KEY]["S"], dict(Key))
        for assignment in UpdateExpression.removeprefix("SET ").split(", "):  # Powertools' SET #a = :a, ...
            name, value = assignment.split(" = ")
            item[params["ExpressionAttributeNames"][name]] = params["ExpressionAttributeValues"][value]
        return {}

    def delete_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        old = self.items.pop(Key[KEY]["S"], None)
        return {} if old is None else {"Attributes": old}

    def _lost(self, old: dict[str, Any] | None) -> ClientError:
        response: dict[str, Any] = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "lost"}}
        if old is not None:
            response["Item"] = old
        return self.exceptions.ConditionalCheckFailedException(response, "PutItem")  # type: ignore[arg-type]


def _holds(old: dict[str, Any] | None, **params: Any) -> bool:
    condition = params["ConditionExpression"]
    if condition.startswith("attribute_not_exists"):  # ours' create and Powertools' put
        return old is None
    name, value = condition.split(" = ")  # ours' replace: "#v = :v"
    return (
        old is not None
        and old.get(params["ExpressionAttributeNames"][name]) == params["ExpressionAttributeValues"][value]
    )


def own_work(quick: bool, counter: CallCounter) -> dict[str, dict[str, dict[str, float]]]:
    """Both parts again with every store over a `DictClient`: each side's own work per call, in µs that
    moto's round trip would drown."""
    ours_store, powertools_store, sdk_store = DictClient(), DictClient(), DictClient()
    use_backends(lambda name, locator: DynamoDbBackend(locator or name, ours_store))
    try:
        idem = idempotency_contenders(powertools_store)
        check_idempotency(idem, counter)
        state = state_contenders(sdk_store, State(ORDERS))
        check_state(state)
        return {"idempotency": measure_loops(idem, quick), "state": measure_loops(state, quick)}
    finally:
        use_backends(None)


# -- timing ------------------------------------------------------------------------------------------------


def measure_interleaved(contenders: dict[str, Callable[[], Any]], quick: bool) -> dict[str, dict[str, float]]:
    """Per call, the wall time and this process's CPU time (the client side's own work; moto's is in its
    own process). As `run.measure`, the min over rounds of each round's mean (and the median of single
    calls); but interleaved call by call, every contender once per sweep in a new (seeded) order, so a
    burst of load on this shared machine falls on all of them alike. The garbage collector stays on, as in
    `aws_sqs.measure_rotating`."""
    rounds, sweeps = interleaving(quick)
    wall: dict[str, list[list[int]]] = {name: [] for name in contenders}
    cpu: dict[str, list[list[int]]] = {name: [] for name in contenders}
    order, shuffle = list(contenders), random.Random(SEED).shuffle
    for _ in range(rounds):
        for name in contenders:
            wall[name].append([])
            cpu[name].append([])
        for _ in range(sweeps):
            shuffle(order)
            for name in order:
                w, c = _time(contenders[name])
                wall[name][-1].append(w)
                cpu[name][-1].append(c)
    return {name: {**_stats("", wall[name]), **_stats("cpu_", cpu[name])} for name in contenders}


def interleaving(quick: bool) -> tuple[int, int]:
    """Rounds, and sweeps per round, of `measure_interleaved`."""
    return (5, 4) if quick else (31, 10)


def timed_calls(quick: bool) -> int:
    """How many times `measure_interleaved` calls each contender."""
    rounds, sweeps = interleaving(quick)
    return rounds * sweeps


def _time(fn: Callable[[], Any]) -> tuple[int, int]:
    """ns one call of `fn` takes: on the wall clock, and in CPU time of this process."""
    wall, cpu = time.perf_counter_ns(), time.process_time_ns()
    fn()
    return time.perf_counter_ns() - wall, time.process_time_ns() - cpu


def _stats(prefix: str, rounds: list[list[int]]) -> dict[str, float]:
    return {
        f"{prefix}min_ns": min(statistics.fmean(r) for r in rounds),
        f"{prefix}median_ns": statistics.median(itertools.chain.from_iterable(rounds)),
    }


def measure_loops(contenders: dict[str, Callable[[], Any]], quick: bool) -> dict[str, dict[str, float]]:
    """`run.measure` (interleaved rounds of ~20 ms per contender, per-call min and median of 41 repeats;
    `--quick`: 7 of ~4 ms) with the order shuffled each round (seeded) and the garbage collector on."""
    repeats, budget = (7, 0.004) if quick else (41, 0.02)
    timers = {name: timeit.Timer(fn, setup=gc.enable) for name, fn in contenders.items()}
    numbers = {name: _loops_for(t, budget) for name, t in timers.items()}
    samples: dict[str, list[float]] = {name: [] for name in timers}
    order, shuffle = list(timers), random.Random(SEED).shuffle
    for _ in range(repeats):
        shuffle(order)
        for name in order:
            samples[name].append(timers[name].timeit(numbers[name]) / numbers[name] * 1e9)
    return {n: {"min_ns": min(s), "median_ns": statistics.median(s)} for n, s in samples.items()}


def bench(quick: bool, log_dir: Path) -> dict[str, Any]:
    counter = CallCounter()
    with moto_server(log_dir):
        result = on_moto(quick, counter)
    result["own_work"] = own_work(quick, counter)
    # one emulator at a time, so the one being measured does not share the 2 cores with an idle other
    result["other_backends"] = {"firestore": on_firestore(quick, log_dir), "tables": on_azurite(quick, log_dir)}
    return result


def on_moto(quick: bool, counter: CallCounter) -> dict[str, Any]:
    """Both parts against the moto server, with the DynamoDB calls each contender sends."""
    client = dynamodb_client()
    provision(client)
    idem = idempotency_contenders(client)
    idem_requests = check_idempotency(idem, counter)
    state = state_contenders(client, State(ORDERS))  # opened from the environment, as when deployed
    check_state(state)
    state_requests = {name: _requests_of(call, counter) for name, call in state.items()}
    return {
        "idempotency": {"times": measure_interleaved(idem, quick), "requests": idem_requests},
        "state": {"times": measure_interleaved(state, quick), "requests": state_requests},
    }


def _requests_of(call: Callable[[], Any], counter: CallCounter) -> list[str]:
    counter.take()
    call()
    return counter.take()


# -- 3. state calls on Firestore and Azure Table Storage against their SDKs -------------------------------

PROJECT = "portable-fn"  # the emulated Google Cloud project
FIRESTORE_BIN = "platform/cloud-firestore-emulator/cloud_firestore_emulator"  # in the Google Cloud SDK
AZURITE_VERSION = "3.35"  # the line the tests install (runs on Node 20)
AZURITE_CACHE = HERE.parent / ".pytest_cache" / "d" / "azurite"  # where the Azure tests install it
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
ROW = "item"  # the SDK side's RowKey, as ours': one entity per partition
# the calls to the service each state call makes, counted by wrapping these methods while checking
FIRESTORE_RPCS = ("batch_get_documents", "get_document", "commit")  # of the gapic FirestoreClient
TABLE_CALLS = ("get_entity", "create_entity", "upsert_entity", "update_entity", "delete_entity")


class GroupEmulator(Emulator):
    """An `Emulator` whose stop ends its whole process group, and whose failure to start shows its log.
    gcloud's `cloud_firestore_emulator` is a bash script that starts Java as its child: terminating the
    script alone leaves Java running. (The child is started in a session of its own: its group is its pid.)"""

    def stop(self) -> None:
        process = self._process
        if process is not None:  # the script may be gone and Java left in its group
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        super().stop()

    def start(self) -> None:
        """Start, or fail with the end of the emulator's log (its directory is gone when the run ends)."""
        try:
            super().start()
        except EmulatorError as error:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise EmulatorError(f"{error}\n{tail}") from None


@contextmanager
def firestore_emulator(log_dir: Path) -> Iterator[str | None]:
    """gcloud's Firestore emulator on 127.0.0.1 (`host:port`), started as tests/providers/gcp/conftest.py
    starts it; None when the SDK component or Java is missing."""
    gcloud = shutil.which("gcloud")
    roots = [Path(gcloud).resolve().parent.parent] if gcloud else []
    binary = next(
        (r / FIRESTORE_BIN for r in [*roots, Path("/usr/lib/google-cloud-sdk")] if (r / FIRESTORE_BIN).exists()), None
    )
    if binary is None or shutil.which("java") is None:
        yield None
        return
    command = [str(binary), "start", "--host=127.0.0.1", "--port={port}"]
    with GroupEmulator(command, "http://127.0.0.1:{port}/", log_dir, "firestore-emulator") as emulator:
        yield f"127.0.0.1:{emulator.port}"


@contextmanager
def azurite_tables(log_dir: Path) -> Iterator[str | None]:
    """Azurite's table service on 127.0.0.1 (its connection string), the Azurite the Azure tests install
    (npm, into the pytest cache; installed here the same way when missing); None without Node.js."""
    entry = AZURITE_CACHE / "node_modules" / "azurite" / "dist" / "src" / "table" / "main.js"
    if not entry.is_file():
        if shutil.which("npm") is None or shutil.which("node") is None:
            yield None
            return
        AZURITE_CACHE.mkdir(parents=True, exist_ok=True)
        install = ["npm", "install", "--prefix", str(AZURITE_CACHE), f"azurite@{AZURITE_VERSION}"]
        subprocess.run([*install, "--no-audit", "--no-fund", "--loglevel=error"], check=True, timeout=600)
    command = ["node", str(entry), "--tableHost", "127.0.0.1", "--tablePort", "{port}"]
    command += ["--location", str(log_dir / "azurite"), "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
    with GroupEmulator(command, "http://127.0.0.1:{port}/", log_dir, "azurite-table") as emulator:
        yield (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"TableEndpoint={emulator.url}/devstoreaccount1;"
        )


def deletable(count: int) -> int:
    """How many keys each side's `delete` takes in a run: every timed call, the checks, and a spare."""
    return count + 3


def ours_state_deleting(orders: State, count: int) -> dict[str, Callable[[], Any]]:
    """`ours_state` and `orders.delete` of a key that exists (written beforehand, one per call)."""
    names = [f"ours-del-{i:09d}" for i in range(deletable(count))]
    for key in names:
        orders.put(key, DATA)
    keys = iter(names)
    return {**ours_state(orders), "delete": lambda: orders.delete(next(keys))}


def firestore_sdk_side(client: Any, collection: str, count: int) -> dict[str, Callable[[], Any]]:
    """The least google-cloud-firestore code doing what the state calls do, one document per key (`key`,
    the JSON text, the version token): `get` reads the document, `put` sets it, `create` creates it (which
    fails when it exists), `update` updates it only at the update time its previous write returned (one
    call: the caller keeps that time; ours keeps its own version token, so reads the document first to
    learn the update time it is at), `delete` deletes a document that exists."""
    documents = client.collection(collection)
    keys = (f"sdk-new-{i:09d}" for i in itertools.count())
    names = [f"sdk-del-{i:09d}" for i in range(deletable(count))]
    for name in names:
        documents.document(name).set(_sdk_document(name))
    gone = iter(names)
    hot = documents.document("sdk-hot")
    current = {"at": hot.set(_sdk_document("sdk-hot")).update_time}

    def get() -> Any:
        found = hot.get()
        return json.loads(found.get("value")) if found.exists else None

    def put() -> str:
        document = _sdk_document("sdk-put")
        documents.document("sdk-put").set(document)
        return str(document["version"])

    def create() -> str:
        key = next(keys)
        document = _sdk_document(key)
        documents.document(key).create(document)
        return str(document["version"])

    def update() -> str:
        document = _sdk_document("sdk-hot")
        written = hot.update(document, option=client.write_option(last_update_time=current["at"]))
        current["at"] = written.update_time
        return str(document["version"])

    def delete() -> bool:
        documents.document(next(gone)).delete()
        return True

    return {"get": get, "put": put, "create": create, "update": update, "delete": delete}


def _sdk_document(key: str) -> dict[str, Any]:
    text = json.dumps(DATA, separators=(",", ":"), ensure_ascii=False)
    return {"key": key, "value": text, "version": os.urandom(16).hex()}


def tables_sdk_side(client: Any, count: int) -> dict[str, Callable[[], Any]]:
    """The least azure-data-tables code doing the same on the same table, one entity per key
    (PartitionKey the key, `value`, `version`): `get_entity`, `upsert_entity` (replace), `create_entity`
    (refused when it exists), `update_entity` (replace) only at the ETag its previous write returned (one
    call; ours reads the entity first for its ETag, its version token being its own property),
    `delete_entity` of an entity that exists."""
    from azure.core import MatchConditions
    from azure.data.tables import UpdateMode

    keys = (f"sdk-new-{i:09d}" for i in itertools.count())
    names = [f"sdk-del-{i:09d}" for i in range(deletable(count))]
    for name in names:
        client.upsert_entity(_sdk_entity(name), mode=UpdateMode.REPLACE)
    gone = iter(names)
    current = {"etag": client.upsert_entity(_sdk_entity("sdk-hot"), mode=UpdateMode.REPLACE)["etag"]}

    def get() -> Any:
        return json.loads(client.get_entity(partition_key="sdk-hot", row_key=ROW)["value"])

    def put() -> str:
        entity = _sdk_entity("sdk-put")
        client.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return str(entity["version"])

    def create() -> str:
        entity = _sdk_entity(next(keys))
        client.create_entity(entity)
        return str(entity["version"])

    def update() -> str:
        entity = _sdk_entity("sdk-hot")
        written = client.update_entity(
            entity, mode=UpdateMode.REPLACE, etag=current["etag"], match_condition=MatchConditions.IfNotModified
        )
        current["etag"] = written["etag"]
        return str(entity["version"])

    def delete() -> bool:
        client.delete_entity(partition_key=next(gone), row_key=ROW)
        return True

    return {"get": get, "put": put, "create": create, "update": update, "delete": delete}


def _sdk_entity(key: str) -> dict[str, Any]:
    text = json.dumps(DATA, separators=(",", ":"), ensure_ascii=False)
    return {"PartitionKey": key, "RowKey": ROW, "value": text, "version": os.urandom(16).hex()}


@contextmanager
def counting(owner: type, names: tuple[str, ...], calls: list[str]) -> Iterator[None]:
    """Every call of `owner`'s methods `names` (on any instance) appended to `calls`, while inside."""
    saved = {name: getattr(owner, name) for name in names}

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return method(*args, **kwargs)

        return call

    for name, method in saved.items():
        setattr(owner, name, counted(name, method))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(owner, name, method)


def on_other_backend(
    contenders: dict[str, Callable[[], Any]], owner: type, names: tuple[str, ...], quick: bool
) -> dict[str, Any]:
    """Check, count the service calls of, and time (interleaved) one backend's contenders."""
    check_state(contenders)
    calls: list[str] = []
    requests = {}
    with counting(owner, names, calls):
        for name, call in contenders.items():
            calls.clear()
            call()
            requests[name] = list(calls)
    return {"times": measure_interleaved(contenders, quick), "requests": requests}


def on_firestore(quick: bool, log_dir: Path) -> dict[str, Any] | None:
    """Ours on the Firestore backend, opened from the environment deploy sets, against the SDK's client."""
    from google.cloud import firestore
    from google.cloud.firestore_v1.services.firestore.client import FirestoreClient

    with firestore_emulator(log_dir) as host:
        if host is None:
            print("Firestore: skipped, gcloud's cloud-firestore-emulator component or Java is missing.")
            return None
        os.environ["FIRESTORE_EMULATOR_HOST"] = host
        os.environ["PORTABLE_FN_PROVIDER"] = "gcp"
        os.environ[locator_env(ORDERS)] = f"projects/{PROJECT}/databases/(default)/documents/{ORDERS}"
        client = firestore.Client(project=PROJECT)
        count = timed_calls(quick)
        try:
            sides = {
                "ours": ours_state_deleting(State(ORDERS), count),
                "sdk": firestore_sdk_side(client, ORDERS, count),
            }
            contenders = {f"{side} {op}": fn for side, ops in sides.items() for op, fn in ops.items()}
            return on_other_backend(contenders, FirestoreClient, FIRESTORE_RPCS, quick)
        finally:
            client.close()


def on_azurite(quick: bool, log_dir: Path) -> dict[str, Any] | None:
    """Ours on the Table Storage backend, opened from the environment deploy sets (a connection string, as
    with `storage_auth = "connection_string"`), against a TableClient made from the same string."""
    from azure.data.tables import TableClient, TableServiceClient

    with azurite_tables(log_dir) as connection:
        if connection is None:
            print("Azure Table Storage: skipped, Azurite needs Node.js and npm.")
            return None
        TableServiceClient.from_connection_string(connection).create_table(ORDERS)
        os.environ["PORTABLE_FN_PROVIDER"] = "azure"
        os.environ["PORTABLE_FN_TABLES_CONNECTION"] = connection
        endpoint = connection.split("TableEndpoint=")[1].rstrip(";")
        os.environ[locator_env(ORDERS)] = f"{endpoint}/{ORDERS}"
        client = TableClient.from_connection_string(connection, table_name=ORDERS)
        count = timed_calls(quick)
        sides = {"ours": ours_state_deleting(State(ORDERS), count), "sdk": tables_sdk_side(client, count)}
        contenders = {f"{side} {op}": fn for side, ops in sides.items() for op, fn in ops.items()}
        return on_other_backend(contenders, TableClient, TABLE_CALLS, quick)


# -- the report --------------------------------------------------------------------------------------------


# per call: wall clock and this process's CPU time, each the min of round means and the median call
METRICS = {"wall min": "min_ns", "wall median": "median_ns", "cpu min": "cpu_min_ns", "cpu median": "cpu_median_ns"}
CASES = ("first", "duplicate", "no idempotency")
OPS = ("get", "put", "create", "update")
OTHER_OPS = (*OPS, "delete")  # part 3


def idempotency_rows(times: dict[str, dict[str, float]], metrics: dict[str, str] = METRICS) -> list[dict[str, Any]]:
    """Per case and metric: each side's time, ours over and minus Powertools', and what idempotency adds
    to each side's own baseline."""
    rows = []
    for case, (metric, field) in itertools.product(CASES, metrics.items()):
        ours, pt = times[f"ours {case}"][field], times[f"powertools {case}"][field]
        row = {"case": case, "metric": metric, "ours": ours, "powertools": pt}
        row.update(ours_over_powertools=ours / pt, ours_minus_powertools=ours - pt)
        if case != "no idempotency":
            row["ours_added"] = ours - times["ours no idempotency"][field]
            row["powertools_added"] = pt - times["powertools no idempotency"][field]
        rows.append(row)
    return rows


def state_rows(
    times: dict[str, dict[str, float]], metrics: dict[str, str] = METRICS, ops: tuple[str, ...] = OPS
) -> list[dict[str, Any]]:
    rows = []
    for op, (metric, field) in itertools.product(ops, metrics.items()):
        ours, sdk = times[f"ours {op}"][field], times[f"sdk {op}"][field]
        rows.append(
            {
                "op": op,
                "metric": metric,
                "ours": ours,
                "sdk": sdk,
                "ours_over_sdk": ours / sdk,
                "ours_minus_sdk": ours - sdk,
            }
        )
    return rows


IDEMPOTENCY_COLUMNS = {
    "ours": "ours",
    "powertools": "powertools",
    "ours/pt": "ours_over_powertools",
    "ours-pt": "ours_minus_powertools",
    "ours added": "ours_added",
    "pt added": "powertools_added",
}
STATE_COLUMNS = {"ours": "ours", "boto3": "sdk", "ours/sdk": "ours_over_sdk", "ours-sdk": "ours_minus_sdk"}
OTHER_BACKENDS = {  # part 3: the SDK's column heading, and what the store is here
    "firestore": ("firestore", "Firestore (gcloud's emulator): portable_fn_gcp.state against google-cloud-firestore"),
    "tables": ("data-tables", "Azure Table Storage (Azurite): portable_fn_azure.state against azure-data-tables"),
}


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    print(f"\nPython {info['python']} on {info['cores']} cores ({info['cpu']}), load average {result['load']}.")
    print("DynamoDB: a moto server on 127.0.0.1. Per call: wall clock, and CPU time of this process (the")
    print("client side: portable-fn or Powertools, and botocore; not moto's); min of round means, median call.")
    print_table("SQS event, 1 record", IDEMPOTENCY_COLUMNS, result["idempotency"]["rows"], "case")
    print("\nDynamoDB calls per invocation (ours | powertools)")
    requests = result["idempotency"]["requests"]
    for case in CASES:
        calls = [", ".join(requests[f"{side} {case}"]) or "none" for side in ("ours", "powertools")]
        print(f"{case:<20}{calls[0]} | {calls[1]}")
    print_table("state call", STATE_COLUMNS, result["state"]["rows"], "op")
    print("\nOwn work: the same with every store over a client answering from a dict (no botocore, no HTTP)")
    print_table("SQS event, 1 record", IDEMPOTENCY_COLUMNS, result["own_work"]["idempotency"]["rows"], "case", 2)
    print_table("state call", STATE_COLUMNS, result["own_work"]["state"]["rows"], "op", 2)
    for backend, part in result["other_backends"].items():
        if part is None:
            continue
        heading, what = OTHER_BACKENDS[backend]
        print(f"\n{what}")
        columns = {**STATE_COLUMNS}
        del columns["boto3"]
        columns = {"ours": "ours", heading: "sdk", **columns}
        print_table("state call", columns, part["rows"], "op")
        print(f"\nCalls to the service per state call (ours | {heading})")
        for op in OTHER_OPS:
            calls = [", ".join(part["requests"][f"{side} {op}"]) or "none" for side in ("ours", "sdk")]
            print(f"{op:<20}{calls[0]} | {calls[1]}")


def print_table(title: str, columns: dict[str, str], rows: list[dict[str, Any]], name: str, digits: int = 0) -> None:
    """One line per row: its case (on its first metric's line only) and metric, then the columns."""
    print(f"\n{title:<32}" + "".join(f"{head:>12}" for head in columns))
    before = None
    for row in rows:
        label = "" if row[name] == before else row[name]
        before = row[name]
        cells = [_x(row[f]) if "_over_" in f else _us(row.get(f), digits) for f in columns.values()]
        print(f"{label:<20}{row['metric']:<12}" + "".join(f"{cell:>12}" for cell in cells))


def _us(ns: float | None, digits: int = 0) -> str:
    return "-" if ns is None else f"{ns / 1000:.{digits}f} µs"


def _x(ratio: float) -> str:
    return f"{ratio:.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run with few rounds")
    parser.add_argument("--out", type=Path, default=HERE / "results_state_idempotency.json", help="where to write JSON")
    args = parser.parse_args(argv)
    logging.getLogger("portable_fn").addHandler(logging.NullHandler())
    with tempfile.TemporaryDirectory(prefix="bench-moto-") as tmp:
        result = bench(args.quick, Path(tmp))
    result["idempotency"]["rows"] = idempotency_rows(result["idempotency"]["times"])
    result["state"]["rows"] = state_rows(result["state"]["times"])
    for part, rows_of in (("idempotency", idempotency_rows), ("state", state_rows)):
        work = result["own_work"][part]
        result["own_work"][part] = {"times": work, "rows": rows_of(work, {"min": "min_ns"})}
    for part in result["other_backends"].values():
        if part is not None:
            part["rows"] = state_rows(part["times"], ops=OTHER_OPS)
    result["load"] = " ".join(f"{n:.1f}" for n in os.getloadavg())
    info = machine()
    print_report(result, info)
    out = {"machine": info, "quick": args.quick, **result}
    args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
