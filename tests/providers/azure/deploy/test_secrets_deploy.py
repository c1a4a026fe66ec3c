"""Secrets on Azure, deployed against the fake ARM (every vault PUT held to the Key Vault resource provider's
spec) and the fake Key Vault: a vault per app and stage (RBAC, soft delete, the app's tags), the deploying
principal a secrets officer's custom role on it, `PORTABLE_FN_SECRETS` its URL, and the function app's identity Key
Vault Secrets User on each declared secret alone, made once the secret has a value (ARM refuses the scope of a
missing secret): by `secrets set` on a deployed app, else by the next deploy. The fake Key Vault holds each
token to its principal's roles (RBAC mode): the app's identity reads its declared secrets once granted, and no
other secret of the vault. A second plan is a no-op; `remove` keeps the vault (and its group) unless
`--delete-data`, which purges it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from azure.core.exceptions import HttpResponseError
from portable_fn_azure.deploy.appliers import ROLE_NAMESPACE
from portable_fn_azure.deploy.naming import Names
from portable_fn_azure.deploy.roles import SECRET_READER, SECRETS_OFFICER, definition_id
from portable_fn_azure.provider import secret_notes
from portable_fn_azure.secret_store import KeyVaultStore, store_for
from portable_fn_azure.secrets import backend, make_client, vault_url

from portable_fn.app import App, load_app
from portable_fn.deploy import pipeline
from portable_fn.runtime.secrets import SecretError

SUB = "/subscriptions/11111111-2222-3333-4444-555555555555"
GROUP = f"{SUB}/resourceGroups/keyed-dev-rg"
KEYED = Path(__file__).resolve().parents[1] / "apps" / "keyed"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OFFICER = "0d3b7a52-6a1c-4c55-9b7e-2f3c1e5a9d10"  # the deploying user's object id
NAMES = Names("keyed", "dev", SUB.rsplit("/", 1)[-1])
USER, OFFICER_ROLE = definition_id(NAMES, SECRET_READER), definition_id(NAMES, SECRETS_OFFICER)  # custom roles
READERS = (("charge", "stripe-key"), ("refund", "stripe-key"), ("charge", "webhook-secret"))  # keyed's uses=
ROLE_TYPE = "Microsoft.Authorization/roleAssignments"


@pytest.fixture
def keyed(tmp_path: Path) -> App:
    target = tmp_path / "keyed"
    shutil.copytree(KEYED, target, ignore=shutil.ignore_patterns(".portable-fn", "__pycache__"))
    return load_app(target)


@pytest.fixture
def provider(arm: Any, keyvault: Any, blobs: Any, azurite: str, certificate: Any, keyed: App, helpers: Any) -> Any:
    arm.state.directory.add(OFFICER)
    settings = helpers.settings_for(
        keyed, "dev", certificate, azurite, tenant_id=TENANT, secrets_officer_id=OFFICER, keyvault_endpoint=keyvault.url
    )
    return helpers.ArmProvider(settings, arm.url)


def vault_of(provider: Any, app: App) -> str:
    return str(provider.deployer.names(app, "dev").vault)


def data_actions(arm: Any, role: str) -> list[str]:
    """The data actions of a custom role as the fake ARM holds it (its one permission, nothing else in it)."""
    (permission,) = arm.get(role)["properties"]["permissions"]
    assert (permission["actions"], permission["notActions"], permission["notDataActions"]) == ([], [], [])
    return list(permission["dataActions"])


def roles_at(arm: Any, scope: str) -> dict[str, str]:
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {r["properties"]["roleDefinitionId"]: r["properties"]["principalId"] for r in found}


def holders(arm: Any, scope: str) -> set[tuple[str, str]]:
    """(role definition id, principal id) of each role assignment at `scope`."""
    found = arm.children(f"{scope}/providers/Microsoft.Authorization/roleAssignments", ROLE_TYPE)
    return {(r["properties"]["roleDefinitionId"], r["properties"]["principalId"]) for r in found}


def own_principal(arm: Any, provider: Any, app: App, function: str) -> str:
    """The principal id of `function`'s own user-assigned identity, as the endpoint holds it."""
    identity = provider.deployer.names(app, "dev").identity(function)
    found = arm.get(f"{GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{identity}")
    return str(found["properties"]["principalId"])


def store(provider: Any, app: App) -> KeyVaultStore:
    return store_for(provider.deployer, app, "dev")


def test_deploy_makes_the_vault_grants_its_officer_and_each_secret_once_it_has_a_value(
    provider: Any, keyed: App, arm: Any, keyvault: Any, helpers: Any, certificate: Any
) -> None:
    said: list[str] = []
    first = pipeline.deploy(provider, keyed, "dev", said.append)
    vault = vault_of(provider, keyed)
    vault_id = f"{GROUP}/providers/Microsoft.KeyVault/vaults/{vault}"
    found = arm.get(vault_id)
    assert found["tags"] == {"portable-fn-app": "keyed", "portable-fn-stage": "dev"}
    assert {k: found["properties"][k] for k in ("tenantId", "sku", "enableRbacAuthorization", "enableSoftDelete")} == {
        "tenantId": TENANT,
        "sku": {"family": "A", "name": "standard"},
        "enableRbacAuthorization": True,
        "enableSoftDelete": True,
    }
    assert roles_at(arm, vault_id) == {OFFICER_ROLE: OFFICER}  # only the deployer, on the vault
    assert data_actions(arm, OFFICER_ROLE) == [  # exactly what `portable-fn secrets` calls, no secrets/*
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/setSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "Microsoft.KeyVault/vaults/secrets/delete",
        "Microsoft.KeyVault/vaults/secrets/recover/action",
    ]
    assert data_actions(arm, USER) == ["Microsoft.KeyVault/vaults/secrets/getSecret/action"]
    site = arm.get(f"{GROUP}/providers/Microsoft.Web/sites/{provider.deployer.names(keyed, 'dev').function_app}")
    settings = arm.get(f"{site['id']}/config/appsettings")["properties"]
    assert settings["PORTABLE_FN_SECRETS"] == f"https://{vault}.vault.azure.net/"
    # no secret has a value yet: no grant on either, and deploy said how to get one
    assert roles_at(arm, f"{vault_id}/secrets/stripe-key") == {}
    skipped = [line.strip() for line in said if "skipped" in line]
    assert skipped == [  # a grant per reader: charge and refund read stripe-key, charge alone webhook-secret
        f"skipped: secret '{secret}' has no value yet, so it cannot be granted; `portable-fn secrets set "
        f"{secret} --provider azure --stage dev` stores it and grants it"
        for secret in ("stripe-key", "stripe-key", "webhook-secret")
    ]
    readers = {f"{vault}/{n}/portable-fn secret reader for {f}" for f, n in READERS}
    assert {s.resource.name for s in first.plan.steps if "/secrets/" in getattr(s.resource, "scope", "")} == readers
    again = pipeline.plan(provider, keyed, "dev").plan  # the three grants are still to make, nothing else
    assert {s.resource.name for s in again.steps} == readers

    # the officer sets both through the SDK, against the vault deploy made (served once ARM holds it), the
    # fake Key Vault holding each token to the roles its principal has (RBAC mode); setting a declared secret
    # grants it to the app's identity through deploy's applier (every role PUT held to the spec by the fake ARM)
    keyvault.principals[helpers.StaticToken().token] = OFFICER
    app_name = site["name"]
    charge, refund = (own_principal(arm, provider, keyed, f) for f in ("charge", "refund"))

    def reading_as(principal: str) -> Any:
        """The runtime's backend with a token of `principal` (a function's own identity)."""
        keyvault.principals[f"token-of-{principal}"] = principal
        client = make_client(
            vault_url(vault),
            helpers.StaticToken(f"token-of-{principal}"),
            endpoint=keyvault.url,
            connection_verify=str(certificate[0]),
        )
        return backend(vault_url(vault), client)

    as_charge, as_refund, as_app = reading_as(charge), reading_as(refund), reading_as(site["identity"]["principalId"])
    values = store(provider, keyed)
    provider.deployer.client.calls.clear()
    values.set("stripe-key", "sk_test_1")
    assert values.notes == [
        f"Secret stripe-key granted to function {f}'s identity in the function app {app_name} (portable-fn's secret "
        "reader role: getSecret on that secret alone); Azure applies a new role within minutes."
        for f in ("charge", "refund")
    ]
    scope = f"{vault_id}/secrets/stripe-key"
    role_ids = [uuid.uuid5(ROLE_NAMESPACE, f"{scope}|{USER}|{p}".lower()) for p in (charge, refund)]  # deploy's names
    assert [c[1:] for c in provider.deployer.client.mutating_calls()] == [
        ("PUT", f"{scope}/providers/Microsoft.Authorization/roleAssignments/{role_id}") for role_id in role_ids
    ]
    assert as_charge.fetch("stripe-key")[0] == as_refund.fetch("stripe-key")[0] == "sk_test_1"  # no deploy between
    with pytest.raises(SecretError, match="ForbiddenByRbac"):  # not set, so not granted yet
        as_charge.fetch("webhook-secret")
    values.set("webhook-secret", "whsec_1")
    values.set("payroll-key", "not-for-this-app")  # in the vault, declared by no function: granted to none
    values.set("stripe-key", "sk_test_2")  # a new version: the grants are there already
    assert values.notes[2:] == [
        f"Secret webhook-secret granted to function charge's identity in the function app {app_name} (portable-fn's "
        "secret reader role: getSecret on that secret alone); Azure applies a new role within minutes.",
        *(
            f"Secret stripe-key was already granted to function {f}'s identity in the function app {app_name}."
            for f in ("charge", "refund")
        ),
    ]
    assert roles_at(arm, f"{vault_id}/secrets/payroll-key") == {}
    assert holders(arm, f"{vault_id}/secrets/stripe-key") == {(USER, charge), (USER, refund)}
    assert holders(arm, f"{vault_id}/secrets/webhook-secret") == {(USER, charge)}  # refund did not declare it
    assert roles_at(arm, vault_id) == {OFFICER_ROLE: OFFICER}  # nothing vault-wide for the app
    assert as_charge.fetch("stripe-key")[0] == "sk_test_2"  # what charge's own identity reads now
    assert as_charge.fetch("webhook-secret")[0] == "whsec_1"
    for refused, secret in ((as_refund, "webhook-secret"), (as_charge, "payroll-key"), (as_app, "stripe-key")):
        with pytest.raises(SecretError, match="ForbiddenByRbac"):  # each only its own declared secrets
            refused.fetch(secret)

    provider.deployer.client.calls.clear()  # the grants made by `set` read back as the ones deploy plans
    assert pipeline.deploy(provider, keyed, "dev").plan.empty
    assert provider.deployer.client.mutating_calls() == []


def test_a_secret_set_while_the_app_is_not_deployed_is_granted_by_the_next_deploy(
    provider: Any, keyed: App, arm: Any, keyvault: Any, helpers: Any
) -> None:
    pipeline.deploy(provider, keyed, "dev")
    # the vault is kept (it holds data); the function app is gone, and so is the officer's role deploy gave, so
    # the value is set as someone the vault lets in otherwise (the suite's token, which the fake does not hold
    # to RBAC)
    pipeline.remove(provider, keyed, "dev")
    values = store(provider, keyed)
    values.set("stripe-key", "sk_test_1")
    assert values.notes == [
        "'keyed' is not deployed in stage 'dev': the next `portable-fn deploy --provider azure --stage dev` grants "
        f"secret stripe-key to function {f}'s identity."
        for f in ("charge", "refund")
    ]
    vault_id = f"{GROUP}/providers/Microsoft.KeyVault/vaults/{vault_of(provider, keyed)}"
    assert roles_at(arm, f"{vault_id}/secrets/stripe-key") == {}

    pipeline.deploy(provider, keyed, "dev")
    assert holders(arm, f"{vault_id}/secrets/stripe-key") == {
        (USER, own_principal(arm, provider, keyed, f)) for f in ("charge", "refund")
    }


def test_remove_keeps_the_vault_and_its_group_unless_told(provider: Any, keyed: App, arm: Any, helpers: Any) -> None:
    pipeline.deploy(provider, keyed, "dev")
    store(provider, keyed).set("stripe-key", "sk_test_1")
    vault = vault_of(provider, keyed)
    kept = pipeline.remove(provider, keyed, "dev").plan
    assert {(r.kind, r.name) for r in kept.kept} == {("key vault", vault), ("resource group", "keyed-dev-rg")}
    assert all("--delete-data" in line for line in kept.kept_lines())
    assert [i.name for i in store(provider, keyed).list()] == ["stripe-key"]  # still readable

    gone = pipeline.remove(provider, keyed, "dev", delete_data=True).plan
    assert not gone.kept
    assert {key: found["tags"] for key, found in arm.state.resources.items()} == helpers.audit_trail("keyed", "dev")
    # purged, not left soft-deleted: its name is free and its secrets are gone, so the stage deploys again
    assert arm.state.deleted_vaults == {}
    pipeline.deploy(provider, keyed, "dev")
    assert store(provider, keyed).list() == []


def test_plan_says_where_secrets_live_who_reads_them_and_to_set_them_first(keyed: App) -> None:
    notes = secret_notes(keyed, "dev", "keyeddevkv0a1b2c")
    assert notes[0] == (
        "Secrets are kept in the Key Vault keyeddevkv0a1b2c (RBAC, soft delete on). Azure runs all of 'keyed''s "
        "functions as one function app with one identity: it gets a role reading each declared secret alone "
        "(getSecret), and each function may read only the secrets it declares, checked at run time (stripe-key: "
        "charge, refund; webhook-secret: charge)."
    )
    assert "set, list and remove secrets on the vault" in notes[1] and "`portable-fn secrets set`" in notes[1]
    assert notes[2] == (
        "A role can be scoped to a secret only once it exists (ARM refuses a scope that does not): deploy skips the "
        "grant of a secret with no value, and `portable-fn secrets set NAME --provider azure --stage dev` stores the "
        "value and makes the grant (on an app not deployed, the next deploy makes it)."
    )
    assert secret_notes(load_app(KEYED.parent / "stateful"), "dev", "") == []


def test_the_fake_arm_holds_a_vault_to_the_published_schema(provider: Any, arm: Any) -> None:
    client = provider.deployer.client
    client.resources.resource_groups.create_or_update("keyed-dev-rg", {"location": "westeurope"})
    vaults, sku = client.keyvault.vaults, {"family": "A", "name": "standard"}
    misspelt = {"location": "westeurope", "properties": {"tenantId": TENANT, "sku": sku, "enableRbac": True}}
    with pytest.raises(
        HttpResponseError, match="Could not find member 'enableRbac' on object of type 'VaultProperties'"
    ):
        vaults.begin_create_or_update("keyed-dev-rg", "keyedprobekv", misspelt).result()
    no_sku = {"location": "westeurope", "properties": {"tenantId": TENANT}}
    with pytest.raises(HttpResponseError, match="has no 'properties.sku', which VaultProperties requires"):
        vaults.begin_create_or_update("keyed-dev-rg", "keyedprobekv", no_sku).result()
    premium = {"location": "westeurope", "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "gold"}}}
    with pytest.raises(HttpResponseError, match="is not one of the values the spec allows for SkuName"):
        vaults.begin_create_or_update("keyed-dev-rg", "keyedprobekv", premium).result()
    assert arm.find("/vaults/keyedprobekv") is None


def test_every_name_a_secret_may_be_declared_with_is_one_key_vault_takes() -> None:
    """A secret keeps its declared name in the vault: the declaration's rule (2-40 lower-case letters, digits and
    '-') lies within the pattern the data-plane spec gives SetSecret's `secret-name`."""
    import json
    import re

    from portable_fn.runtime.secrets import secret

    excerpt = KEYED.parents[3] / "data/azure/azure-rest-api-specs/specification/keyvault/data-plane/Secrets"
    spec = json.loads((excerpt / "stable/2026-04-01/secrets.excerpt.json").read_text())
    put = spec["paths"]["/secrets/{secret-name}"]["put"]["parameters"]
    pattern = next(p["pattern"] for p in put if p.get("name") == "secret-name")
    for name in ("ab", "stripe-key", "a" * 40, "k8s-token-2"):
        assert re.fullmatch(pattern[1:-1], secret(name).name)


def test_the_tenant_and_the_officer_default_to_the_deploying_tokens_claims(helpers: Any) -> None:
    """Without `tenant_id` and `secrets_officer_id`, the vault trusts the tenant (`tid`) of whoever deploys and
    makes them (`oid`) its officer; a token naming neither is a ConfigError saying which setting to give."""
    import base64
    import json

    from portable_fn_azure.deploy import AzureDeployer

    from portable_fn.runtime.errors import ConfigError

    def jwt(claims: dict[str, str]) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJSUzI1NiJ9.{part}.c2ln"

    settings = {"subscription_id": SUB.rsplit("/", 1)[-1], "location": "westeurope"}
    signed_in = AzureDeployer(settings, credential=helpers.StaticToken(jwt({"tid": TENANT, "oid": OFFICER})))
    assert (signed_in.tenant_id(), signed_in.deployer_id()) == (TENANT, OFFICER)
    given = AzureDeployer(
        {**settings, "tenant_id": "t-1", "secrets_officer_id": "o-1"}, credential=signed_in.client.credential
    )
    assert (given.tenant_id(), given.deployer_id()) == ("t-1", "o-1")
    anonymous = AzureDeployer(settings, credential=helpers.StaticToken("not-a-jwt"))
    with pytest.raises(ConfigError) as caught:
        anonymous.deployer_id()
    assert str(caught.value) == (
        "Deploying secrets to azure needs secrets_officer_id: the deploying credential's token names no `oid`. Set "
        'secrets_officer_id = "<object id>" under [tool.portable-fn.azure] in pyproject.toml.'
    )


def test_a_grant_that_fails_says_the_value_is_stored_and_what_makes_the_grant(keyed: App) -> None:
    from portable_fn_azure.secret_store import ReaderGrant

    def no_identity() -> None:  # what `RoleAssignments.principal` raises for an app without its identity
        raise LookupError("function app keyed-dev-fn has no system-assigned identity yet")

    with pytest.raises(SecretError) as caught:
        ReaderGrant(cast(Any, None), keyed, "dev")._call("stripe-key", no_identity)
    assert str(caught.value) == (
        "Secret stripe-key is stored, but granting it to its functions' identities failed (function app "
        "keyed-dev-fn has no system-assigned identity yet); `portable-fn deploy --provider azure --stage dev` makes "
        "the grant, as a principal that may create role assignments (Owner or User Access Administrator on the app's "
        "resource group)."
    )
