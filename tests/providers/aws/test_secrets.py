"""The app's secrets on AWS against the moto server: `portable-fn secrets` writes them (`AwsSecretStore`) where
the function's backend reads them (`portable_fn_aws.secrets.backend`), in SSM Parameter Store and in Secrets
Manager alike; a value set again is read as a new version; errors name the secret and never its value."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
from portable_fn_aws.deploy.client import AwsClient
from portable_fn_aws.secret_store import AwsSecretStore
from portable_fn_aws.secrets import SECRETS_MANAGER, SSM, backend, locator

from portable_fn.cli import main
from portable_fn.runtime.secrets import Secret, SecretError, SecretNotFoundError, use_backends

REGION = "eu-west-1"
TAGS = {"portable-fn:app": "shop", "portable-fn:stage": "dev"}


@pytest.fixture(autouse=True)
def deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    """What deploy sets on every function: its provider and stage name the command in messages."""
    monkeypatch.setenv("PORTABLE_FN_PROVIDER", "aws")
    monkeypatch.setenv("PORTABLE_FN_STAGE", "dev")


@pytest.fixture(params=[SSM, SECRETS_MANAGER])
def store(request: pytest.FixtureRequest, endpoint: str) -> AwsSecretStore:
    return AwsSecretStore(AwsClient(REGION, endpoint), request.param, "shop", "dev")


def reader(store: AwsSecretStore, endpoint: str) -> Any:
    """What a deployed function of the app reads its secrets with, on its own client."""
    client = boto3.client(store.store, region_name=REGION, endpoint_url=endpoint)
    return backend(locator(store.store, "shop", "dev"), client)


def test_a_set_secret_is_read_by_the_function_with_its_version(store: AwsSecretStore, endpoint: str) -> None:
    version = store.set("stripe-key", "sk_test_one")
    assert reader(store, endpoint).fetch("stripe-key") == ("sk_test_one", version)


def test_a_rotated_value_is_a_new_version(store: AwsSecretStore, endpoint: str) -> None:
    first = store.set("stripe-key", "sk_test_one")
    second = store.set("stripe-key", "sk_test_two")
    assert second != first
    assert reader(store, endpoint).fetch("stripe-key") == ("sk_test_two", second)


def test_where_each_store_keeps_the_value(store: AwsSecretStore, endpoint: str) -> None:
    store.set("stripe-key", "sk_test_one")
    if store.store == SSM:
        ssm = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
        [parameter] = ssm.describe_parameters()["Parameters"]
        assert (parameter["Name"], parameter["Type"], parameter["Version"]) == (
            "/portable-fn/shop/dev/stripe-key",
            "SecureString",
            1,
        )
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=parameter["Name"])["TagList"]
    else:
        sm = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint)
        [secret] = sm.list_secrets()["SecretList"]
        assert secret["Name"] == "portable-fn/shop/dev/stripe-key"
        tags = secret["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == TAGS


def test_list_names_the_app_and_stages_secrets_only(store: AwsSecretStore, endpoint: str) -> None:
    versions = {name: store.set(name, "v") for name in ("stripe-key", "db-password")}
    AwsSecretStore(store.aws, store.store, "shop", "prod").set("stripe-key", "other stage")
    AwsSecretStore(store.aws, store.store, "shopfront", "dev").set("stripe-key", "other app")
    listed = store.list()
    assert [(s.name, s.version) for s in listed] == [
        ("db-password", versions["db-password"]),
        ("stripe-key", versions["stripe-key"]),
    ]
    assert all(s.updated and s.updated[:4].isdigit() for s in listed)


def test_remove_deletes_and_says_whether_there_was_one(store: AwsSecretStore, endpoint: str) -> None:
    store.set("stripe-key", "sk_test_one")
    assert store.remove("stripe-key") is True
    assert store.remove("stripe-key") is False
    assert store.list() == []
    with pytest.raises(SecretNotFoundError) as raised:
        reader(store, endpoint).fetch("stripe-key")
    assert "portable-fn secrets set stripe-key --provider aws --stage dev" in str(raised.value)


def test_a_removed_secrets_manager_secret_is_recoverable_and_set_restores_it(endpoint: str) -> None:
    store = AwsSecretStore(AwsClient(REGION, endpoint), SECRETS_MANAGER, "shop", "dev")
    store.set("stripe-key", "sk_test_one")
    store.remove("stripe-key")
    sm = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint)
    described = sm.describe_secret(SecretId="portable-fn/shop/dev/stripe-key")
    assert "DeletedDate" in described  # scheduled, not gone: a recovery window
    version = store.set("stripe-key", "sk_test_two")
    assert reader(store, endpoint).fetch("stripe-key") == ("sk_test_two", version)


def test_a_secret_never_set_names_the_command_that_sets_it(store: AwsSecretStore, endpoint: str) -> None:
    with pytest.raises(SecretNotFoundError) as raised:
        reader(store, endpoint).fetch("stripe-key")
    where = "SSM parameter /portable-fn/shop/dev/" if store.store == SSM else "Secrets Manager secret portable-fn/"
    assert where in str(raised.value)
    assert "`portable-fn secrets set stripe-key --provider aws --stage dev`" in str(raised.value)


def test_a_refusal_names_the_secret_and_never_its_value(endpoint: str) -> None:
    """A store that refuses (here: a Secrets Manager read of an SSM-only secret's ARN-shaped id) is a
    SecretError naming the secret and what to check."""
    ssm = AwsSecretStore(AwsClient(REGION, endpoint), SSM, "shop", "dev")
    ssm.set("stripe-key", "sk_live_do_not_print")
    client = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
    client.meta.events.register("before-call.ssm.GetParameter", refuse)
    with pytest.raises(SecretError) as raised:
        backend("ssm:/portable-fn/shop/dev/", client).fetch("stripe-key")
    assert type(raised.value) is SecretError
    assert "AccessDeniedException" in str(raised.value) and "sk_live" not in str(raised.value)
    assert "declares it in uses=" in str(raised.value)


def refuse(**_: Any) -> Any:
    """A botocore before-call answer standing in for IAM refusing the call."""
    return (
        type("Response", (), {"status_code": 400, "headers": {}})(),
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
    )


@pytest.mark.parametrize("bad", ["", "ssm", "vault:/x/", "ssm:"])
def test_a_locator_naming_no_store_is_refused(bad: str) -> None:
    with pytest.raises(SecretError) as raised:
        backend(bad, client=object())
    assert f"PORTABLE_FN_SECRETS={bad!r}" in str(raised.value)


def test_a_function_reads_the_value_and_sees_a_rotation_after_max_age(
    store: AwsSecretStore, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Secret.value` as a deployed function reads it: the runtime opens this backend from
    `PORTABLE_FN_PROVIDER` and `PORTABLE_FN_SECRETS`, and holds a value for `max_age` seconds."""
    monkeypatch.setenv("PORTABLE_FN_SECRETS", locator(store.store, "shop", "dev"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    use_backends(None)  # nothing opened by an earlier test is reused
    now = [1000.0]
    stripe_key = Secret("stripe-key", max_age=300, clock=lambda: now[0])
    first = store.set("stripe-key", "sk_test_one")
    assert (stripe_key.value, stripe_key.version) == ("sk_test_one", first)
    second = store.set("stripe-key", "sk_test_two")
    now[0] += 299
    assert stripe_key.value == "sk_test_one"  # held: fetched less than max_age ago
    now[0] += 1
    assert (stripe_key.value, stripe_key.version) == ("sk_test_two", second)


def test_the_cli_sets_lists_and_removes_a_secret_on_aws(
    endpoint: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`portable-fn secrets` as a user runs it, the value piped in; the app's functions declare the secrets."""
    app = tmp_path / "secured"
    shutil.copytree(Path(__file__).parent / "deploy" / "apps" / "secured", app)
    common = ("--app", str(app), "--provider", "aws", "--stage", "dev", "--endpoint-url", endpoint)
    monkeypatch.setattr("sys.stdin", io.StringIO("sk_live_never_shown\n"))
    assert main(["secrets", "set", "stripe-key", *common]) == 0
    out, err = capsys.readouterr()
    assert "Set secret stripe-key (version 1) for secured on aws (dev)" in out + err
    assert "sk_live" not in out + err

    assert main(["secrets", "list", *common, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["where"] == "SSM Parameter Store (/portable-fn/secured/dev/)"
    assert "sk_live" not in json.dumps(listed)
    client = boto3.client("ssm", region_name=REGION, endpoint_url=endpoint)
    stored = client.get_parameter(Name="/portable-fn/secured/dev/stripe-key", WithDecryption=True)["Parameter"]
    assert (stored["Value"], stored["Type"]) == ("sk_live_never_shown", "SecureString")

    assert main(["secrets", "remove", "stripe-key", *common, "--yes"]) == 0
    assert "Removed secret stripe-key of secured on aws (dev)" in "".join(capsys.readouterr())
