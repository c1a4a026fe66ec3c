"""A secret's value never reaches a log line: a handler that logs it (in the message, as a %-argument, in an
f-string, in an exception, in `extra=`) writes `[secret stripe-key]` instead, in the JSON lines of every cloud
and in the dev log's lines, which read the same fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from portable_fn.app import App, load_app
from portable_fn.local.function_logs import FunctionLogs
from portable_fn.runtime import redaction
from portable_fn.runtime.log_format import JsonFormatter
from portable_fn.runtime.redaction import redact, remember
from portable_fn.testing import invoke, make_request, secrets

VALUE = "sk_live_51HqLyjWDarjtT1zdp7dc"
MARKER = "[secret stripe-key]"


class Lines(logging.Handler):
    """The lines `format` writes for each record the root logger sees."""

    def __init__(self, format: logging.Formatter | FunctionLogs) -> None:
        super().__init__(logging.INFO)
        self.formatter_of = format
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        shown = self.formatter_of
        self.lines.append(shown.line(record) if isinstance(shown, FunctionLogs) else shown.format(record))


@pytest.fixture
def keyed_app(keyed: Path) -> App:
    return load_app(keyed)


@pytest.fixture
def capture() -> Iterator[list[Lines]]:
    """Handlers on the root logger (INFO and up), one per way a line is written, removed after."""
    root, handlers = (
        logging.getLogger(),
        [
            Lines(JsonFormatter("aws", {"AWS_LAMBDA_LOG_FORMAT": "JSON"})),
            Lines(JsonFormatter("gcp", {"GOOGLE_CLOUD_PROJECT": "keyed-test"})),
            Lines(JsonFormatter("azure", {})),
            Lines(FunctionLogs(lambda line: None)),
        ],
    )
    level = root.level
    root.setLevel(logging.INFO)
    for handler in handlers:
        root.addHandler(handler)
    yield handlers
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)


def test_what_a_handler_logs_holds_the_marker_not_the_value(keyed_app: App, capture: list[Lines]) -> None:
    with secrets({"stripe-key": VALUE}):
        response = invoke(keyed_app.function("charge"), make_request("POST", "/charge"))
    assert response.status == 200
    for handler in capture:
        text = "\n".join(handler.lines)
        assert VALUE not in text
        assert text.count(MARKER) >= 5, text  # %-arg, f-string, %r, extra, the exception
    aws = [json.loads(line) for line in capture[0].lines]
    assert [line["message"] for line in aws] == [
        f"charging with {MARKER}",
        f"charging with {MARKER}",
        f"the key is '{MARKER}'",
        "declined",
    ]
    assert aws[2]["key"] == MARKER
    assert aws[3]["errorMessage"] == f"card declined for key {MARKER}"
    assert aws[3]["exception"].endswith(f"ValueError: card declined for key {MARKER}")


def test_the_dev_log_shows_the_marker(keyed_app: App, capture: list[Lines]) -> None:
    with secrets({"stripe-key": VALUE}):
        invoke(keyed_app.function("charge"), make_request("POST", "/charge"))
    dev = [line.split("  invocation=")[0][13:] for line in capture[3].lines]  # after the time, before the facts
    assert dev == [
        f"charge [log] INFO charging with {MARKER}",
        f"charge [log] INFO charging with {MARKER}",
        f"charge [log] WARNING the key is '{MARKER}'",
        "charge [log] ERROR declined",
    ]
    assert capture[3].lines[2].endswith(f" logger=keyed key={MARKER}")
    assert capture[3].lines[3].splitlines()[-1] == f"ValueError: card declined for key {MARKER}"


def test_redact_replaces_longer_values_first_and_leaves_short_ones() -> None:
    remember("db-password", "hunter2-and-more")
    remember("db-prefix", "hunter2")
    remember("pin", "123")  # under MIN_REDACTED characters: redacting it would eat ordinary text
    assert redact("pw=hunter2-and-more; prefix=hunter2; pin=123") == (
        "pw=[secret db-password]; prefix=[secret db-prefix]; pin=123"
    )
    assert "123" not in redaction.REDACTIONS


def test_a_rotated_out_value_stays_redacted() -> None:
    remember("rotating-key", "rk_old_value_0001")
    remember("rotating-key", "rk_new_value_0002")
    assert redact("rk_old_value_0001 rk_new_value_0002") == "[secret rotating-key] [secret rotating-key]"


def test_a_field_json_would_write_as_its_str_is_redacted_only_when_it_holds_a_value() -> None:
    class Card:
        def __str__(self) -> str:
            return f"card charged with {VALUE}"

    remember("stripe-key", VALUE)
    record = logging.LogRecord("keyed", logging.INFO, __file__, 1, "paid", None, None)
    record.card = Card()
    record.amount = 1250
    record.items = [{"sku": VALUE}]
    fields = JsonFormatter("gcp", {}).fields(record)
    assert (fields["card"], fields["amount"], fields["items"]) == (
        f"card charged with {MARKER}",
        1250,
        [{"sku": MARKER}],
    )


AWKWARD = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\\0 "quoted" it\'s\n-----END KEY-----'  # a PEM-like value


def test_a_value_with_quotes_backslashes_and_newlines_is_redacted_however_the_text_escapes_it(
    keyed_app: App, capture: list[Lines]
) -> None:
    """repr() (`%r`, a dict in the arguments, a KeyError's message, an object showing its fields) and JSON
    escape such a value: each escaped form is redacted too."""

    class Card:
        def __str__(self) -> str:
            return f"Card(key={AWKWARD!r})"

    log = logging.getLogger("keyed")
    with secrets({"stripe-key": AWKWARD}):
        assert invoke(keyed_app.function("charge"), make_request("POST", "/charge")).status == 200
    log.info("settings %s", {"stripe": AWKWARD})
    log.info("as JSON: %s", json.dumps({"stripe": AWKWARD}))
    try:
        {}[AWKWARD]
    except KeyError:
        log.error("lookup failed", exc_info=True)
    log.info("card", extra={"card": Card()})
    for handler in capture:
        text = "\n".join(handler.lines)
        assert "MIIBOgIBAAJBAKj34GkxFhD9" not in text, text
    aws = [json.loads(line) for line in capture[0].lines]
    assert [line["message"] for line in aws] == [
        f"charging with {MARKER}",
        f"charging with {MARKER}",
        f"the key is '{MARKER}'",
        "declined",
        f"settings {{'stripe': '{MARKER}'}}",
        f'as JSON: {{"stripe": "{MARKER}"}}',
        "lookup failed",
        "card",
    ]
    assert (aws[2]["key"], aws[6]["errorMessage"], aws[7]["card"]) == (MARKER, f"'{MARKER}'", f"Card(key='{MARKER}')")
    assert aws[6]["exception"].endswith(f"KeyError: '{MARKER}'")
