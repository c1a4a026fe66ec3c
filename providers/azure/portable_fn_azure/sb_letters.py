"""`portable-fn dead-letters FUNCTION --provider azure --redrive` for a Service Bus function: its dead letters,
read from its Storage Queue (`names.dead_letter_queue`) like a Storage Queue function's poison queue
(`redrive.DeadLetters`), are sent back to its Service Bus queue or topic. Provider side, standard library
only: nothing offline serves Service Bus, so the send is one documented REST call, not the AMQP SDK.

What is relied on, as Microsoft documents it (facts, not copied text):
- https://learn.microsoft.com/rest/api/servicebus/send-message-to-queue ("Send Message"): `POST
  https://{namespace}.servicebus.windows.net/{queue or topic path}/messages`; headers `Authorization` (an
  Entra token as `Bearer <token>`, or a SAS token `SharedAccessSignature sr=...&sig=...&se=...&skn=...`),
  `Content-Type` (the payload's), `BrokerProperties` (the message's properties as JSON); the body is the
  payload; 201 when sent, 401 authorization, 403 quota or size, 410 no such queue or topic.
- https://learn.microsoft.com/azure/service-bus-messaging/service-bus-sas ("Service Bus access control with
  Shared Access Signatures"): the token signs `<URL-encoded resource URI>\\n<expiry in seconds since the
  epoch>` with HMAC-SHA256 under the rule's key, and carries the encoded URI (`sr`), the base64 signature
  URL-encoded (`sig`), the expiry (`se`) and the rule's name (`skn`). The key is used as the text the
  connection string holds (its UTF-8 bytes, as azure-servicebus's `generate_sas_token` does).
- Entra tokens for Service Bus are asked for the scope `https://servicebus.azure.net/.default`.

Each dead letter goes back as `publish.bus_messages` sends an event from a function: the CloudEvent in the
JSON format (`application/cloudevents+json`, which the shim reads as the event carried), its id as the
message id, without the dead-letter extensions. It is deleted from the dead-letter queue only once Service
Bus answered 201: a letter is never both kept and redriven, nor lost when its send fails. A topic has no
way to send to one subscription: every function subscribed to it gets the event again (as with a
publisher's retry).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus, urlsplit

from portable_fn.runtime.channels import CONTENT_TYPE, encode
from portable_fn.runtime.dead_letters import undead
from portable_fn.runtime.errors import ProviderError

from .redrive import DeadLetters, text_of

if TYPE_CHECKING:
    from portable_fn.runtime.cloudevent import CloudEvent
    from portable_fn.runtime.function import FunctionSpec

SCOPE = "https://servicebus.azure.net/.default"
TOKEN_TTL_S = 3600  # a SAS token is made for each send, valid this long
TIMEOUT_S = 30.0
UNMARKED = "not written by the shim: it has no deadletterreason"

Authorization = Callable[[str], str]  # the resource URI -> the Authorization header's value


def sas_token(uri: str, key_name: str, key: str, expiry: int) -> str:
    """The `Authorization` of a SAS rule for `uri` until `expiry` (seconds since the epoch), as the
    service-bus-sas page above says to build it."""
    encoded = quote_plus(uri)
    digest = hmac.new(key.encode("utf-8"), f"{encoded}\n{expiry}".encode(), hashlib.sha256).digest()
    signature = quote_plus(base64.b64encode(digest).decode("ascii"))
    return f"SharedAccessSignature sr={encoded}&sig={signature}&se={expiry}&skn={quote_plus(key_name)}"


def sas_authorization(key_name: str, key: str, clock: Callable[[], float] = time.time) -> Authorization:
    return lambda uri: sas_token(uri, key_name, key, int(clock()) + TOKEN_TTL_S)


def entra_authorization(credential: Any) -> Authorization:
    """A Bearer token of `credential` (azure-identity's) for Service Bus: the deploying principal, which needs
    Azure Service Bus Data Sender on the entity to redrive, and Data Receiver to read its dead-letter queue
    (`sb_dlq`)."""
    return lambda uri: f"Bearer {credential.get_token(SCOPE).token}"


class ServiceBusSender:
    """POSTs messages to one Service Bus queue or topic of `namespace` (its host name) through the REST API.
    `endpoint`, when set, is where the requests go instead (an emulator or a test's server), the namespace's
    host in `Host`; the signed resource stays the namespace's own URI."""

    def __init__(
        self,
        namespace: str,
        entity: str,
        authorization: Authorization,
        endpoint: str | None = None,
        urlopen: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self.namespace, self.entity = namespace, entity
        self.resource = f"https://{namespace}/{quote(entity)}"
        self.url = f"{(endpoint or f'https://{namespace}').rstrip('/')}/{quote(entity)}/messages"
        self.authorization = authorization
        self.host = namespace if endpoint else None
        self.urlopen = urlopen

    def send(
        self, body: bytes, content_type: str, message_id: str | None, properties: Mapping[str, str] | None = None
    ) -> None:
        """One message, with its custom `properties` (each header's value as Service Bus carries it); a
        ProviderError saying why when Service Bus did not answer 201."""
        headers = {
            **(properties or {}),
            "Authorization": self.authorization(self.resource),
            "Content-Type": content_type,
            "BrokerProperties": json.dumps({"MessageId": message_id} if message_id else {}),
        }
        if self.host:
            headers["Host"] = self.host
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with self.urlopen(request, timeout=TIMEOUT_S) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise ProviderError(self.refused(exc.code, detail)) from exc
        if status != 201:
            raise ProviderError(self.refused(status, ""))

    def refused(self, status: int, detail: str) -> str:
        hint = {
            401: "the connection's key or the principal's token was refused",
            403: "the principal needs Azure Service Bus Data Sender on it, or the message is over the quota",
            410: "it does not exist in the namespace",
        }.get(status, detail or "see the status")
        return (
            f"Redriving to the Service Bus entity {self.entity!r} of {self.namespace}: it answered {status} "
            f"({hint}). Nothing was deleted: the dead letters are kept; fix that and redrive again."
        )


def sender_for(
    env: Mapping[str, str], setting: str, entity: str, credential: Callable[[], Any], endpoint: str | None = None
) -> ServiceBusSender:
    """The sender of `entity`, through the connection the function's binding names (`setting`, see
    `connection_for`)."""
    found = connection_for(env, setting, credential)
    if found is None:
        raise ProviderError(
            f"Redriving to the Service Bus entity {entity!r}: {unset(setting)}, so nothing was sent and every dead "
            "letter is kept. Set one of them as the function app has it (`service_bus_connection` under "
            "[tool.portable-fn.azure] names the setting), then redrive again."
        )
    namespace, authorization = found
    return ServiceBusSender(namespace, entity, authorization, endpoint)


def connection_for(
    env: Mapping[str, str], setting: str, credential: Callable[[], Any]
) -> tuple[str, Authorization] | None:
    """The namespace (its host name) and how to authorize to it, read as the Functions host reads the
    binding's connection `setting`: a connection string in `<setting>` (its SAS rule signs), else the
    namespace in `<setting>__fullyQualifiedNamespace` reached with `credential()`'s Entra token; None when
    this environment holds neither."""
    connection = env.get(setting)
    if connection:
        parts = dict(p.split("=", 1) for p in connection.split(";") if "=" in p)
        namespace = urlsplit(parts.get("Endpoint", "")).netloc
        if namespace and parts.get("SharedAccessKeyName") and parts.get("SharedAccessKey"):
            return namespace, sas_authorization(parts["SharedAccessKeyName"], parts["SharedAccessKey"])
    namespace = env.get(f"{setting}__fullyQualifiedNamespace", "")
    if namespace:
        return namespace, entra_authorization(credential())
    return None


def unset(setting: str) -> str:
    return (
        f"neither {setting} (a connection string with SharedAccessKeyName and SharedAccessKey) nor "
        f"{setting}__fullyQualifiedNamespace is set in this environment"
    )


class ServiceBusDeadLetters(DeadLetters):
    """A Service Bus function's dead-letter queue (`dead_letters`, read through `service`, an
    azure.storage.queue QueueServiceClient); a redrive sends each letter to `sender`'s entity."""

    unmarked = UNMARKED

    def __init__(self, service: Any, spec: FunctionSpec, dead_letters: str, sender: ServiceBusSender | None) -> None:
        super().__init__(service, spec, dead_letters, None, poison=dead_letters)
        self.sender = sender

    def send_back(self, message: Any) -> None:
        if self.sender is None:
            raise ProviderError(f"Redriving {self.spec.name!r}: no Service Bus sender was given.")
        event = self.event(message)
        if event is None:  # not a CloudEvent: its text, as it came
            self.sender.send(text_of(message.content).encode("utf-8"), "text/plain; charset=utf-8", None)
            return
        back: CloudEvent[Any] = undead(event)
        self.sender.send(encode(back), CONTENT_TYPE, back.id)
