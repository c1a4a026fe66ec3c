"""The built-in policy rules, each a `@rule` over a `PolicyContext`, written as a team's own rules are.

Each reads the app as declared (triggers, options, `[tool.portable-fn]`) and, where the provider is the
truth (who may call a function, what a role may do), the desired resources and their grants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

from ..deploy.grants import Grant
from ..deploy.models import Resource
from ..runtime.triggers import Http
from .model import Finding, PolicyContext, Rule, RuleSkipped, rule

TABLE = "tool.portable-fn"
RETRYING_TRIGGERS = ("queue", "topic", "storage")  # what the cloud redelivers when the function fails

# Desired resources that let anyone call a function: (kind, field, the value that means "anyone").
OPEN_TO_ANYONE = (
    ("function url", "auth_type", "NONE"),  # AWS: a Lambda Function URL without IAM auth
    ("http api route", "authorization_type", "NONE"),  # AWS: an HTTP API route without IAM auth
    ("lambda permission", "principal", "*"),  # AWS: a resource policy statement for everyone
    ("public invoker", "member", "allUsers"),  # GCP: allUsers holding roles/run.invoker
)

# Names that say "this is a secret" (API_KEY, DB_PASSWORD, GITHUB_TOKEN, CLIENT_SECRET, PASSWORD).
SECRET_NAME = re.compile(r"(?:^|_)(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD)\Z")

# Values that point at a secret store instead of holding the secret: the way each cloud injects one.
SECRET_REFERENCES = (
    re.compile(r"\Aarn:aws[a-z-]*:(?:secretsmanager|ssm):"),  # AWS Secrets Manager / SSM parameter ARN
    re.compile(r"\Aprojects/[^/]+/secrets/"),  # Google Secret Manager resource name
    re.compile(r"\A@Microsoft\.KeyVault\("),  # Azure Key Vault reference in app settings
    re.compile(r"\A\$\{[A-Za-z_][A-Za-z0-9_]*\}\Z"),  # ${NAME}: filled in by the CI's secret store
)

# Where a provider's region comes from when its settings leave it out (as the provider reads it).
REGION_ENV = {"aws": ("AWS_REGION", "AWS_DEFAULT_REGION"), "gcp": ("CLOUDSDK_FUNCTIONS_REGION",)}
REGION_KEYS = ("region", "location")  # aws and gcp say region, azure location

# Scopes that hold every resource of a kind: a grant there is as wide as `*` for what its role allows.
BROAD_SCOPES = (
    re.compile(r"/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?/?", re.IGNORECASE),  # Azure subscription, group
    re.compile(r"(?://cloudresourcemanager\.googleapis\.com/)?projects/[^/]+/?"),  # a Google Cloud project
)


@rule(
    "PFN001",
    "public-http",
    "An HTTP function is open to anyone only when it declares public=True (and the team allows it); one that "
    "declares auth= is reachable by anyone and lets through only the callers it verifies.",
    "Declare http(..., public=True) only on functions meant for anyone, list them in "
    "[tool.portable-fn.policy] public_functions, declare auth=jwt(...) or auth=api_key(...), or leave public "
    "out so callers need IAM or a key.",
)
def public_http(ctx: PolicyContext) -> Iterator[Finding]:
    allowed = ctx.policy.public_functions
    for spec in ctx.app.functions:
        if isinstance(spec.trigger, Http) and spec.trigger.public and allowed is not None and spec.name not in allowed:
            yield Finding(
                "",
                f"HTTP function {spec.name!r} is declared public=True but is not in the policy's public_functions.",
                spec.name,
                key=f"{TABLE}.policy.public_functions",
            )
    for name in sorted(_opened(ctx.desired or ())):
        spec = ctx.app.function(name)
        if not (isinstance(spec.trigger, Http) and spec.trigger.open_at_edge):
            yield Finding(
                "",
                f"{ctx.provider}'s resources let anyone call {name!r}, which declares neither public=True nor auth=.",
                name,
                fix="Report this to portable-fn: a function without public=True or auth= must need IAM or a key.",
            )


def _opened(desired: Sequence[Resource]) -> set[str]:
    """The app's functions some desired resource opens to anyone (`OPEN_TO_ANYONE`)."""
    names = _function_names(desired)
    opened = set()
    for resource in desired:
        for kind, attribute, anyone in OPEN_TO_ANYONE:
            if resource.kind == kind and getattr(resource, attribute, None) == anyone:
                opened |= {names[n] for n in _names_of(resource) if n in names}
    return opened


def _function_names(desired: Sequence[Resource]) -> dict[str, str]:
    """Cloud name -> the app's function name, from each function resource's PORTABLE_FN_FUNCTION."""
    out = {}
    for resource in desired:
        function = dict(getattr(resource, "env", ()) or ()).get("PORTABLE_FN_FUNCTION")
        if function:
            out[resource.name] = out[resource.name.rsplit("/", 1)[-1]] = function
    return out


def _names_of(resource: Resource) -> set[str]:
    """The names a resource may give its function by: its own, its last path segment, `function`,
    the last part of `function_arn`."""
    found = {resource.name, resource.name.rsplit("/", 1)[-1], str(getattr(resource, "function", ""))}
    return found | {str(getattr(resource, "function_arn", "")).rsplit(":", 1)[-1]}


@rule(
    "PFN002",
    "dead-letter",
    "Every retrying trigger (queue, topic, storage) has a dead-letter target.",
    "Leave dead_letter at its default (True) or name a queue or topic (dead_letter='failed-orders'); "
    "or set retries=0 when a failed event may be dropped.",
)
def dead_letter(ctx: PolicyContext) -> Iterator[Finding]:
    for spec in ctx.app.functions:
        options = ctx.app.options(spec)
        if spec.trigger.kind in RETRYING_TRIGGERS and options.max_attempts > 1 and options.dead_letter is False:
            yield Finding(
                "",
                f"{spec.trigger.kind} function {spec.name!r} is retried ({options.max_attempts} attempts) with "
                "dead_letter=False, so an event that keeps failing is lost.",
                spec.name,
            )


@rule(
    "PFN003",
    "no-secret-env",
    "No secret in env: no literal value under a secret's name (*_KEY, *_SECRET, *_TOKEN, *PASSWORD), and "
    "no value shaped like a credential.",
    "Keep the secret in the cloud's secret store and put its reference in env (a Secrets Manager ARN, "
    "projects/P/secrets/S, @Microsoft.KeyVault(...), or ${NAME} filled in by CI), then rotate the value "
    "that was written here.",
)
def no_secret_env(ctx: PolicyContext) -> Iterator[Finding]:
    config = ctx.app.config
    stage = config.stages.get(ctx.stage)
    sources: list[tuple[str | None, str, Mapping[str, str]]] = [(None, f"{TABLE}.defaults.env", config.defaults.env)]
    if stage is not None:
        sources.append((None, f"{TABLE}.stages.{ctx.stage}.env", stage.env))
    sources += [(spec.name, "", spec.options.env) for spec in ctx.app.functions]
    for function, key, env in sources:
        for name, value in sorted(env.items()):
            what = _secret(name, value)
            if what:
                where = f"[{key}]" if key else "@function env"
                yield Finding("", f"{where} {name} holds {what}.", function, key=key or None)


def _secret(name: str, value: str) -> str | None:
    """What makes `name = value` a secret in plain text, or None."""
    from ..packaging import CREDENTIAL_SHAPES

    shaped = next((what for what, test in CREDENTIAL_SHAPES if test(value)), None)
    if shaped:
        return shaped
    if SECRET_NAME.search(name.upper()) and value.strip() and not any(r.search(value) for r in SECRET_REFERENCES):
        return "a literal value under a secret's name"
    return None


@rule(
    "PFN004",
    "memory-bounds",
    "Each function's memory is within [tool.portable-fn.policy] memory_mb.",
    "Set memory_mb on the function (or [tool.portable-fn.defaults] memory_mb) within the bounds.",
)
def memory_bounds(ctx: PolicyContext) -> Iterator[Finding]:
    yield from _bounded(ctx, "memory_mb", "MB")


@rule(
    "PFN005",
    "timeout-bounds",
    "Each function's timeout is within [tool.portable-fn.policy] timeout_s.",
    "Set timeout_s on the function (or [tool.portable-fn.defaults] timeout_s) within the bounds.",
)
def timeout_bounds(ctx: PolicyContext) -> Iterator[Finding]:
    yield from _bounded(ctx, "timeout_s", "s")


def _bounded(ctx: PolicyContext, option: str, unit: str) -> Iterator[Finding]:
    """`option` of every function against the policy's bounds for it; unset is a finding, since the
    provider's default differs from cloud to cloud."""
    bounds = getattr(ctx.policy, option)
    if bounds is None:
        return
    for spec in ctx.app.functions:
        value = getattr(ctx.app.options(spec), option)
        if value is None:
            message = f"{spec.name!r} sets no {option}, so the provider's default applies, unchecked"
        elif not bounds.holds(value):
            message = f"{spec.name!r} has {option}={value:g} {unit}"
        else:
            continue
        yield Finding("", f"{message}; the policy allows {bounds.describe()} {unit}.", spec.name)


@rule(
    "PFN006",
    "required-tags",
    "The app's tags hold every key of [tool.portable-fn.policy] required_tags.",
    "Add the missing keys to [tool.portable-fn] tags (or the stage's tags), with a value each.",
)
def required_tags(ctx: PolicyContext) -> Iterator[Finding]:
    stage = ctx.app.config.stages.get(ctx.stage)
    tags = {**ctx.app.config.tags, **(getattr(stage, "tags", None) or {})}
    missing = [key for key in ctx.policy.required_tags if not str(tags.get(key, "")).strip()]
    if missing:
        yield Finding("", f"tags lack {', '.join(missing)} (stage {ctx.stage}).", key=f"{TABLE}.tags")


@rule(
    "PFN007",
    "allowed-regions",
    "The provider's region (location on Azure) is one of [tool.portable-fn.policy] allowed_regions.",
    "Set region (location on Azure) in [tool.portable-fn.<provider>] or the stage's table to an allowed one.",
)
def allowed_regions(ctx: PolicyContext) -> Iterator[Finding]:
    allowed = ctx.policy.allowed_regions
    if not allowed or ctx.provider == "local":
        return
    key = next((k for k in REGION_KEYS if ctx.settings.get(k)), REGION_KEYS[ctx.provider == "azure"])
    from_env = (ctx.environ[name] for name in REGION_ENV.get(ctx.provider, ()) if ctx.environ.get(name))
    region = ctx.settings.get(key) or next(from_env, None)
    where = f"{TABLE}.{ctx.provider}.{key}"
    if region is None:
        yield Finding("", f"{ctx.provider} has no {key} set, so it cannot be checked against {allowed}.", key=where)
    elif region not in allowed:
        yield Finding("", f"{ctx.provider} deploys to {key} {region!r}, not one of {allowed}.", key=where)


@rule(
    "PFN008",
    "python-version",
    "The app's Python version is one of [tool.portable-fn.policy] python.",
    "Set [tool.portable-fn] python to a supported version and test the app on it.",
)
def python_version(ctx: PolicyContext) -> Iterator[Finding]:
    supported, python = ctx.policy.python, ctx.app.config.python
    if supported and python not in supported:
        yield Finding("", f"the app runs on Python {python}; the policy supports {supported}.", key=f"{TABLE}.python")


@rule(
    "PFN009",
    "no-wildcard-grants",
    "No grant gives a wildcard action (*, sqs:*) or names no resource (*); a cloud's built-in role whose own "
    "definition holds wildcards only on one named resource, never a whole project, subscription or group.",
    "Declare exactly what each function uses (uses=[...]) so portable-fn grants those actions on those "
    "resources only; a grant portable-fn itself makes too wide is a bug to report.",
)
def no_wildcard_grants(ctx: PolicyContext) -> Iterator[Finding]:
    if ctx.grants is None:
        raise RuleSkipped(ctx.no_desired or "the desired resources, which hold the grants, were not given")
    for grant in ctx.grants:
        if _too_wide(grant):
            yield Finding("", f"{grant.describe()} is a wildcard grant.", grant.function)


def _too_wide(grant: Grant) -> bool:
    """A wildcard the deploy writes itself (an IAM statement), a grant on no resource, or a role whose
    definition holds wildcards granted on a whole project, subscription or resource group."""
    if grant.resource in ("", "*"):
        return True
    if grant.role is None:
        return bool(grant.wildcard_actions())
    return bool(grant.wildcard_actions()) and any(scope.fullmatch(grant.resource) for scope in BROAD_SCOPES)


BUILTIN_RULES: tuple[Rule, ...] = (
    public_http,
    dead_letter,
    no_secret_env,
    memory_bounds,
    timeout_bounds,
    required_tags,
    allowed_regions,
    python_version,
    no_wildcard_grants,
)
