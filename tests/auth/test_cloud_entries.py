"""Authenticated HTTP through Google Cloud's and Azure's own entries, where the function verifies its callers
(on AWS, tests/providers/aws/test_shim_edge.py): the generated `main.py` under functions-framework's flask app
and the generated `function_app.py` called with real `azure.functions` objects. The same answers as in `dev`:
a preflight answered before auth, 401 without a token or with a bad one (with `WWW-Authenticate`), 400 without
the tenant header, and 429 with `Retry-After` once a tenant's two calls a minute are spent, each carrying CORS."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import azure.functions as func
import pytest
from portable_fn_azure.codegen import function_app_source
from portable_fn_gcp.shim import generate_main

from portable_fn import testing
from portable_fn.app import App, load_app
from portable_fn.runtime.state_sqlite import SqliteBackend

from ..providers.azure.host_objects import HostContext

APP = Path(__file__).resolve().parent / "apps" / "edge"
ORIGIN = "https://app.example.test"
KEYS = {"api-keys": json.dumps({"k-acme": "acme-ci"})}

# (status, headers, body) of one request: `send(method, path, headers)`
Answer = tuple[int, dict[str, str], bytes]
Send = Callable[[str, str, dict[str, str]], Answer]


@pytest.fixture(scope="module")
def app() -> App:
    return load_app(APP)  # puts the app's directory on sys.path, as each cloud's entry imports it


def gcp(app: App, directory: Path) -> Send:
    """Requests through functions-framework's flask app for each function of the generated main.py."""
    import functions_framework

    main = directory / "main.py"
    main.write_text(generate_main(app), encoding="utf-8")
    clients = {}
    for spec in app.functions:
        saved = {name: os.environ.get(name) for name in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE")}
        clients[spec.name] = functions_framework.create_app(spec.name, str(main)).test_client()
        for name, value in saved.items():  # create_app records the target in the environment
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)

    def send(method: str, path: str, headers: dict[str, str]) -> Answer:
        answer = clients[function_of(path)].open(path, method=method, headers=headers)
        return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.get_data()

    return send


def azure(app: App, directory: Path) -> Send:
    """Requests to the functions the Functions host indexes in the generated function_app.py."""
    path = directory / "function_app.py"
    path.write_text(function_app_source(app), encoding="utf-8")
    name = f"function_app_edge_{abs(hash(directory))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    functions = {fn.get_function_name(): fn.get_user_function() for fn in module.app.get_functions()}

    def send(method: str, path: str, headers: dict[str, str]) -> Answer:
        native = func.HttpRequest(method, f"https://edge.azurewebsites.net{path}", headers=headers, body=b"")
        target = function_of(path)
        answer = functions[target](native, HostContext(target))
        return answer.status_code, {k.lower(): v for k, v in answer.headers.items()}, answer.get_body()

    return send


def function_of(path: str) -> str:
    return {"/orders": "list_orders", "/reports": "list_reports"}[path]


@pytest.fixture(params=[gcp, azure], ids=["gcp", "azure"])
def send(request: pytest.FixtureRequest, app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Send]:
    """The cloud's entry with the environment deploy gives every function (`PORTABLE_FN_CORS`), the API keys
    served as a deployed function's secret store would, and the rate limits in an SQLite file of this test."""
    from portable_fn.runtime.ratelimit import STORE

    for name, value in app.config.runtime_env().items():
        monkeypatch.setenv(name, value)

    previous, STORE.backend = STORE._backend, SqliteBackend(str(tmp_path / "pfn-rate-limits.sqlite3"))
    with testing.secrets(KEYS):
        yield request.param(app, tmp_path)
    STORE.backend = previous


def test_a_preflight_is_answered_before_auth(send: Send) -> None:
    ask = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    status, headers, _ = send("OPTIONS", "/orders", ask)
    assert status == 204 and headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in headers["access-control-allow-headers"]


@pytest.mark.parametrize("given", [{}, {"Authorization": "Bearer not.a.token"}], ids=["no-token", "bad-token"])
def test_a_jwt_route_refuses_a_caller_without_a_good_token(send: Send, given: dict[str, str]) -> None:
    status, headers, body = send("GET", "/orders", {"Origin": ORIGIN, **given})
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"] == "unauthorized" and "not.a.token" not in body.decode()
    assert headers["access-control-allow-origin"] == ORIGIN


def test_an_api_key_route_takes_its_tenant_and_limits_each_tenant(send: Send) -> None:
    keyed = {"X-Api-Key": "k-acme", "Origin": ORIGIN}
    assert send("GET", "/reports", {"Origin": ORIGIN, "X-Tenant-Id": "acme"})[0] == 401  # no key
    assert send("GET", "/reports", keyed)[0] == 400  # no tenant header
    for _ in range(2):
        status, _, body = send("GET", "/reports", {**keyed, "X-Tenant-Id": "acme"})
        assert (status, json.loads(body)) == (200, {"key": "acme-ci", "tenant": "acme"})
    status, headers, _ = send("GET", "/reports", {**keyed, "X-Tenant-Id": "acme"})
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert headers["access-control-allow-origin"] == ORIGIN
    assert send("GET", "/reports", {**keyed, "X-Tenant-Id": "globex"})[0] == 200  # another tenant's bucket
