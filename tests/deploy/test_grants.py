"""Grants as data (`portable_fn.deploy.grants`): what makes a grant a wildcard, how one is named, and that a
provider without a deploy side of its own grants nothing."""

from __future__ import annotations

from portable_fn.deploy.grants import Grant, wildcard_grants
from portable_fn.provider import Provider

ROLE = "arn:aws:iam::123456789012:role/portable-fn/shop/dev/shop-dev-fulfil"
TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/shop-dev-stock"


def test_a_wildcard_action_or_an_unnamed_resource_is_a_wildcard_grant() -> None:
    exact = Grant("fulfil", ROLE, ("dynamodb:GetItem",), TABLE)
    service = Grant("fulfil", ROLE, ("dynamodb:GetItem", "dynamodb:*"), TABLE)
    anything = Grant("fulfil", ROLE, ("dynamodb:GetItem",), "*")
    azure = Grant(None, "identity", ("Microsoft.Storage/storageAccounts/*/read",), "/subscriptions/s", "Reader")
    assert service.wildcard_actions() == ("dynamodb:*",)
    assert wildcard_grants([exact, service, anything, azure]) == [service, anything, azure]


def test_a_grant_describes_itself_by_function_principal_role_or_actions_and_resource() -> None:
    assert Grant("fulfil", ROLE, ("dynamodb:GetItem", "dynamodb:PutItem"), TABLE).describe() == (
        f"fulfil as {ROLE}: dynamodb:GetItem, dynamodb:PutItem on {TABLE}"
    )
    binding = Grant(None, "serviceAccount:a@p.iam.gserviceaccount.com", ("pubsub.topics.publish",), "t", "roles/x")
    assert binding.describe() == "(app) as serviceAccount:a@p.iam.gserviceaccount.com: roles/x on t"
    assert binding.to_dict() == {
        "function": None,
        "principal": "serviceAccount:a@p.iam.gserviceaccount.com",
        "actions": ("pubsub.topics.publish",),
        "resource": "t",
        "role": "roles/x",
        "platform": "",
    }
    host = Grant(None, "@app", ("a/*",), "account", "Storage Blob Data Owner", "the host's own storage")
    assert host.describe() == (
        "(app) as @app: Storage Blob Data Owner on account (for the platform: the host's own storage)"
    )


def test_a_provider_grants_nothing_unless_it_says_what() -> None:
    assert Provider().grants([]) == []
