"""Lambda's tenant isolation behind an API Gateway REST API: the one HTTP front that can pass a tenant id.

A function declared `tenant_isolation=True` runs with Lambda's TenancyConfig PER_TENANT, and Lambda then
refuses every invocation that names no tenant. A Function URL and an HTTP API cannot name one; a REST API
can, by mapping a request value onto the integration request header `X-Amz-Tenant-Id`
(https://docs.aws.amazon.com/lambda/latest/dg/tenant-isolation-invoke.html, read 2026-12-06; the mapping
expressions: https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-parameter-mapping.html and
https://docs.aws.amazon.com/apigateway/latest/developerguide/request-response-data-mappings.html; the
validator: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html).
So an HTTP function with `tenant_isolation=True` and `tenant=tenant_from(header="X-Tenant-Id")` gets, instead
of a Function URL or an HTTP API route:

    RestApi             `<app>-<stage>-tenants`, one per app and stage, tagged; a resource per path segment
                        (`{id}` and `{rest+}` as API Gateway spells them), per function its method with
                        `method.request.header.<H>` required and checked by the API's request validator
                        (`VALIDATOR`: a request without the header is answered 400 rather than invoking
                        Lambda with no tenant), and an AWS_PROXY integration whose
                        requestParameters map `integration.request.header.X-Amz-Tenant-Id` from it; a
                        deployment and a stage named after the app's stage
    RestApiPermission   lambda:InvokeFunction for that API on the function's method and path

With `[tool.portable-fn.cors]`, each resource carrying a tenant method also gets an OPTIONS method (`Preflight`):
no required header, no authorization, a MOCK integration answering 200 as the console's "Enable CORS" does
(https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors-console.html, read 2026-12-06), with
the headers the HTTP API's CorsConfiguration would send, from the same `edge.document`. What is fixed is a
static response parameter; what depends on the request is set by the integration response's template through
`$context.responseOverride.header`
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html,
read 2026-12-06): the request's Origin echoed when it is one of the listed origins (so several origins work, as
on the HTTP API, where a static value could name only one), and the requested method and headers when
`allow_methods` / `allow_headers` are "*". The template's first line holds the policy, which `read` takes back
and checks against what it would write. The functions' own answers carry Access-Control-Allow-Origin from the
runtime (`PORTABLE_FN_CORS`, payload 1.0 events included). API Gateway's own refusals (the validator's 400, IAM's
403, throttling's 429, a failed integration's 5xx) carry it through the API's gateway responses DEFAULT_4XX and
DEFAULT_5XX (`refusals`; the gateway responses:
https://docs.aws.amazon.com/apigateway/latest/developerguide/customize-gateway-responses.html, for CORS:
https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-cors-console.html, read 2026-12-07), which
keep API Gateway's status and `{"message": ...}` body. A gateway response's header is a static or a request value,
never a choice, so it names "*" or the policy's one origin; with several origins the refusals carry none, and
`plan` says a browser reports them as CORS errors (`refusal_note`).

`check` refuses what cannot work (`refusal`): tenant isolation on an event trigger (no trigger deploy makes
passes a tenant id), on an HTTP function whose tenant is not a header (a claim would need a Lambda or Cognito
authorizer to become a mapping source) or that declares none, and on an OPTIONS route when CORS answers
preflights there. The shim sets `ctx.tenant` from the Lambda context's
`tenant_id` and reads the REST API's payload 1.0 events, stage and path parameters included
(`portable_fn_aws.http_events`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portable_fn.deploy import RemoteState, Resource
from portable_fn.deploy.tags import user_tags
from portable_fn.runtime.routes import path_shape
from portable_fn.runtime.triggers import Http

from . import edge
from .appliers import Applier, Permissions
from .client import AwsClient
from .naming import STATEMENT_PREFIX, TAG_RECORD, Arns, Names, fit, has_tags
from .resources import Permission, RestApi, RestApiPermission

if TYPE_CHECKING:
    from portable_fn.app import App
    from portable_fn.runtime.function import FunctionOptions, FunctionSpec

TENANT_HEADER = "X-Amz-Tenant-Id"  # what Lambda reads the tenant of an invocation from
INTEGRATION_PARAMETER = f"integration.request.header.{TENANT_HEADER}"
METHOD_HEADER = "method.request.header."
STATEMENT = f"{STATEMENT_PREFIX}tenants"  # Sid of the statement letting the REST API invoke a function
MAX_NAME = 128
VALIDATOR = "portable-fn-tenant-header"  # the request validator checking each method's required header
Route = tuple[str, str, str, str, str]  # method, path, tenant header, authorization type, function ARN
PREFLIGHT = "OPTIONS"
PREFLIGHT_STATUS = "200"  # what the console's "Enable CORS" answers a preflight with
PREFLIGHT_REQUEST = {"application/json": '{"statusCode": 200}'}  # a MOCK integration's status comes from it
JSON = "application/json"
RESPONSE_HEADER = "method.response.header."
POLICY_LINE = "## portable-fn cors "  # the template's first line: a VTL comment holding the policy it answers
DRIFTED = "(preflights changed outside portable-fn)"  # what `read` says of OPTIONS methods it would not write
REFUSALS = ("DEFAULT_4XX", "DEFAULT_5XX")  # the gateway responses every other 4XX and 5XX one falls back to
REFUSAL_HEADER = "gatewayresponse.header."
REFUSAL_BODY = {JSON: '{"message":$context.error.messageString}'}  # API Gateway's own body for its refusals
CHANGED = "(changed outside portable-fn)"  # what `read` says of a gateway response it would not write


def api_name(names: Names) -> str:
    """The app and stage's REST API (names need not be unique in API Gateway: its tags find it)."""
    return fit(f"{names.prefix}-tenants", MAX_NAME)


def isolated(options: FunctionOptions) -> bool:
    return bool(getattr(options, "tenant_isolation", False))


def tenant_header(options: FunctionOptions) -> str | None:
    """The request header the function's tenant comes from (`tenant_from(header=...)`), or None."""
    header = getattr(getattr(options, "tenant", None), "header", None)
    return header if isinstance(header, str) and header else None


def refusal(app: App) -> str | None:
    """Why the app's `tenant_isolation=True` cannot deploy on AWS (the first function it cannot), or None."""
    supported = (
        "Lambda's tenant isolation needs each invocation to carry a tenant id, which portable-fn passes only "
        "for an HTTP function whose tenant is a header (tenant=tenant_from(header='X-Tenant-Id')): it is "
        "fronted by an API Gateway REST API mapping that header onto X-Amz-Tenant-Id."
    )
    owner: dict[tuple[str, str], str] = {}
    for spec in app.functions:
        options = app.options(spec)
        if not isolated(options):
            continue
        said = f"Function {spec.name!r} on aws: tenant_isolation=True deploys Lambda's per-tenant isolation"
        if not isinstance(spec.trigger, Http):
            return (
                f"{said}, which needs every invocation to carry a tenant id, and its {spec.trigger.kind} trigger "
                f"cannot pass one (SQS, SNS, S3 and Scheduler name no tenant). {supported} Remove "
                "tenant_isolation=True: ctx.tenant and the per-tenant scoping of state, idempotency and rate "
                "limits work without it."
            )
        if tenant_header(options) is None and getattr(getattr(options, "tenant", None), "claim", None):
            return (
                f"{said}, and its tenant is a claim: API Gateway can map a request header onto X-Amz-Tenant-Id, "
                "but a token claim only through a Lambda or Cognito authorizer, which portable-fn does not deploy. "
                f'{supported} Read the tenant from a header (tenant=tenant_from(header="X-Tenant-Id")), or remove '
                "tenant_isolation=True."
            )
        if tenant_header(options) is None:
            return (
                f"{said}, and it declares no tenant, so no invocation of it would name one. {supported} Add "
                f'tenant=tenant_from(header="X-Tenant-Id") to its @function (callers then send that header), or '
                "remove tenant_isolation=True."
            )
        if spec.trigger.method == PREFLIGHT and getattr(app.config, "cors", None) is not None:
            return (
                f"{said}, and its route OPTIONS {spec.trigger.path} is the method the tenants' REST API answers CORS "
                "preflights with on that path ([tool.portable-fn.cors] is set). Declare another method for the "
                "function, or remove [tool.portable-fn.cors]."
            )
        route = (spec.trigger.method, spec.trigger.path)
        if route in owner:
            return (
                f"Functions {owner[route]!r} and {spec.name!r} on aws: both declare {' '.join(route)} with "
                "tenant_isolation=True, and the tenants' REST API sends a method and path to one function. "
                "Change one of the paths."
            )
        owner[route] = spec.name
    return None


def notes(app: App, stage: str) -> list[str]:
    """What `plan` says of each tenant-isolated HTTP function (where it is reached and what a caller sends), and
    what a browser reads of the REST API's own refusals (`refusal_note`)."""
    said = []
    cors = getattr(app.config, "cors", None)
    for spec in app.functions:
        header, trigger = tenant_header(app.options(spec)), spec.trigger
        if isolated(app.options(spec)) and isinstance(trigger, Http) and header:
            preflights = (
                f"CORS preflights (OPTIONS {trigger.path}) are answered there from [tool.portable-fn.cors]"
                if cors is not None
                else "CORS preflights are not answered there (no [tool.portable-fn.cors])"
            )
            said.append(
                f"Function {spec.name!r} (tenant_isolation=True) is reached only through the REST API "
                f"{api_name(Names(app.name, stage))!r} ({trigger.method} {trigger.path} on its stage {stage!r}), not a "
                f"Function URL or the HTTP API: each request sends {header}, which API Gateway passes to Lambda as "
                f"the tenant (a request without it is answered 400), and {preflights}."
            )
            allowed = [h.lower() for h in (cors.allow_headers if cors is not None else ["*"])]
            if "*" not in allowed and header.lower() not in allowed:
                said.append(
                    f"Function {spec.name!r}: a browser asks the preflight to allow the header {header}, which "
                    f"[tool.portable-fn.cors] allow_headers does not list, so it will not send the request. Add "
                    f'"{header}" to allow_headers.'
                )
    if said and cors is not None:
        said.append(refusal_note(api_name(Names(app.name, stage)), edge.document(cors)))
    return said


def refusal_note(api: str, cors: str) -> str:
    """Whether the REST API's own refusals carry the policy's origin (`refusals`), and what a browser sees if not."""
    refused = (
        f"The REST API {api!r} answers some requests itself, without invoking a function (400 for a request "
        "without the tenant header, 403 from IAM, 429 when throttled, 5xx when Lambda fails)"
    )
    if answered := refusals(cors):
        origin = json.loads(answered)[REFUSALS[0]]["Access-Control-Allow-Origin"]
        return (
            f"{refused}: its gateway responses {' and '.join(REFUSALS)} add Access-Control-Allow-Origin: {origin}, "
            "so a browser's script reads their status and message."
        )
    origins = edge.parameters(cors).get("AllowOrigins", [])
    return (
        f"{refused}: those answers carry no Access-Control-Allow-Origin, because a gateway response names one "
        f"origin and [tool.portable-fn.cors] allow_origins lists {len(origins)} ({', '.join(origins)}), so a "
        "browser at any of them reports a CORS error instead of the status and message (the functions' own "
        "answers carry the header). List one origin in allow_origins to have them carry it."
    )


def source_route(trigger: Http, head: bool = False) -> str:
    """The part after the API id of the ARN the route invokes with: any stage, the method (`*` for ANY, and for a
    GET that also takes the path's HEAD: one statement for both), the path with each `{param}` as a glob."""
    method = "*" if trigger.method == "ANY" or head else trigger.method
    return f"*/{method}{re.sub(r'[{][^}]*[}]', '*', trigger.path)}"


def with_heads(routes: list[Route]) -> list[Route]:
    """`routes` and a HEAD beside each GET, to its function with its header and authorization: API Gateway answers
    a method a resource lacks itself (403 "Missing Authentication Token"), where `portable-fn dev` and every
    other front serve a HEAD with the GET's handler and no body. None where a route takes HEAD or ANY itself."""
    taken = {path_shape(path) for method, path, *_ in routes if method in ("HEAD", "ANY")}
    heads = [
        ("HEAD", path, header, authorization, function_arn)
        for method, path, header, authorization, function_arn in routes
        if method == "GET" and path_shape(path) not in taken
    ]
    return routes + heads


def takes_head(app: App, spec: FunctionSpec) -> bool:
    """Whether the REST API routes its path's HEAD to `spec`, a GET function (`with_heads`)."""
    if spec.trigger_as(Http).method != "GET":
        return False
    shape = path_shape(spec.trigger_as(Http).path)
    return not any(
        isinstance(other.trigger, Http)
        and other.trigger.method in ("HEAD", "ANY")
        and path_shape(other.trigger.path) == shape
        and isolated(app.options(other))
        for other in app.functions
    )


@dataclass(frozen=True)
class Preflight:
    """How each OPTIONS method answers a preflight under one CORS policy (an `edge.document`): the headers its
    method response declares, the static values its integration response maps onto them, and its template."""

    declared: dict[str, bool]
    static: dict[str, str]
    template: str

    @classmethod
    def of(cls, cors: str) -> Preflight:
        fields = edge.parameters(cors)
        origins, methods = fields.get("AllowOrigins", []), fields.get("AllowMethods", ["*"])
        headers = fields.get("AllowHeaders", ["*"])
        static: dict[str, str] = {}
        lines = [
            POLICY_LINE + cors,
            "#set($h = $input.params().header)",  # a header as sent: HTTP/2 clients send it lower-cased
        ]
        if "*" in origins:  # CorsConfig refuses "*" with credentials
            static["Access-Control-Allow-Origin"] = "*"
        else:
            static["Vary"] = "Origin"
            lines += [
                "#set($origin = \"$!h.get('Origin')$!h.get('origin')\")",
                f"#if({json.dumps(origins)}.contains($origin))",
                "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)",
                "#end",
            ]
        for header, asked, allowed in (
            ("Access-Control-Allow-Methods", "Access-Control-Request-Method", methods),
            ("Access-Control-Allow-Headers", "Access-Control-Request-Headers", headers),
        ):
            if "*" in allowed:  # what the preflight asks for, as the runtime's `cors.preflight` answers
                echoed = f"\"$!h.get('{asked}')$!h.get('{asked.lower()}')\""
                lines.append(f"#set($context.responseOverride.header.{header} = {echoed})")
            else:
                static[header] = ",".join(allowed)
        if "MaxAge" in fields:
            static["Access-Control-Max-Age"] = str(fields["MaxAge"])
        if fields.get("AllowCredentials"):
            static["Access-Control-Allow-Credentials"] = "true"
        names = {"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", *static}
        return cls(
            declared={RESPONSE_HEADER + name: False for name in sorted(names)},
            static={RESPONSE_HEADER + name: f"'{value}'" for name, value in sorted(static.items())},
            template="\n".join(lines) + "\n",
        )


def refusals(cors: str) -> str:
    """The headers API Gateway's own 4XX and 5XX answers carry under one CORS policy (an `edge.document`), by
    gateway response type, in canonical JSON; '' for none.

    A gateway response maps each header from a static value or a request value, with no condition between them
    (its template is not VTL: https://docs.aws.amazon.com/apigateway/latest/developerguide/customize-gateway-responses.html,
    the mapping sources:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.responseParameters.html,
    both read 2026-12-07). So it can name "*" or the policy's one origin; echoing the request's Origin would allow
    every origin, so with several origins the refusals carry no CORS header and `refusal_note` says what a browser
    sees. Their status and body stay API Gateway's (`REFUSAL_BODY`)."""
    fields = edge.parameters(cors)
    origins = fields.get("AllowOrigins", [])
    origin = "*" if "*" in origins else (origins[0] if len(origins) == 1 else "")
    if not origin:
        return ""
    headers = {"Access-Control-Allow-Origin": origin}
    if fields.get("AllowCredentials"):
        headers["Access-Control-Allow-Credentials"] = "true"
    if fields.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ",".join(fields["ExposeHeaders"])
    return canonical({kind: headers for kind in REFUSALS})


def refusal_parameters(headers: dict[str, str]) -> dict[str, str]:
    """A gateway response's `responseParameters` for `headers`: each a static (quoted) value."""
    return {REFUSAL_HEADER + name: f"'{value}'" for name, value in sorted(headers.items())}


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":")) if document else ""


def tree(routes: tuple[Route, ...]) -> list[tuple[str, str, str]]:
    """Every resource the routes' paths need below the root, parents first: (path, parent's path, path part)."""
    found: dict[str, tuple[str, str]] = {}
    for _, path, *_ in routes:
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            walked = parent.rstrip("/") + "/" + part
            found[walked] = (parent, part)
            parent = walked
    return [(path, *found[path]) for path in sorted(found, key=lambda p: (p.count("/"), p))]


def invoke_path(function_arn: str) -> str:
    """What follows `arn:<partition>:apigateway:<region>:` in the URI of a Lambda proxy integration."""
    return f"lambda:path/2015-03-31/functions/{function_arn}/invocations"


def preflight_paths(routes: tuple[Route, ...]) -> list[str]:
    """The paths whose resources get an OPTIONS method: each one a tenant method is on."""
    return sorted({path for _, path, *_ in routes})


# -- desired ------------------------------------------------------------------------------------------


def permission(app: App, names: Names, spec: FunctionSpec) -> RestApiPermission:
    """What an isolated HTTP function brings in place of its Function URL or HTTP API route."""
    function = names.function(spec.name)
    assert isinstance(spec.trigger, Http)
    return RestApiPermission(
        f"{function}/{STATEMENT}",
        function=function,
        statement_id=STATEMENT,
        api=api_name(names),
        source_route=source_route(spec.trigger, takes_head(app, spec)),
    )


def resources(app: App, stage: str, names: Names, arns: Arns) -> list[Resource]:
    """The REST API of the app's tenant-isolated HTTP functions, when it has any."""
    routes: list[Route] = []
    for spec in app.functions:
        options, trigger = app.options(spec), spec.trigger
        header = tenant_header(options)
        if isolated(options) and isinstance(trigger, Http) and header:
            authorization = "NONE" if trigger.open_at_edge else "AWS_IAM"
            function_arn = arns.function(names.function(spec.name))
            routes.append((trigger.method, trigger.path, header, authorization, function_arn))
    if not routes:
        return []
    cors = edge.document(getattr(app.config, "cors", None))
    return [
        RestApi(
            api_name(names),
            stage=stage,
            routes=tuple(sorted(with_heads(routes))),
            cors=cors,
            gateway_responses=refusals(cors),
        )
    ]


# -- remote -------------------------------------------------------------------------------------------


def read(aws: AwsClient, names: Names, api_names: dict[str, str]) -> list[Resource]:
    """The app and stage's REST API (found by name and tags) as deploy made it; adds its id to `api_names`."""
    found: list[Resource] = []
    client, name = aws.apigateway, api_name(names)
    for api in aws.pages(client, "get_rest_apis", "items"):
        if api.get("name") == name and has_tags(api.get("tags") or {}, names.app, names.stage):
            api_names[api["id"]] = name
            found.append(read_api(aws, api))
    return found


def read_api(aws: AwsClient, api: dict[str, Any]) -> RestApi:
    client, api_id = aws.apigateway, api["id"]
    routes: list[Route] = []
    preflights: dict[str, str] = {}  # path -> the policy its OPTIONS method answers
    for item in aws.pages(client, "get_resources", "items", restApiId=api_id):
        for method in sorted(item.get("resourceMethods") or {}):
            found = client.get_method(restApiId=api_id, resourceId=item["id"], httpMethod=method)
            if method == PREFLIGHT and (found.get("methodIntegration") or {}).get("type") == "MOCK":
                preflights[item["path"]] = preflight_from(found)
            else:
                routes.append(route_from(item["path"], found))
    stages = client.get_stages(restApiId=api_id).get("item", [])
    stage = next((s["stageName"] for s in stages if s.get("deploymentId")), "")
    return RestApi(
        api["name"],
        stage=stage,
        routes=tuple(sorted(routes)),
        cors=cors_of(tuple(routes), preflights),
        gateway_responses=refusals_from(aws.pages(client, "get_gateway_responses", "items", restApiId=api_id)),
        api_id=api_id,
        endpoint=f"https://{api_id}.execute-api.{aws.region}.amazonaws.com/{stage}" if stage else "",
        tags=user_tags(api.get("tags"), TAG_RECORD),
    )


def route_from(path: str, method: dict[str, Any]) -> Route:
    """A method as deploy made it; a header it does not require, or does not map, reads as '' (so it is redone)."""
    integration = method.get("methodIntegration") or {}
    mapped = str((integration.get("requestParameters") or {}).get(INTEGRATION_PARAMETER, ""))
    header = mapped.removeprefix(METHOD_HEADER) if mapped.startswith(METHOD_HEADER) else ""
    if not (method.get("requestParameters") or {}).get(METHOD_HEADER + header) or not method.get("requestValidatorId"):
        header = ""
    uri = str(integration.get("uri", ""))
    function_arn = uri.split("/functions/", 1)[1].removesuffix("/invocations") if "/functions/" in uri else uri
    return (method["httpMethod"], path, header, str(method.get("authorizationType", "")), function_arn)


def preflight_from(method: dict[str, Any]) -> str:
    """The policy an OPTIONS method answers (its template's first line), or `DRIFTED` when the method, its
    responses or its template are not what deploy writes for that policy."""
    integration = method.get("methodIntegration") or {}
    answer = (integration.get("integrationResponses") or {}).get(PREFLIGHT_STATUS) or {}
    template = str((answer.get("responseTemplates") or {}).get(JSON) or "")
    first = template.split("\n", 1)[0]
    cors = first.removeprefix(POLICY_LINE) if first.startswith(POLICY_LINE) else ""
    expected = Preflight.of(cors) if cors else None
    declared = ((method.get("methodResponses") or {}).get(PREFLIGHT_STATUS) or {}).get("responseParameters") or {}
    written = expected is not None and (
        method.get("authorizationType") == "NONE"
        and not method.get("requestParameters")
        and integration.get("requestTemplates") == PREFLIGHT_REQUEST
        and declared == expected.declared
        and (answer.get("responseParameters") or {}) == expected.static
        and template == expected.template
    )
    return cors if written else DRIFTED


def refusals_from(items: Iterable[dict[str, Any]]) -> str:
    """The gateway responses of `REFUSALS` the API has customized (API Gateway also lists its defaults, marked
    `defaultResponse`), in the spelling of `refusals`; one that is not what deploy writes reads as `CHANGED`."""
    found: dict[str, Any] = {}
    for item in items:
        if item.get("responseType") in REFUSALS and not item.get("defaultResponse"):
            parameters = item.get("responseParameters") or {}
            headers = {
                name.removeprefix(REFUSAL_HEADER): value[1:-1]
                for name, value in parameters.items()
                if name.startswith(REFUSAL_HEADER) and len(value) > 1 and value[0] == value[-1] == "'"
            }
            written = (
                refusal_parameters(headers) == parameters
                and not item.get("statusCode")
                and item.get("responseTemplates") == REFUSAL_BODY
            )
            found[item["responseType"]] = headers if written else CHANGED
    return canonical(found)


def cors_of(routes: tuple[Route, ...], preflights: dict[str, str]) -> str:
    """The policy the API's preflights answer: '' with none, the one policy every route's path answers, or
    `DRIFTED` (an OPTIONS method missing, on a path with no route, or answering another policy)."""
    if not preflights:
        return ""
    answered = {preflights.get(path, DRIFTED) for path in preflight_paths(routes)}
    if len(answered) != 1 or set(preflights) != set(preflight_paths(routes)):
        return DRIFTED
    return answered.pop()


def permission_from(function: str, statement: dict[str, Any], api_names: dict[str, str]) -> RestApiPermission:
    """The REST API's statement; one naming an API that is not the app's reads as naming none (so it is redone)."""
    source_arn = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn", "")
    api_id, _, route = source_arn.rsplit(":", 1)[-1].partition("/")
    return RestApiPermission(
        f"{function}/{statement['Sid']}",
        function=function,
        statement_id=statement["Sid"],
        api=api_names.get(api_id, ""),
        source_route=route,
    )


def url(remote: RemoteState, names: Names, spec: FunctionSpec) -> dict[str, Any]:
    """The function's URL on the REST API (its path as declared), or {} when it has none."""
    api = remote.get((RestApi.kind, api_name(names)))
    trigger = spec.trigger
    if not isinstance(api, RestApi) or not isinstance(trigger, Http) or not api.endpoint:
        return {}
    for method, path, header, authorization, _ in api.routes:
        if (method, path) == (trigger.method, trigger.path):
            return {"url": f"{api.endpoint}{path}", "auth": authorization, "tenant_header": header}
    return {}


# -- appliers -----------------------------------------------------------------------------------------


class RestApis(Applier[RestApi]):
    """Made whole on create; a change of routes, CORS or stage rebuilds every resource and method under the same
    API (so its URL stays) and deploys the stage again; a change of the gateway responses alone puts them and
    deploys the stage again (a gateway response takes effect with the next deployment:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-gateway-response-using-the-console.html,
    read 2026-12-07). Each change makes one deployment: API Gateway takes one CreateDeployment per account every
    5 seconds (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html, read 2026-12-07)."""

    def create(self, resource: RestApi) -> None:
        made = self.aws.apigateway.create_rest_api(
            name=resource.name,
            description="Created by portable-fn deploy: tenant-isolated functions",
            endpointConfiguration={"types": ["REGIONAL"]},
            tags=self.ctx.tags_for(resource),
        )
        self.ctx.api_ids[resource.name] = made["id"]
        self.build(resource, made["id"])

    def update(self, resource: RestApi, previous: RestApi, changes: tuple[str, ...]) -> None:
        client, api_id = self.aws.apigateway, previous.api_id
        self.ctx.api_ids[resource.name] = api_id
        arn = f"arn:{self.ctx.arns.partition}:apigateway:{self.ctx.arns.region}::/restapis/{api_id}"
        changes = self.retag(
            resource,
            previous,
            changes,
            lambda tags: client.tag_resource(resourceArn=arn, tags=tags),
            lambda keys: client.untag_resource(resourceArn=arn, tagKeys=keys),
        )
        if changes == ("gateway_responses",):
            self.answer_refusals(api_id, resource.gateway_responses, previous.gateway_responses)
            self.deploy(resource, api_id, previous.stage)
        elif changes:
            self.clear(api_id)
            self.build(resource, api_id, previous)

    def clear(self, api_id: str) -> None:
        """Every resource but the root (deepest first) and every method of the root."""
        client = self.aws.apigateway
        items = list(self.aws.pages(client, "get_resources", "items", restApiId=api_id))
        for item in sorted(items, key=lambda i: -len(i["path"])):
            resource_id: str = item["id"]
            if item["path"] == "/":
                for method in item.get("resourceMethods") or {}:
                    client.delete_method(restApiId=api_id, resourceId=resource_id, httpMethod=method)
            else:  # a parent deleted first takes its children with it: tolerated
                delete = functools.partial(client.delete_resource, restApiId=api_id, resourceId=resource_id)
                self.tolerate_missing(delete)

    def build(self, resource: RestApi, api_id: str, previous: RestApi | None = None) -> None:
        client = self.aws.apigateway
        ids = {i["path"]: i["id"] for i in self.aws.pages(client, "get_resources", "items", restApiId=api_id)}
        validator = self.validator(api_id)
        for method, path, header, authorization, function_arn in resource.routes:
            resource_id = self.path_id(api_id, path, ids)
            client.put_method(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=method,
                authorizationType=authorization,
                requestParameters={METHOD_HEADER + header: True},
                requestValidatorId=validator,
            )
            client.put_integration(
                restApiId=api_id,
                resourceId=resource_id,
                httpMethod=method,
                type="AWS_PROXY",
                integrationHttpMethod="POST",
                uri=self.invoke_uri(function_arn),
                requestParameters={INTEGRATION_PARAMETER: METHOD_HEADER + header},
            )
        if resource.cors:
            self.preflights(resource, api_id, ids)
        found = previous.gateway_responses if previous else ""
        self.answer_refusals(api_id, resource.gateway_responses, found)
        self.deploy(resource, api_id, previous.stage if previous else "")

    def deploy(self, resource: RestApi, api_id: str, previous_stage: str) -> None:
        """A deployment of the API as it now is, on the stage (made, or moved from `previous_stage`)."""
        client = self.aws.apigateway
        deployment = client.create_deployment(restApiId=api_id, description="portable-fn deploy")["id"]
        if previous_stage == resource.stage:
            client.update_stage(
                restApiId=api_id,
                stageName=resource.stage,
                patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment}],
            )
            return
        if previous_stage:
            self.tolerate_missing(lambda: client.delete_stage(restApiId=api_id, stageName=previous_stage))
        client.create_stage(
            restApiId=api_id, stageName=resource.stage, deploymentId=deployment, tags=self.ctx.tags_for(resource)
        )

    def preflights(self, resource: RestApi, api_id: str, ids: dict[str, str]) -> None:
        """An OPTIONS method answering CORS preflights on each path a route is on (`Preflight`)."""
        client, answer = self.aws.apigateway, Preflight.of(resource.cors)
        for path in preflight_paths(resource.routes):
            where = {"restApiId": api_id, "resourceId": self.path_id(api_id, path, ids), "httpMethod": PREFLIGHT}
            client.put_method(**where, authorizationType="NONE")
            client.put_method_response(**where, statusCode=PREFLIGHT_STATUS, responseParameters=answer.declared)
            client.put_integration(**where, type="MOCK", requestTemplates=PREFLIGHT_REQUEST)
            client.put_integration_response(
                **where,
                statusCode=PREFLIGHT_STATUS,
                responseParameters=answer.static,
                responseTemplates={JSON: answer.template},
            )

    def answer_refusals(self, api_id: str, wanted: str, found: str) -> None:
        """Put each gateway response `wanted` (`refusals`) that `found` does not hold as it is; delete the ones
        found that are not wanted (API Gateway's own answer comes back)."""
        client = self.aws.apigateway
        want, had = (dict(json.loads(text)) if text else {} for text in (wanted, found))
        for kind, headers in want.items():
            if had.get(kind) != headers:
                client.put_gateway_response(
                    restApiId=api_id,
                    responseType=kind,
                    responseParameters=refusal_parameters(headers),
                    responseTemplates=REFUSAL_BODY,
                )
        for kind in sorted(had.keys() - want.keys()):
            delete = functools.partial(client.delete_gateway_response, restApiId=api_id, responseType=kind)
            self.tolerate_missing(delete)

    def validator(self, api_id: str) -> str:
        """The id of the API's request validator checking request parameters (`VALIDATOR`), made when missing."""
        client = self.aws.apigateway
        for found in client.get_request_validators(restApiId=api_id).get("items", []):
            if found.get("name") == VALIDATOR and found.get("validateRequestParameters"):
                return str(found["id"])
        made = client.create_request_validator(
            restApiId=api_id, name=VALIDATOR, validateRequestBody=False, validateRequestParameters=True
        )
        return str(made["id"])

    def path_id(self, api_id: str, path: str, ids: dict[str, str]) -> str:
        """The id of the resource at `path`, making it and its missing parents (`ids`: path -> id, updated)."""
        parent = ids["/"]
        walked = ""
        for part in [p for p in path.split("/") if p]:
            walked += "/" + part
            if walked not in ids:
                made = self.aws.apigateway.create_resource(restApiId=api_id, parentId=parent, pathPart=part)
                ids[walked] = made["id"]
            parent = ids[walked]
        return parent

    def invoke_uri(self, function_arn: str) -> str:
        arns = self.ctx.arns
        return f"arn:{arns.partition}:apigateway:{arns.region}:{invoke_path(function_arn)}"

    def delete(self, resource: RestApi) -> None:
        self.tolerate_missing(lambda: self.aws.apigateway.delete_rest_api(restApiId=resource.api_id))
        self.ctx.api_ids.pop(resource.name, None)


class RestApiPermissions(Applier[RestApiPermission]):
    """The statement letting the REST API invoke a function; its source ARN is made with the API's id."""

    def create(self, resource: RestApiPermission) -> None:
        source_arn = self.ctx.arns.execute_api(self.api_id(resource.api), resource.source_route)
        Permissions(self.ctx).create(
            Permission(
                resource.name,
                function=resource.function,
                statement_id=resource.statement_id,
                principal="apigateway.amazonaws.com",
                source_arn=source_arn,
            )
        )

    def api_id(self, name: str) -> str:
        """The REST API's id: made earlier in this run, or found by its name and tags."""
        if name not in self.ctx.api_ids:
            for api in self.aws.pages(self.aws.apigateway, "get_rest_apis", "items"):
                if api.get("name") == name and (api.get("tags") or {}).items() >= self.ctx.tags.items():
                    self.ctx.api_ids[name] = api["id"]
        if name not in self.ctx.api_ids:
            raise RuntimeError(
                f"the REST API {name!r} tagged with this app and stage was not found, so the permission letting it "
                "invoke the function cannot name it. Deploy makes the API before its permissions: run portable-fn "
                "plan to see whether it is missing, then portable-fn deploy again."
            )
        return self.ctx.api_ids[name]

    def update(self, resource: RestApiPermission, previous: RestApiPermission, changes: tuple[str, ...]) -> None:
        self.replace(resource, previous)

    def delete(self, resource: RestApiPermission) -> None:
        lambda_ = self.aws.lambda_
        self.tolerate_missing(
            lambda: lambda_.remove_permission(FunctionName=resource.function, StatementId=resource.statement_id)
        )


APPLIERS: dict[type[Resource], type[Applier[Any]]] = {RestApi: RestApis, RestApiPermission: RestApiPermissions}
