"""The Firestore backend against the state backend contract, the idempotency races and the circuit
breaker's shared-state rules, on gcloud's Firestore emulator, and its document ids against what Firestore
forbids in them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from portable_fn_gcp.state import MAX_ID_BYTES, FirestoreBackend, document_id, open_backend

from portable_fn.runtime.state import MAX_KEY_CHARS, State, StateError

from ...breaker_contract import BreakerContract, closed_port, store_of
from ...state_contract import AWKWARD_KEYS, BackendContract, IdempotencyContract

PROJECT = "portable-fn"
STATEFUL = Path(__file__).parent / "deploy" / "apps" / "stateful"


@pytest.fixture
def emulated(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    return firestore_emulator


def locator(collection: str) -> str:
    return f"projects/{PROJECT}/databases/(default)/documents/{collection}"


class TestFirestore(BackendContract):
    @pytest.fixture
    def backend(self, emulated: str) -> Iterator[FirestoreBackend]:
        backend = open_backend("orders", locator(f"items-{uuid.uuid4().hex}"))
        yield backend
        backend.client.close()


class TestFirestoreIdempotency(IdempotencyContract):
    """The races of idempotency on the emulator: 50 duplicates at once, a lease taken over, a late writer."""

    @pytest.fixture
    def backend(self, emulated: str) -> Iterator[FirestoreBackend]:
        backend = open_backend("pfn-idempotency", locator(f"idempotency-{uuid.uuid4().hex}"))
        yield backend
        backend.client.close()


class TestFirestoreBreaker(BreakerContract):
    """The breaker's shared-state rules on the emulator, each instance with a Firestore client of its own."""

    pytestmark = pytest.mark.slow  # `unreachable` waits out the client's retries against a closed port

    @pytest.fixture
    def connect(self, emulated: str) -> Iterator[Callable[[], FirestoreBackend]]:
        collection, opened = locator(f"breakers-{uuid.uuid4().hex}"), []

        def connect() -> FirestoreBackend:
            opened.append(open_backend("pfn-breakers", collection))
            return opened[-1]

        yield connect
        for backend in opened:
            backend.client.close()

    @pytest.fixture
    def unreachable(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[State]:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
        backend = open_backend("pfn-breakers", locator("breakers"))
        yield store_of(backend)
        backend.client.close()


@pytest.mark.parametrize("key", [*AWKWARD_KEYS, "🙂" * MAX_KEY_CHARS, "\xff" * MAX_KEY_CHARS])
def test_document_ids_are_ones_firestore_accepts(key: str) -> None:
    found = document_id(key)
    assert "/" not in found and found not in (".", "..") and not found.startswith("__")
    assert 0 < len(found.encode()) <= MAX_ID_BYTES


def test_document_ids_stay_distinct() -> None:
    keys = [*AWKWARD_KEYS, "🙂" * MAX_KEY_CHARS, "🙂" * (MAX_KEY_CHARS - 1) + "x"]
    assert len({document_id(k) for k in keys}) == len(keys)


def test_a_locator_that_names_no_collection_is_refused_with_the_fix() -> None:
    with pytest.raises(StateError, match="projects/<project>/databases/<database>/documents/<collection>"):
        open_backend("orders", "orders-table")


def test_an_expiry_finer_than_a_microsecond_round_trips_exactly(emulated: str) -> None:
    """Firestore timestamps keep microseconds; the expiry given comes back as given (records compare equal)."""
    from portable_fn.runtime.state import Record

    backend = open_backend("orders", locator(f"items-{uuid.uuid4().hex}"))
    written = Record("k", "1", "v1", 1_900_000_000.1234567)
    backend.write(written)
    assert backend.read("k") == written
    backend.client.close()


def test_a_state_on_gcp_opens_the_firestore_backend_deploy_named(
    emulated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a deployed function does: PORTABLE_FN_PROVIDER=gcp and the locator deploy set pick this backend."""
    from portable_fn.runtime.state import State, locator_env

    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.setenv(locator_env("orders"), locator(f"items-{uuid.uuid4().hex}"))
    orders = State("orders")
    version = orders.create("o/1", {"status": "new"})
    assert isinstance(orders.backend, FirestoreBackend)
    item = orders.item("o/1")
    assert item is not None and item.value == {"status": "new"} and item.version == version
    orders.update("o/1", {"status": "paid"}, version=version)
    assert orders.get("o/1") == {"status": "paid"}


def test_a_function_served_by_functions_framework_keeps_its_state_in_firestore(
    emulated: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The generated main.py under the real functions-framework: `create_order` (uses=[orders.write()], ttl=3600)
    writes its order to the collection deploy named; read back here with the Firestore client itself."""
    import functions_framework
    from google.cloud import firestore
    from portable_fn_gcp.shim import generate_main

    from portable_fn.app import load_app
    from portable_fn.runtime.state import locator_env

    app = load_app(STATEFUL)
    main = tmp_path / "main.py"
    main.write_text(generate_main(app), encoding="utf-8")
    collection = f"items-{uuid.uuid4().hex}"
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "gcp")
    monkeypatch.setenv(locator_env("orders"), locator(collection))
    for name in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE"):  # create_app sets them: restored after
        monkeypatch.setenv(name, "")
    orders = app.function("create_order").handler.__globals__["orders"]
    orders.backend = None  # opened afresh from the environment above, and forgotten after
    try:
        reply = functions_framework.create_app("create_order", str(main)).test_client().post("/orders/o%2F7")
    finally:
        orders.backend = None
    assert reply.status_code == 201, reply.data
    found = firestore.Client(project=PROJECT).collection(collection).document(document_id("o/7")).get()
    assert found.exists and found.get("key") == "o/7" and json.loads(found.get("value")) == {"status": "new"}
    assert found.get("expires_at") is not None  # the TTL policy's field


def test_scan_lists_the_records_whose_key_starts_with_a_prefix_by_key(emulated: str) -> None:
    """What `portable-fn workflows list` reads: `wf#...` keys in key order, up to the limit, none of the
    neighbours a plain `>=` would let in (`wf$`, `wg`), unicode and '/' kept."""
    from portable_fn.runtime.state import Record

    backend = open_backend("pfn-workflows", locator(f"items-{uuid.uuid4().hex}"))
    keys = ["wf#b", "wf#a/1", "wf#é", "wf#\U0010ffff", "wf$", "wg", "w", "other"]
    for number, key in enumerate(keys):
        backend.write(Record(key, json.dumps(number), f"v{number}", None if number % 2 else 1_900_000_000.5))
    found = backend.scan("wf#")
    assert [r.key for r in found] == ["wf#a/1", "wf#b", "wf#é", "wf#\U0010ffff"]
    assert found[1] == Record("wf#b", "0", "v0", 1_900_000_000.5)
    assert [r.key for r in backend.scan("wf#", limit=2)] == ["wf#a/1", "wf#b"]
    assert backend.scan("none#") == [] and len(backend.scan("")) == len(keys)
    backend.client.close()


@pytest.mark.parametrize(
    ("prefix", "end"),
    [("wf#", "wf$"), ("a\U0010ffff", "b"), ("\U0010ffff", None), ("", None), ("x\ud7ff", "x\ue000")],
)
def test_a_scan_ends_at_the_least_string_past_the_prefix(prefix: str, end: str | None) -> None:
    from portable_fn_gcp.state import past

    assert past(prefix) == end
