"""AWS as Lambda drives a function: each logical event built into the native event Lambda hands the function
(for the triggers our deploy creates) and run through the zip's entry, `portable_fn_aws.shim.make_handler`.

| logical event | what deploy creates (providers/aws/portable_fn_aws/deploy/desired.py) | the native event      |
|---------------|-----------------------------------------------------------------------|-----------------------|
| queue         | an SQS queue and an event source mapping (ReportBatchItemFailures)   | an SQS batch          |
| topic         | an SNS topic with a `lambda` subscription (SNS invokes the function) | one SNS record        |
| storage       | an S3 bucket notification (ObjectCreated:* / ObjectRemoved:*)        | one S3 record         |
| schedule      | an EventBridge Scheduler schedule with no `Input`                    | its Scheduled Event   |
| HTTP          | a Function URL per function (the default `http = "function-url"`)    | payload 2.0           |
| HTTP (paths   | `http = "http-api"`: the app's HTTP API, a route `METHOD /path` per  | payload 2.0 with the  |
| "http-api",   | function (AWS_IAM unless public) on stage `$default`, plus `ANY      | routeKey, the IAM     |
| "http-api-    | /path` and `$default` routes for what no function declared; the      | caller and path-      |
| stage")       | second is that API through a named stage (`prod`), as a stage added  | Parameters            |
|               | by hand or a custom domain's base path puts it in front of `rawPath` |                       |

Shapes follow tests/data/aws/events (from the official projects); an HTTP API request starts from
apiGatewayProxyV2IamEvent.json, the event of a route whose authorization is AWS_IAM. A request no declared
route takes goes through the refusal route API Gateway selects among those deploy makes
(`desired.refusal_keys`: `ANY /path` for a declared path, else `$default`) to the function deploy names,
whose handler comes from the generated entry module with the app's route table and the environment deploy
sets (`PORTABLE_FN_HTTP_FRONT`), as in the zip: it answers 405 with `Allow` or 404, as dev does. An HTTP API hands the
function the path percent-decoded, in `rawPath` and `requestContext.http.path` alike (Function URLs and
REST APIs keep it encoded), as live captures show (hotsock/voker#8, cited by middleapi/standard-server#93).

Dead letters go where Lambda would send them: the shim writes them to the function's dead-letter queue,
here a real SQS queue of a moto server on 127.0.0.1, read back after each delivery.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, quote_plus, unquote

import boto3
import pytest
from portable_fn_aws.dead_letter import QUEUE_URL_ENV
from portable_fn_aws.deploy.desired import Target, refusal_keys
from portable_fn_aws.deploy.naming import DEFAULT_ROUTE, Arns, Names
from portable_fn_aws.http_routes import FRONT_ENV, HTTP_API
from portable_fn_aws.packaging import entry_module
from portable_fn_aws.records import sqs_to_cloudevent
from portable_fn_aws.shim import make_handler

from portable_fn.app import App
from portable_fn.emulators import Emulator
from portable_fn.runtime.dead_letters import dead_letter_info
from portable_fn.runtime.routes import Route, Router

from .delivery import CannotCarry, Delivery
from .events import SENT, HttpCall, LogicalEvent, Message, ObjectChange, QueueDelivery, Tick, TopicDelivery

REGION, ACCOUNT, STAGE = "eu-west-1", "123456789012", "dev"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
AMZ_ID_2 = "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo="  # s3Event.json's
EVENTS = Path(__file__).resolve().parents[2] / "data" / "aws" / "events"
API_ID = "a1b2c3d4e5"
HTTP_API_STAGES = {"http-api": "$default", "http-api-stage": "prod"}  # delivery path -> the stage it goes through
MOTO_SERVER = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "{port}"]


@contextlib.contextmanager
def open_runner(app: App, seen: list[dict[str, Any]], tmp: pytest.TempPathFactory) -> Iterator[AwsRunner]:
    with pytest.MonkeyPatch.context() as env:  # every variable set here is restored on the way out
        for name, value in CREDENTIALS.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", QUEUE_URL_ENV):
            env.delenv(name, raising=False)
        env.setenv("AWS_CONFIG_FILE", str(tmp.mktemp("aws") / "config"))
        with Emulator(
            MOTO_SERVER, "http://127.0.0.1:{port}/moto-api/data.json", tmp.mktemp("moto"), "moto-server"
        ) as moto:
            env.setenv("AWS_ENDPOINT_URL_SQS", moto.url)  # the shim's dead-letter sender goes to moto
            yield AwsRunner(app, seen, boto3.client("sqs", endpoint_url=moto.url, region_name=REGION), env)


class _HttpApiTarget:
    """What `refusal_keys` reads of a deploy target (the app, and that an HTTP API fronts it): the rest of a
    `Target` (names, ARNs, the built artifact) plays no part in which refusal routes deploy makes."""

    http = HTTP_API

    def __init__(self, app: App) -> None:
        self.app = app


class AwsRunner:
    name = "aws"

    def __init__(self, app: App, seen: list[dict[str, Any]], sqs: Any, env: pytest.MonkeyPatch) -> None:
        self.app = app
        self.seen = seen
        self.sqs = sqs
        self.env = env
        self.names = Names(app.name, STAGE)
        self.arns = Arns("aws", REGION, ACCOUNT)
        self.handlers = {spec.name: make_handler(spec) for spec in app.functions}  # portable_fn_entry.<name>
        self.api_handlers = self._entry_behind_http_api()
        self.refusals = refusal_keys(cast(Target, _HttpApiTarget(app)))
        self.dead_letter_queues = {
            spec.name: self._dead_letter_queue(spec) for spec in app.functions if spec.trigger.is_event
        }

    def paths(self, event: LogicalEvent) -> tuple[str, ...]:
        """An HTTP request also reaches the function through the app's HTTP API (`http = "http-api"`)."""
        return tuple(HTTP_API_STAGES) if isinstance(event, HttpCall) else ()

    def deliver(self, event: LogicalEvent, path: str = "") -> Delivery:
        self.seen.clear()
        if isinstance(event, HttpCall) and path in HTTP_API_STAGES:
            return self._http_api(event, HTTP_API_STAGES[path])
        if isinstance(event, QueueDelivery):
            return self._queue(event)
        if isinstance(event, TopicDelivery):
            return self._topic(event)
        if isinstance(event, ObjectChange):  # S3 and Scheduler retry a failed invocation: no outcome to compare
            self._invoke(event.function, {"Records": [self._s3_record(event)]})
            return Delivery(seen=list(self.seen))
        if isinstance(event, Tick):
            self._invoke(event.function, self._scheduled_event(event))
            return Delivery(seen=list(self.seen))
        return self._http(event)

    # -- queue: an SQS batch, answered with batchItemFailures -------------------------------------------

    def _queue(self, event: QueueDelivery) -> Delivery:
        queue_arn = self.arns.queue(self.names.queue(event.queue))
        records = [self._sqs_record(message, queue_arn) for message in event.messages]
        answer = self._invoke(event.function, {"Records": records})
        retried = {item["itemIdentifier"] for item in (answer or {}).get("batchItemFailures", [])}
        letters = {letter["id"]: letter for letter in self._letters(event.function)}
        outcomes = ["dead-letter" if m.id in letters else "retry" if m.id in retried else "ack" for m in event.messages]
        return Delivery(
            seen=list(self.seen), outcomes=outcomes, letters=[letters[m.id] for m in event.messages if m.id in letters]
        )

    def _sqs_record(self, message: Message, queue_arn: str) -> dict[str, Any]:
        """An SQS record as Lambda's event source mapping hands it over (sqsEvent.json)."""
        sent = _epoch_ms(message)
        attributes = dict(message.attributes)
        if message.content_type:
            attributes["content-type"] = message.content_type
        return {
            "messageId": message.id,
            "receiptHandle": f"AQEB{message.id.replace('-', '')}/{message.attempt}",
            "body": _text(message, "SQS"),
            "attributes": {
                "ApproximateReceiveCount": str(message.attempt),
                "SentTimestamp": str(sent),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(sent + 2),
            },
            "messageAttributes": {
                name: {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}
                for name, value in attributes.items()
            },
            "md5OfBody": hashlib.md5(message.body).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": REGION,
        }

    # -- topic: SNS invokes the function itself (a `lambda` subscription) ---------------------------------

    def _topic(self, event: TopicDelivery) -> Delivery:
        message = event.message
        if message.attempt > 1:
            raise CannotCarry("SNS tells a function no delivery count: every invocation reads as attempt 1")
        topic_arn = self.arns.topic(self.names.topic(event.topic))
        attributes = dict(message.attributes)
        if message.content_type:
            attributes["content-type"] = message.content_type
        record = {
            "EventVersion": "1.0",
            "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, topic_arn)}",
            "EventSource": "aws:sns",
            "Sns": {
                "SignatureVersion": "1",
                "Timestamp": _sent(message),
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa==",
                "SigningCertUrl": f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-0000.pem",
                "MessageId": message.id,
                "Message": _text(message, "SNS"),
                "MessageAttributes": {name: {"Type": "String", "Value": value} for name, value in attributes.items()},
                "Type": "Notification",
                "UnsubscribeUrl": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}",
                "TopicArn": topic_arn,
                "Subject": None,
            },
        }
        delivery = self._invoke_async(event.function, {"Records": [record]})
        letters = self._letters(event.function)
        delivery.outcomes = ["dead-letter" if letters else delivery.outcomes[0]]
        delivery.letters = letters
        return delivery

    # -- storage and schedule: invoked asynchronously by S3 / EventBridge Scheduler --------------------------

    def _s3_record(self, change: ObjectChange) -> dict[str, Any]:
        """An S3 notification record (s3Event.json, s3EventDeleteObject.json): the key URL-encoded as S3
        encodes it (space '+', '+' '%2B', other bytes of its UTF-8 percent-encoded); a delete carries
        neither size nor eTag."""
        bucket = self.names.bucket(change.bucket)
        obj: dict[str, Any] = {"key": quote_plus(change.key, safe="/")}
        if change.change == "created":
            obj.update(size=change.size, eTag=change.etag)
        obj["sequencer"] = "0066A1B2C3D4E5F601"
        return {
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": REGION,
            "eventTime": change.time,
            "eventName": "ObjectCreated:Put" if change.change == "created" else "ObjectRemoved:Delete",
            "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
            "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "D82B88E5F771F645", "x-amz-id-2": AMZ_ID_2},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": self.names.notification_id(change.function),
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                    "arn": self.arns.bucket(bucket),
                },
                "object": obj,
            },
        }

    def _scheduled_event(self, tick: Tick) -> dict[str, Any]:
        """What EventBridge Scheduler sends a Lambda target whose schedule has no `Input` (deploy sets none):
        its default notification (schedulerScheduledEvent.json)."""
        schedule = f"schedule/{self.names.schedule_group}/{self.names.schedule(tick.function)}"
        return {
            "version": "0",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, schedule + tick.time)),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT,
            "time": tick.time,
            "region": REGION,
            "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT}:{schedule}"],
            "detail": {},
        }

    def _invoke_async(self, function: str, native: dict[str, Any]) -> Delivery:
        """An asynchronous invocation: returning acknowledges it, a raise has Lambda retry it."""
        try:
            self._invoke(function, native)
        except Exception:
            return Delivery(seen=list(self.seen), outcomes=["retry"])
        return Delivery(seen=list(self.seen), outcomes=["ack"])

    # -- HTTP: the function's Function URL, payload 2.0 --------------------------------------------------

    def _http(self, call: HttpCall) -> Delivery:
        function = self._url_owner(call.path)
        return self._answered(self._invoke(function, self._function_url_event(call)))

    def _answered(self, answer: dict[str, Any]) -> Delivery:
        """The payload 2.0 response as the client gets it: the status, the body, the Set-Cookie headers."""
        body = base64.b64decode(answer["body"]) if answer.get("isBase64Encoded") else answer.get("body", "")
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body if isinstance(body, str) else body.decode("utf-8", "replace")
        cookies = list(answer.get("cookies", []))
        return Delivery(seen=list(self.seen), status=answer["statusCode"], json=parsed, set_cookies=cookies)

    def _url_owner(self, path: str) -> str:
        """Whose Function URL the client calls: the function whose route has the path; for a path no
        function declares, the first HTTP function's (each function has its own URL, which takes any path)."""
        http = [spec for spec in self.app.functions if spec.trigger.kind == "http"]
        for spec in http:
            if Router([Route("ANY", spec.trigger.path, spec)]).match("GET", _decoded_path(path)) is not None:
                return spec.name
        return http[0].name

    def _function_url_event(self, call: HttpCall) -> dict[str, Any]:
        """A Function URL request (lambdaFunctionUrlEvent.json): headers lower-cased, repeats comma-joined,
        cookies moved to `cookies`, the body base64 unless its type is text (as Function URLs decide)."""
        headers, cookies = _v2_headers(call)
        url_id = "abcdefghijklmnopqrstuvwxyz012345"
        host = f"{url_id}.lambda-url.{REGION}.on.aws"
        headers.update(
            {
                "host": host,
                "x-amzn-trace-id": "Root=1-62ecd163-5f302e550dcde3b12402207d",
                "x-forwarded-proto": "https",
                "x-forwarded-port": "443",
                "x-forwarded-for": "203.0.113.9",
                "user-agent": "python-http.client",
            }
        )
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": call.path,
            "rawQueryString": call.query,
            "headers": headers,
        }
        if cookies:
            event["cookies"] = cookies
        if call.query:
            event["queryStringParameters"] = _v2_query(call.query)
        event["requestContext"] = {
            "accountId": "anonymous",
            "apiId": url_id,
            "domainName": host,
            "domainPrefix": url_id,
            "http": {
                "method": call.method,
                "path": call.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "python-http.client",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/May/2026:10:00:00 +0000",
            "timeEpoch": _epoch_ms_of("2026-05-01T10:00:00.000Z"),
        }
        event.update(_v2_body(call, headers))
        return event

    # -- HTTP: the app's API Gateway HTTP API, payload 2.0 ------------------------------------------------

    def _http_api(self, call: HttpCall, stage: str) -> Delivery:
        """API Gateway picks the route: a declared one, else one of the routes deploy makes so that API
        Gateway never refuses on its own (`refusal_keys`: `ANY /path`, `$default`); with none, its own 404."""
        routed = self._api_route(call) or self._refusal_route(call)
        if routed is None:
            return Delivery(status=404, json={"message": "Not Found"})
        function, route_key, params = routed
        event = self._http_api_event(call, stage, route_key, params)
        return self._answered(self._invoke(function, event, self.api_handlers))

    def _refusal_route(self, call: HttpCall) -> tuple[str, str, dict[str, str]] | None:
        """(function, routeKey, {}) of the refusal route API Gateway selects for a request no declared route
        takes: `ANY /path` when its path fits, else `$default`."""
        segments = _decoded_path(call.path).strip("/").split("/")
        for key, spec in self.refusals.items():
            path = key.partition(" ")[2]
            if key != DEFAULT_ROUTE and _api_params(path.strip("/").split("/"), segments) is not None:
                return spec.name, key, {}
        default = self.refusals.get(DEFAULT_ROUTE)
        return (default.name, DEFAULT_ROUTE, {}) if default else None

    def _entry_behind_http_api(self) -> dict[str, Any]:
        """The handlers of the module Lambda imports (`portable_fn_entry`, with the app's route table), made
        with the environment deploy gives a function behind the HTTP API."""
        self.env.setenv(FRONT_ENV, HTTP_API)
        try:
            namespace: dict[str, Any] = {"__name__": "portable_fn_entry"}
            exec(compile(entry_module(self.app), "portable_fn_entry.py", "exec"), namespace)
        finally:
            self.env.delenv(FRONT_ENV)
        return {spec.name: namespace[spec.name] for spec in self.app.functions if spec.trigger.kind == "http"}

    def _api_route(self, call: HttpCall) -> tuple[str, str, dict[str, str]] | None:
        """(function, routeKey, pathParameters) of the route API Gateway selects: the routes deploy makes
        (`METHOD /path`, `ANY` for every method), one taking the method before an `ANY` one; path
        variables match one decoded segment."""
        segments = _decoded_path(call.path).strip("/").split("/")
        found = []
        for spec in self.app.functions:
            trigger = spec.trigger
            if trigger.kind != "http" or trigger.method not in (call.method, "ANY"):
                continue
            params = _api_params(trigger.path.strip("/").split("/"), segments)
            if params is not None:
                found.append((trigger.method == "ANY", spec.name, f"{trigger.method} {trigger.path}", params))
        return min(found, key=lambda route: route[0])[1:] if found else None

    def _http_api_event(self, call: HttpCall, stage: str, route_key: str, params: dict[str, str]) -> dict[str, Any]:
        """The request as the HTTP API hands it to the route's integration: apiGatewayProxyV2IamEvent.json
        with this request in it (the caller signed it: the route is AWS_IAM), the path decoded and, on a
        named stage, led by it."""
        event = json.loads((EVENTS / "apiGatewayProxyV2IamEvent.json").read_text(encoding="utf-8"))
        headers, cookies = _v2_headers(call)
        host = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
        headers.update(
            {
                "host": host,
                "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260501/eu-west-1/"
                "execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0f1e",
                "x-amz-date": "20260501T100000Z",
                "x-amzn-trace-id": "Root=1-62ecd163-5f302e550dcde3b12402207d",
                "x-forwarded-proto": "https",
                "x-forwarded-port": "443",
                "x-forwarded-for": "203.0.113.9",
                "user-agent": "python-http.client",
            }
        )
        if call.body:
            headers["content-length"] = str(len(call.body))
        path = _decoded_path(call.path) if stage == "$default" else f"/{stage}{_decoded_path(call.path)}"
        event.update(routeKey=route_key, rawPath=path, rawQueryString=call.query, headers=headers)
        for optional in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
            event.pop(optional, None)
        if cookies:
            event["cookies"] = cookies
        if call.query:
            event["queryStringParameters"] = _v2_query(call.query)
        if params:
            event["pathParameters"] = params
        context = event["requestContext"]
        context.update(
            routeKey=route_key,
            accountId=ACCOUNT,
            stage=stage,
            requestId="Ab1cDEfGhIjKLmN=",
            apiId=API_ID,
            domainName=host,
            domainPrefix=API_ID,
            time="01/May/2026:10:00:00 +0000",
            timeEpoch=_epoch_ms_of("2026-05-01T10:00:00.000Z"),
        )
        context["http"].update(method=call.method, path=path, sourceIp="203.0.113.9", userAgent="python-http.client")
        context["authorizer"]["iam"] = {
            "accessKey": "AKIAIOSFODNN7EXAMPLE",
            "accountId": ACCOUNT,
            "callerId": "AIDAJQABLZS4A3QDU576Q",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{ACCOUNT}:user/caller",
            "userId": "AIDAJQABLZS4A3QDU576Q",
        }
        event.update(_v2_body(call, headers))
        return event

    # -- Lambda and the dead-letter queues ----------------------------------------------------------------

    def _invoke(self, function: str, native: dict[str, Any], handlers: dict[str, Any] | None = None) -> Any:
        """The function's `lambda_handler` with Lambda's environment for it (its dead-letter queue's URL)."""
        url = self.dead_letter_queues.get(function)
        if url:
            self.env.setenv(QUEUE_URL_ENV, url)
        else:
            self.env.delenv(QUEUE_URL_ENV, raising=False)
        handler = (self.handlers if handlers is None else handlers)[function]
        return handler(native, LambdaContext(self.names.function(function)))

    def _dead_letter_queue(self, spec: Any) -> str:
        """The queue deploy makes the function's dead-letter queue, created on moto; its URL as deploy
        writes it into `PORTABLE_FN_DEAD_LETTER_QUEUE_URL` (SQS's own form)."""
        logical = f"{spec.trigger.name}-dlq" if spec.trigger.kind == "queue" else f"{spec.name}-dlq"
        name = self.names.queue(logical)
        self.sqs.create_queue(QueueName=name)
        return self.arns.queue_url(name)

    def _letters(self, function: str) -> list[dict[str, Any]]:
        """The dead letters the delivery wrote, read as a portable function on the queue would read them."""
        url = self.dead_letter_queues[function]
        queue_arn = self.arns.queue(url.rsplit("/", 1)[1])
        letters = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = messages.get("Messages", [])
            if not messages:
                return letters
            for m in messages:
                record = {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": REGION,
                    "messageAttributes": {
                        name: {"stringValue": value.get("StringValue"), "dataType": value["DataType"]}
                        for name, value in m.get("MessageAttributes", {}).items()
                    },
                }
                letter = sqs_to_cloudevent(record)
                letters.append({"id": letter.id, "data": letter.data, **dead_letter_info(letter)})
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


class LambdaContext:
    """The Lambda context object's attributes (awslambdaric's LambdaContext) for the deployed function."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = "128"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/05/01/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


def _text(message: Message, transport: str) -> str:
    """The message body as the transport carries it: Unicode text only."""
    try:
        return message.body.decode("utf-8")
    except UnicodeDecodeError:
        raise CannotCarry(
            f"an {transport} message body is Unicode text: bytes that are not UTF-8 cannot be sent as they are"
        ) from None


def _sent(message: Message) -> str:
    """When the message was sent (every logical message was sent at SENT)."""
    return SENT


def _epoch_ms(message: Message) -> int:
    return _epoch_ms_of(_sent(message))


def _epoch_ms_of(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def _decoded_path(path: str) -> str:
    return unquote(path)


def _api_params(route: list[str], segments: list[str]) -> dict[str, str] | None:
    """The path parameters when the decoded segments fit an HTTP API route template (`{name}` one
    segment, `{name+}` the rest), else None."""
    params: dict[str, str] = {}
    for i, part in enumerate(route):
        if part.startswith("{") and part.endswith("+}"):
            params[part[1:-2]] = "/".join(segments[i:])
            return params if i < len(segments) else None
        if i >= len(segments):
            return None
        if part.startswith("{") and part.endswith("}"):
            params[part[1:-1]] = segments[i]
        elif part != segments[i]:
            return None
    return params if len(route) == len(segments) else None


def _v2_headers(call: HttpCall) -> tuple[dict[str, str], list[str]]:
    """Payload 2.0 headers: names lower-cased, repeats comma-joined, the Cookie header moved to `cookies`."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in call.headers:
        if name.lower() == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
    return headers, cookies


def _v2_query(raw: str) -> dict[str, str]:
    """`queryStringParameters`: decoded, repeated names comma-joined (`rawQueryString` keeps them apart)."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    return query


def _v2_body(call: HttpCall, headers: dict[str, str]) -> dict[str, Any]:
    """`body` and `isBase64Encoded`: text when the content type is, else base64."""
    if not call.body:
        return {"isBase64Encoded": False}
    textual = headers.get("content-type", "").startswith(("text/", "application/json"))
    body = call.body.decode() if textual else base64.b64encode(call.body).decode("ascii")
    return {"body": body, "isBase64Encoded": not textual}
