"""`portable-fn export --provider azure --format terraform`: every resource kind the Azure desired returns is in
the Terraform document (or said why not), the document's HCL reads back to it, every type, argument and reference
is one hashicorp/azurerm 4.55.0 has (its schema recorded in tests/export/data/azurerm.json), and no secret or
deploy-time marker is written."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from portable_fn_azure.deploy import AzureDeployer
from portable_fn_azure.deploy import resources as azure_resources
from portable_fn_azure.deploy.export import EXPORTERS, terraform_document
from portable_fn_azure.provider import AzureProvider

from portable_fn.app import App, load_app
from portable_fn.cli import main
from portable_fn.deploy import Artifact, Resource
from portable_fn.export import render
from portable_fn.runtime.errors import DeployError, ProviderError

from ...export.hcl_roundtrip import parse, without_comments
from ...export.terraform_schema import evaluation_problems, problems

REPO = Path(__file__).resolve().parents[3]
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ARTIFACT = Artifact(Path("/build/shop-azure.zip"), "ab" * 32, 10, 1)
TODAY = date(2026, 12, 6)
# Every app of the repository that deploys on Azure (the others fail to load or are refused by `check`).
APPS = [
    "samples/saas",
    "samples/shop",
    "samples/telemetry",
    "tests/apps/emitter",
    "tests/apps/flow",
    "tests/apps/invoking",
    "tests/apps/openapi_cases",
    "tests/apps/splits",
    "tests/apps/trace_relay",
    "tests/apps/vault",
    "tests/providers/azure/apps/every_trigger",
    "tests/providers/azure/apps/filing",
    "tests/providers/azure/apps/keyed",
    "tests/providers/azure/apps/outcomes",
    "tests/providers/azure/apps/retrying",
    "tests/providers/azure/apps/routes",
    "tests/providers/azure/apps/sender",
    "tests/providers/azure/apps/stateful",
    "tests/providers/gcp/apps/probe",
]
SETTINGS = {
    "consumption": {},
    "flex with a connection string": {"plan_sku": "FC1", "storage_auth": "connection_string"},
    "premium in a group of one's own": {"plan_sku": "EP1", "resource_group": "platform-rg"},
}


def export(app: App, **settings: Any) -> tuple[dict[str, Any], list[str], list[Resource]]:
    given = {"location": "westeurope", **app.config.provider_settings("azure", "dev"), **settings}
    deployer = AzureDeployer({**given, "subscription_id": SUBSCRIPTION})
    names = deployer.names(app, "dev")
    desired = deployer.desired(app, "dev", ARTIFACT)
    document, notes = terraform_document(
        app,
        "dev",
        desired,
        ARTIFACT,
        names=names,
        settings=deployer.config,
        blob_endpoint=deployer.blob_endpoint(names),
        table_endpoint=deployer.table_endpoint(names),
        today=TODAY,
    )
    return document, notes, desired


@pytest.fixture(scope="module")
def shop() -> App:
    return load_app(REPO / "samples" / "shop")


def test_every_kind_desired_returns_has_an_exporter() -> None:
    """A kind added to the Azure resources (they must be in ORDER to be desired) without an exporter fails here."""
    assert set(EXPORTERS) == set(azure_resources.ORDER)


def test_a_kind_without_an_exporter_is_refused_naming_it(shop: App) -> None:
    class Unknown(Resource):
        kind = "mystery"

    deployer = AzureDeployer({"subscription_id": SUBSCRIPTION, "location": "westeurope"})
    with pytest.raises(DeployError, match=r"kind 'mystery' have no exporter\. Add one to .*EXPORTERS"):
        terraform_document(shop, "dev", [Unknown("x")], ARTIFACT, names=deployer.names(shop, "dev"))


@pytest.mark.slow  # every app under each setting: rendered, read back by python-hcl2 and held to the schema
@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("path", APPS)
def test_the_export_of_each_app_reads_back_and_holds_to_the_azurerm_schema(
    path: str, settings: dict[str, str], tmp_path: Path
) -> None:
    document, _, _ = export(load_app(REPO / path), **settings)
    main_tf = render(document)
    assert parse(main_tf) == without_comments(document)
    assert problems(document, "azurerm") == []
    assert evaluation_problems(main_tf, document, tmp_path, "azurerm") == []
    text = json.dumps(document)
    assert "@portable-fn:" not in text  # every deploy-time marker became a reference
    assert "AccountKey=" not in text and "SharedAccessSignature" not in text


def test_the_schema_check_fails_on_what_azurerm_does_not_have(shop: App) -> None:
    document, _, _ = export(shop)
    app = document["resource"]["azurerm_linux_function_app"]["app"]
    app["site_config"][0]["python"] = "3.11"
    del app["service_plan_id"]
    app["tags"] = "${azurerm_service_plan.other.id}"
    assert problems(document, "azurerm") == [
        "azurerm_linux_function_app.app: service_plan_id is required",
        "azurerm_linux_function_app.app.site_config[0]: python is not an argument of this block",
        "${azurerm_service_plan.other.id}: azurerm_service_plan.other is not declared",
    ]


def test_resources_refer_to_each_other_not_to_literal_ids(shop: App) -> None:
    document, _, _ = export(shop)
    text = json.dumps(without_comments(document["resource"]))
    for literal in ("/subscriptions/", "https://shopdevpf", ".core.windows.net"):
        assert literal not in text


def test_the_function_app_carries_its_settings_as_references(shop: App) -> None:
    document, _, _ = export(shop)
    app = without_comments(document["resource"]["azurerm_linux_function_app"]["app"])
    settings = app.pop("app_settings")
    assert app == {
        "name": "shop-dev-326857",
        "resource_group_name": "${azurerm_resource_group.app.name}",
        "location": "westeurope",
        "service_plan_id": "${azurerm_service_plan.app.id}",
        "https_only": True,
        "identity": [
            {
                "type": "SystemAssigned, UserAssigned",  # the functions' own identities beside the app's
                "identity_ids": [
                    f"${{azurerm_user_assigned_identity.{f}.id}}"
                    for f in ("confirm_payment_9719ed", "create_order_9f972f", "place_order_run_75517a")
                ],
            }
        ],
        "storage_account_name": "${azurerm_storage_account.app.name}",
        "functions_extension_version": "~4",
        "site_config": [{"application_stack": [{"python_version": "3.11"}]}],
        "storage_uses_managed_identity": True,
        "tags": {"portable-fn-app": "shop", "portable-fn-stage": "dev"},
    }
    assert settings == {
        **{  # each function's own identity's client id, which its clients ask tokens of
            f"PORTABLE_FN_IDENTITY_{f.upper()}": f"${{azurerm_user_assigned_identity.{f}_{h}.client_id}}"
            for f, h in (("confirm_payment", "9719ed"), ("create_order", "9f972f"), ("place_order_run", "75517a"))
        },
        "PORTABLE_FN_APP": "shop",
        "PORTABLE_FN_PROVIDER": "azure",
        "PORTABLE_FN_QUEUE_PFN_WF_PLACE_ORDER": "storage-queue:AzureWebJobsStorage/pfn-wf-place-order",
        "PORTABLE_FN_STAGE": "dev",
        "PORTABLE_FN_STATE_PAYMENTS": "${azurerm_storage_account.app.primary_table_endpoint}pfspaymentsdf384a",
        "PORTABLE_FN_STATE_PFN_OUTBOX": "${azurerm_storage_account.app.primary_table_endpoint}pfspfnoutbox751537",
        "PORTABLE_FN_STATE_PFN_WORKFLOWS": "${azurerm_storage_account.app.primary_table_endpoint}pfspfnworkflows5365e2",
        "PORTABLE_FN_STATE_STOCK": "${azurerm_storage_account.app.primary_table_endpoint}pfsstock08c424",
        "PORTABLE_FN_TOPIC_ORDER_EVENTS": "event-grid:${azurerm_eventgrid_topic.order_events.endpoint}",
        "WEBSITE_RUN_FROM_PACKAGE": "${azurerm_storage_blob.package.url}",
        "WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID": "SystemAssigned",
    }
    assert without_comments(document["resource"]["azurerm_storage_blob"]["package"]) == {
        "name": f"shop-dev/{'ab' * 32}.zip",
        "storage_account_name": "${azurerm_storage_account.app.name}",
        "storage_container_name": "${azurerm_storage_container.portable_fn_packages.name}",
        "type": "Block",
        "source": "${path.module}/shop-azure.zip",
    }


def test_flex_consumption_publishes_the_zip_and_reaches_storage_with_a_key_reference(shop: App) -> None:
    document, notes, _ = export(shop, plan_sku="FC1", storage_auth="connection_string")
    app = without_comments(document["resource"]["azurerm_function_app_flex_consumption"]["app"])
    assert {k: app[k] for k in app if k not in ("app_settings", "tags")} == {
        "name": "shop-dev-326857",
        "resource_group_name": "${azurerm_resource_group.app.name}",
        "location": "westeurope",
        "service_plan_id": "${azurerm_service_plan.app.id}",
        "https_only": True,
        "identity": [{"type": "SystemAssigned"}],
        "storage_container_type": "blobContainer",
        "storage_container_endpoint": "${azurerm_storage_account.app.primary_blob_endpoint}portable-fn-deployment",
        "storage_authentication_type": "StorageAccountConnectionString",
        "runtime_name": "python",
        "runtime_version": "3.11",
        "instance_memory_in_mb": 2048,
        "maximum_instance_count": 100,
        "site_config": [{}],
        "storage_access_key": "${azurerm_storage_account.app.primary_access_key}",
        "zip_deploy_file": "${path.module}/shop-azure.zip",
    }
    assert app["app_settings"]["AzureWebJobsStorage"] == "${azurerm_storage_account.app.primary_connection_string}"
    assert app["app_settings"]["PORTABLE_FN_TOPIC_ORDER_EVENTS_KEY"] == (
        "${azurerm_eventgrid_topic.order_events.primary_access_key}"
    )
    assert "DEPLOYMENT_STORAGE_CONNECTION_STRING" not in app["app_settings"]
    assert not any("sync its triggers" in note for note in notes)


def test_a_package_url_with_a_key_carries_a_read_only_sas_of_fixed_dates(shop: App) -> None:
    document, _, _ = export(shop, storage_auth="connection_string")
    settings = document["resource"]["azurerm_linux_function_app"]["app"]["app_settings"]
    assert settings["WEBSITE_RUN_FROM_PACKAGE"] == (
        "${azurerm_storage_blob.package.url}${data.azurerm_storage_account_blob_container_sas.package.sas}"
    )
    sas = document["data"]["azurerm_storage_account_blob_container_sas"]["package"]
    assert (sas["start"], sas["expiry"], sas["permissions"][0]["read"], sas["permissions"][0]["write"]) == (
        "2026-12-06",
        "2036-12-03",
        True,
        False,
    )


def test_roles_go_to_each_function_s_own_identity_on_exactly_what_it_uses(shop: App) -> None:
    document, _, desired = export(shop)
    roles = document["resource"]["azurerm_role_assignment"]
    assert len(roles) == sum(isinstance(r, azure_resources.RoleAssignment) for r in desired) == 13
    identities = document["resource"]["azurerm_user_assigned_identity"]
    assert sorted((i["name"], i["tags"]["portable-fn-function"]) for i in identities.values()) == [
        ("shop-dev-confirm-payment-9719ed", "confirm_payment"),
        ("shop-dev-create-order-9f972f", "create_order"),
        ("shop-dev-place-order-run-75517a", "place_order-run"),
    ]
    writer = "${azurerm_role_definition.portable_fn_state_writer_shop_dev.role_definition_resource_id}"
    assert without_comments(roles["pfsstock08c424_portable_fn_state_writer_for_place_order_run"]) == {
        "scope": "${azurerm_storage_table.pfsstock08c424.resource_manager_id}",
        "role_definition_id": writer,  # the custom role below, by reference
        "principal_id": "${azurerm_user_assigned_identity.place_order_run_75517a.principal_id}",
        "principal_type": "ServicePrincipal",
        "description": "portable-fn",
    }
    topic = roles["order_events_portable_fn_topic_sender_for_place_order_run"]
    assert topic["scope"] == "${azurerm_eventgrid_topic.order_events.id}"
    assert roles["storage_blob_data_owner"]["role_definition_name"] == "Storage Blob Data Owner"  # the host's
    definitions = document["resource"]["azurerm_role_definition"]
    assert len(definitions) == sum(isinstance(r, azure_resources.RoleDefinition) for r in desired) == 3
    entities = "Microsoft.Storage/storageAccounts/tableServices/tables/entities"
    assert without_comments(definitions["portable_fn_state_writer_shop_dev"]) == {
        "name": "portable-fn state writer shop-dev-326857",
        "scope": "${data.azurerm_subscription.current.id}",
        "role_definition_id": next(
            r.definition_id.rsplit("/", 1)[-1] for r in desired if isinstance(r, azure_resources.RoleDefinition)
        ),
        "description": "portable-fn shop (dev): the state writer, exact actions on what is assigned",
        "permissions": [
            {
                "actions": [],
                "data_actions": [f"{entities}/{a}" for a in ("read", "add/action", "update/action", "write", "delete")],
            }
        ],
        "assignable_scopes": ["${azurerm_resource_group.app.id}"],
    }


def test_event_grid_delivers_to_the_functions_and_dead_letters_to_the_container(shop: App) -> None:
    document, _, _ = export(shop)
    resources = document["resource"]
    blobs = without_comments(
        resources["azurerm_eventgrid_system_topic_event_subscription"]["storage_events_on_upload_b87e98"]
    )
    assert blobs["webhook_endpoint"] == [
        {
            "url": "https://${azurerm_linux_function_app.app.default_hostname}/runtime/webhooks/blobs"
            "?functionName=Host.Functions.on_upload&code=${data.azurerm_function_app_host_keys.app.blobs_extension_key}"
        }
    ]
    assert blobs["subject_filter"] == [{"subject_begins_with": "/blobServices/default/containers/uploads/blobs/in/"}]
    topic = without_comments(resources["azurerm_eventgrid_event_subscription"]["order_events_notify"])
    assert topic["scope"] == "${azurerm_eventgrid_topic.order_events.id}"
    assert topic["azure_function_endpoint"][0]["function_id"] == "${azurerm_linux_function_app.app.id}/functions/notify"
    for subscription in (blobs, topic):
        assert subscription["retry_policy"] == [{"max_delivery_attempts": 30, "event_time_to_live": 1440}]
        assert subscription["storage_blob_dead_letter_destination"] == [
            {
                "storage_account_id": "${azurerm_storage_account.app.id}",
                "storage_blob_container_name": "${azurerm_storage_container.portable_fn_dead_letters.name}",
            }
        ]
        assert subscription["depends_on"] == [
            "${azurerm_role_assignment.storage_blob_data_owner}",
            "${azurerm_role_assignment.storage_queue_data_contributor}",
            "${azurerm_role_assignment.storage_account_contributor}",
        ]


def test_the_notes_say_what_terraform_leaves_to_the_user(shop: App) -> None:
    _, notes, _ = export(shop)
    assert notes == [
        "azure: the function app runs the package blob WEBSITE_RUN_FROM_PACKAGE names; after an apply that changed "
        "it, sync its triggers (deploy does): az rest --method post --url https://management.azure.com/subscriptions/"
        f"{SUBSCRIPTION}/resourceGroups/shop-dev-rg/providers/Microsoft.Web/sites/shop-dev-326857/syncfunctiontriggers"
        "?api-version=2022-03-01",
        "azure: deploy makes no Application Insights, so none is exported; add azurerm_application_insights and "
        "APPLICATIONINSIGHTS_CONNECTION_STRING in app_settings to have one.",
    ]


def shop_with(directory: Path, old: str, new: str) -> App:
    """A copy of samples/shop with `old` in its pyproject.toml replaced by `new`."""
    shutil.copytree(REPO / "samples" / "shop", directory / "shop", ignore=shutil.ignore_patterns(".portable-fn"))
    pyproject = directory / "shop" / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    assert old in text
    pyproject.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_app(directory / "shop")


def test_service_bus_stays_the_user_s_and_its_senders_get_their_roles(tmp_path: Path) -> None:
    namespace = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/bus-rg/providers/Microsoft.ServiceBus/namespaces/bus"
    transports = (
        f'queue_transport = "service_bus"\ntopic_transport = "service_bus"\nservice_bus_namespace_id = "{namespace}"'
    )
    app = shop_with(tmp_path, 'location = "westeurope"', f'location = "westeurope"\n{transports}')
    document, notes, _ = export(app)
    assert problems(document, "azurerm") == []
    assert (
        "azure: the Service Bus namespace and its queues and topics are yours (service_bus_namespace_id), so they are "
        "not in main.tf; the app setting ServiceBusConnection must hold its connection."
    ) in notes
    counts = [n for n in notes if "MaxDeliveryCount" in n]  # what deploy sets on the user's entities, as notes
    assert len(counts) == 3 and all("(yours, so not in main.tf)" in n for n in counts)  # the workflow's queue too
    assert any(f"{namespace}/queues/orders " in n for n in counts)  # fulfil's queue
    assert any(f"{namespace}/topics/order-events/subscriptions/notify " in n for n in counts)
    roles = document["resource"]["azurerm_role_assignment"]
    senders = [
        r for label, r in roles.items() if label.startswith("bus_pfn_wf_place_order_portable_fn_bus_sender_for_")
    ]
    assert {r["scope"] for r in senders} == {f"{namespace}/queues/pfn-wf-place-order"} and len(senders) == 3
    assert "azurerm_eventgrid_topic" not in document["resource"]
    (bus,) = [r for r in document["resource"]["azurerm_role_definition"].values() if "bus sender" in r["name"]]
    assert (bus["permissions"], bus["assignable_scopes"]) == (
        [{"actions": [], "data_actions": ["Microsoft.ServiceBus/namespaces/messages/send/action"]}],
        [namespace],  # the user's namespace alone
    )


def test_the_app_s_tags_are_carried(tmp_path: Path) -> None:
    document, _, _ = export(shop_with(tmp_path, 'python = "3.11"\n', 'python = "3.11"\ntags = {Team = "Pay Ments"}\n'))
    assert document["resource"]["azurerm_storage_account"]["app"]["tags"] == {
        "Team": "Pay Ments",
        "portable-fn-app": "shop",
        "portable-fn-stage": "dev",
    }


def test_the_provider_exports_main_tf_with_the_zip_beside_it(shop: App) -> None:
    given = {"location": "westeurope", **shop.config.provider_settings("azure", "dev"), "subscription_id": SUBSCRIPTION}
    exported = AzureProvider(given).export(shop, "dev", ARTIFACT, "terraform")
    assert (sorted(exported.files), exported.artifacts) == (["main.tf"], {"shop-azure.zip": ARTIFACT.path})
    assert (
        parse(exported.files["main.tf"])["resource"]["azurerm_linux_function_app"]["app"]["name"] == "shop-dev-326857"
    )
    with pytest.raises(ProviderError, match=r"'azure' cannot export --format cloudformation; it exports terraform"):
        AzureProvider(given).export(shop, "dev", ARTIFACT, "cloudformation")


@pytest.mark.slow  # compiles bytecode with an interpreter of the app's Python
def test_portable_fn_export_writes_main_tf_and_the_package_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app = tmp_path / "splits"
    shutil.copytree(REPO / "tests" / "apps" / "splits", app, ignore=shutil.ignore_patterns(".portable-fn"))
    pyproject = app / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + 'location = "westeurope"\n', encoding="utf-8")
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    argv = ["export", str(app), "--provider", "azure", "--format", "terraform", "-o", str(tmp_path / "tf")]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["files"], out["artifacts"]) == (["main.tf"], ["splits-azure.zip"])
    built = app / ".portable-fn" / "build" / "azure" / "dev" / "splits-azure.zip"
    assert (tmp_path / "tf" / "splits-azure.zip").read_bytes() == built.read_bytes()
    document = parse((tmp_path / "tf" / "main.tf").read_text(encoding="utf-8"))
    package = document["resource"]["azurerm_storage_blob"]["package"]
    assert package["source"] == "${path.module}/splits-azure.zip"
    assert package["name"] == f"splits-dev/{hashlib.sha256(built.read_bytes()).hexdigest()}.zip"


def test_secrets_export_a_vault_the_applier_and_each_readers_identity_are_granted_on_by_reference() -> None:
    """The vault, its officer (whoever applies) and each secret's reader role, every id a reference; the note says
    a secret's role needs the secret set first (the vault holds to azurerm's schema with the other APPS)."""
    document, notes, _ = export(load_app(REPO / "tests" / "providers" / "azure" / "apps" / "keyed"))
    vaults = document["resource"]["azurerm_key_vault"]
    assert [(v["name"], v["rbac_authorization_enabled"], v["tenant_id"]) for v in vaults.values()] == [
        ("keyeddevkvfd14d3", True, "${data.azurerm_client_config.current.tenant_id}")
    ]
    vault = "${azurerm_key_vault.keyeddevkv.id}"
    charge, refund = (
        f"${{azurerm_user_assigned_identity.{f}.principal_id}}" for f in ("charge_3f4015", "refund_4f14cc")
    )
    roles = sorted(
        (body["role_definition_id"].split(".")[1], body["scope"], body["principal_id"])
        for body in document["resource"]["azurerm_role_assignment"].values()
        if "KeyVault" in body["scope"] or "key_vault" in body["scope"]
    )
    assert roles == [  # charge reads both secrets, refund stripe-key alone: each through its own identity
        ("portable_fn_secret_reader_keyed_dev", f"{vault}/secrets/stripe-key", charge),
        ("portable_fn_secret_reader_keyed_dev", f"{vault}/secrets/stripe-key", refund),
        ("portable_fn_secret_reader_keyed_dev", f"{vault}/secrets/webhook-secret", charge),
        ("portable_fn_secrets_officer_keyed_dev", vault, "${data.azurerm_client_config.current.object_id}"),
    ]
    settings = document["resource"]["azurerm_linux_function_app"]["app"]["app_settings"]
    assert settings["PORTABLE_FN_SECRETS"] == "${azurerm_key_vault.keyeddevkv.vault_uri}"
    assert "@portable-fn:" not in json.dumps(document)
    assert any("portable-fn secrets set NAME --provider azure --stage dev" in note for note in notes)
