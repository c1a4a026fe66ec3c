"""AWS's wait for IAM goes through the deploy core's `while_settling`: a call Lambda or Scheduler refuses
for a role IAM has not made usable yet is retried, saying so, for as long as `iam_propagation_attempts`
backed-off attempts take; then it fails naming the setting. Real botocore errors, as Lambda answers."""

from __future__ import annotations

from typing import Any, cast

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from portable_fn_aws.deploy.appliers import ApplyContext
from portable_fn_aws.deploy.client import AwsClient
from portable_fn_aws.deploy.naming import Arns
from portable_fn_aws.settings import AwsSettings

# What CreateFunction answers for a role made a moment ago (InvalidParameterValueException, as Lambda words it).
NOT_ASSUMABLE = {
    "Error": {
        "Code": "InvalidParameterValueException",
        "Message": "The role defined for the function cannot be assumed by Lambda.",
    }
}


def context(**settings: Any) -> ApplyContext:
    """An AWS apply context whose waits are short; `after_iam` makes no AWS call of its own."""
    return ApplyContext(
        cast(AwsClient, None),
        "shop",
        "dev",
        Arns("aws", "eu-west-1", "123456789012"),
        AwsSettings.model_validate({"wait_delay_s": 0.01, **settings}),
    )


class Lambda:
    """CreateFunction, refused `refusals` times for the role, then answered."""

    def __init__(self, refusals: int, error: dict[str, Any] = NOT_ASSUMABLE) -> None:
        self.refusals, self.error, self.calls = refusals, error, 0

    def create_function(self) -> str:
        self.calls += 1
        if self.calls <= self.refusals:
            raise ClientError(self.error, "CreateFunction")
        return "created"


def test_a_role_iam_has_not_made_usable_yet_is_waited_for_saying_so() -> None:
    ctx, seen = context(iam_propagation_attempts=10), list[str]()
    ctx.progress = seen.append
    aws = Lambda(refusals=2)
    assert ctx.after_iam(aws.create_function, "creating function shop-dev-fulfil") == "created"
    assert aws.calls == 3
    assert len(seen) == 2 and all(
        "waiting for IAM to make the new role usable: creating function shop-dev-fulfil refused" in m for m in seen
    )


def test_a_role_that_never_becomes_usable_fails_naming_the_setting() -> None:
    ctx = context(iam_propagation_attempts=3)  # 0.01 s + 0.02 s of backed-off attempts
    with pytest.raises(RuntimeError) as info:
        ctx.after_iam(Lambda(refusals=10_000).create_function, "creating function shop-dev-fulfil")
    message = str(info.value)
    assert "creating function shop-dev-fulfil was still refused" in message
    assert "cannot be assumed by Lambda" in message and "raise `iam_propagation_attempts`" in message


def test_any_other_refusal_is_raised_at_once() -> None:
    other = {"Error": {"Code": "InvalidParameterValueException", "Message": "Unsupported runtime python2.7"}}
    aws = Lambda(refusals=1, error=other)
    with pytest.raises(ClientError, match="Unsupported runtime"):
        context(iam_propagation_attempts=10).after_iam(aws.create_function, "creating function shop-dev-fulfil")
    assert aws.calls == 1
