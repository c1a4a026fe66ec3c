"""`portable-fn dev` end to end: the host serves its own issuer, `portable-fn token` signs with its key, the
JWT route takes the token through the whole pipeline, preflights and rate limits answer over HTTP."""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest

from portable_fn.app import load_app
from portable_fn.cli import main
from portable_fn.local.host import LocalHost, dev_state_dir, token_command

APP = Path(__file__).resolve().parent / "apps" / "authed"


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalHost]:
    monkeypatch.delitem(__import__("sys").modules, "auth_dev_app", raising=False)
    started = LocalHost(load_app(APP), host="127.0.0.1", port=0, state_dir=tmp_path / "state", log=lambda line: None)
    started.start()
    yield started
    started.stop()


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def token(host: LocalHost, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["token", str(APP), "--state-dir", str(host.state_dir), "--sub", "alice", *args]) == 0
    return capsys.readouterr().out.strip()


def test_a_token_from_portable_fn_token_is_accepted_by_the_dev_host(
    host: LocalHost, capsys: pytest.CaptureFixture[str]
) -> None:
    text = token(host, capsys, "--claim", "org_id=acme", "--claim", "scope=orders:read orders:write")
    status, _, body = get(host.url + "/orders", {"Authorization": f"Bearer {text}"})
    issuer = host.url + "/_local/issuer"
    assert (status, json.loads(body)) == (200, {"subject": "alice", "org": "acme", "issuer": issuer})
    claims = pyjwt.decode(text, options={"verify_signature": False})
    assert (claims["aud"], claims["exp"] - claims["iat"], claims["sub"]) == ("api://orders", 3600, "alice")


def test_the_issuer_publishes_its_key_and_the_token_verifies_with_it(
    host: LocalHost, capsys: pytest.CaptureFixture[str]
) -> None:
    issuer = host.url + "/_local/issuer"
    status, _, body = get(issuer + "/.well-known/openid-configuration")
    discovery = json.loads(body)
    assert (status, discovery["issuer"], discovery["jwks_uri"]) == (200, issuer, issuer + "/jwks.json")
    keys = json.loads(get(discovery["jwks_uri"])[2])["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("EC", "P-256", "ES256")]
    text = token(host, capsys, "--audience", "api://elsewhere", "--expires", "60")
    key = pyjwt.PyJWK(keys[0]).key
    claims = pyjwt.decode(text, key, algorithms=["ES256"], audience="api://elsewhere", issuer=issuer)
    assert claims["exp"] - claims["iat"] == 60
    assert (host.state_dir / "issuer.json").stat().st_mode & 0o077 == 0  # the private key: its owner only


def test_the_dev_host_refuses_what_the_route_does_not_let_through(
    host: LocalHost, capsys: pytest.CaptureFixture[str]
) -> None:
    status, headers, body = get(host.url + "/orders", {"Origin": "http://localhost:3000"})
    assert (status, json.loads(body)["reason"]) == (
        401,
        "missing Authorization header: send 'Authorization: Bearer <token>'",
    )
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    narrow = token(host, capsys, "--claim", "scope=orders:write")
    status, _, body = get(host.url + "/orders", {"Authorization": f"Bearer {narrow}"})
    assert (status, json.loads(body)["reason"]) == (403, "missing scope(s): orders:read")
    other = token(host, capsys, "--audience", "api://billing", "--claim", "scope=orders:read")
    status, _, body = get(host.url + "/orders", {"Authorization": f"Bearer {other}"})
    assert (status, json.loads(body)["reason"]) == (401, "wrong audience: expected 'api://orders'")


def test_a_preflight_for_the_get_route_is_answered_by_the_host(host: LocalHost) -> None:
    headers = {
        "Origin": "http://localhost:3000",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    status, answered, body = get(host.url + "/orders", headers, method="OPTIONS")
    assert (status, body) == (204, b"")
    assert answered["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert (answered["Access-Control-Allow-Methods"], answered["Access-Control-Allow-Headers"]) == (
        "GET",
        "authorization",
    )


def test_the_rate_limit_holds_per_subject(host: LocalHost, capsys: pytest.CaptureFixture[str]) -> None:
    text = token(host, capsys, "--claim", "scope=orders:read")
    statuses = [get(host.url + "/orders", {"Authorization": f"Bearer {text}"})[0] for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    status, headers, _ = get(host.url + "/orders", {"Authorization": f"Bearer {text}"})
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 20  # 3/minute: a token every 20 s


def test_token_needs_dev_to_have_run_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", str(APP), "--state-dir", str(tmp_path), "--sub", "alice"]) == 1
    assert "start `portable-fn dev` once" in capsys.readouterr().err


def test_token_claims_must_be_name_value(host: LocalHost, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", str(APP), "--state-dir", str(host.state_dir), "--sub", "a", "--claim", "oops"]) == 2
    assert "--claim 'oops': write NAME=VALUE" in capsys.readouterr().err


def test_the_banner_says_how_to_get_a_token(host: LocalHost, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(APP)
    line = (
        f"  tokens: portable-fn token --state-dir {host.state_dir} --sub NAME (signed by {host.url}/_local/issuer, "
        "trusted in dev only)"
    )
    assert line in host.banner().splitlines()


def test_the_banners_token_command_names_the_app_and_only_a_state_dir_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(APP.parent)
    app = load_app(APP)
    assert token_command(app, dev_state_dir(app)) == "portable-fn token authed --sub NAME"
    assert token_command(app, APP / "state") == "portable-fn token authed --state-dir authed/state --sub NAME"
    shown = token_command(app, tmp_path / "my state")
    assert shown == f"portable-fn token authed --state-dir '{tmp_path / 'my state'}' --sub NAME"
    # and the command shown works: a host started on that state directory signs for it
    started = LocalHost(app, host="127.0.0.1", port=0, state_dir=tmp_path / "my state", log=lambda line: None)
    started.start()
    try:
        capsys.readouterr()
        assert main(shlex.split(shown.replace("NAME", "alice"))[1:]) == 0
        assert capsys.readouterr().out.count(".") == 2  # a JWT
    finally:
        started.stop()


def test_token_without_the_hosts_state_dir_says_to_pass_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", str(APP), "--state-dir", str(tmp_path), "--sub", "alice"]) == 1
    assert "give `portable-fn token` the same --state-dir DIR" in capsys.readouterr().err
