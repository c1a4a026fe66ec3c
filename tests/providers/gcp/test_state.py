"""The Firestore backend against the state backend contract, on gcloud's Firestore emulator, and its
document ids against what Firestore forbids in them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from portable_fn_gcp.state import MAX_ID_BYTES, FirestoreBackend, document_id, open_backend

from portable_fn.runtime.state import MAX_KEY_CHARS, StateError

from ...state_contract import AWKWARD_KEYS, BackendContract, IdempotencyContract

PROJECT = "portable-fn"


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
