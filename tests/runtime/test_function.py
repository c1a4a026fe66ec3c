"""`@function`: the declaration a user writes, checked while their module is imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from portable_fn import CloudEvent, DeclarationError, Request, function, http, queue, topic
from portable_fn.runtime import FunctionOptions, FunctionSpec, spec_of

HANDLERS = Path(__file__).with_name("handlers")
PACKAGE = "runtime_test_handlers"  # a name of its own, whatever else is on sys.path


def load_handlers(module: str) -> ModuleType:
    """Import tests/runtime/handlers/<module>.py as an app's module would be imported."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, HANDLERS / "__init__.py", submodule_search_locations=[str(HANDLERS)]
        )
        assert spec is not None and spec.loader is not None
        sys.modules[PACKAGE] = package = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(package)
    return importlib.import_module(f"{PACKAGE}.{module}")


# -- what decorating gives back ---------------------------------------------------------------------


def test_spec_is_attached_and_the_function_stays_callable() -> None:
    events = load_handlers("events")
    spec = spec_of(events.take_order)
    assert isinstance(spec, FunctionSpec)
    assert spec is events.take_order.__portable_fn__
    assert (spec.name, spec.handler, spec.trigger) == ("take_order", events.take_order, queue("orders", 10))
    assert spec.module == f"{PACKAGE}.events"
    assert (spec.options.memory_mb, spec.options.timeout_s) == (256, 30)
    assert repr(spec) == "FunctionSpec('take_order', Queue(name='orders', batch_size=10, fifo=False))"
    # still the user's own function: a test can call it directly
    event = CloudEvent(id="1", source="/t", type="t", data=events.Order(id=1, item="pen"))
    assert events.take_order(event).item == "pen"
    assert events.no_parameters() == "ran"


def test_spec_of_an_undecorated_object() -> None:
    def plain() -> None: ...

    plain.__portable_fn__ = "not a spec"  # type: ignore[attr-defined]
    assert spec_of(plain) is None
    assert spec_of(42) is None


def test_name_option_overrides_the_function_name() -> None:
    @function(trigger=topic("t"), name="order-notifier")
    def notify(event: CloudEvent[Any]) -> None: ...

    assert spec_of(notify).name == "order-notifier"  # type: ignore[union-attr]


# -- trigger --------------------------------------------------------------------------------------


def test_bare_decorator_asks_for_a_trigger() -> None:
    with pytest.raises(
        DeclarationError,
        match=r"@function on 'handler' needs a trigger: write "
        r"@function\(trigger=http\('GET', '/path'\)\)",
    ):

        @function  # type: ignore[arg-type]
        def handler(request: Request) -> None: ...


@pytest.mark.parametrize("trigger", ["http", None, ("GET", "/")])
def test_trigger_must_be_a_trigger(trigger: Any) -> None:
    with pytest.raises(
        DeclarationError,
        match=r"the trigger must come from http\(\), queue\(\), "
        r"topic\(\), schedule\(\), cron\(\) or storage\(\)",
    ):
        function(trigger=trigger)


# -- options ----------------------------------------------------------------------------------------


def test_defaults() -> None:
    options = FunctionOptions("f")
    assert options.to_dict() == {
        "memory_mb": None,
        "timeout_s": None,
        "env": {},
        "max_concurrency": None,
        "architecture": None,
        "retries": None,
        "dead_letter": True,
        "uses": [],
        "idempotent": False,
        "retry": None,
        "tenant": None,
        "tenant_isolation": False,
    }
    assert options.max_attempts == 3
    assert FunctionOptions("f", retries=0).max_attempts == 1


def test_valid_options_are_kept() -> None:
    options = FunctionOptions(
        "f",
        memory_mb=128,
        timeout_s=0.5 + 0.5,
        env={"MY_SETTING": "x", "_B": ""},
        max_concurrency=1,
        architecture="arm64",
        retries=100,
        dead_letter="orders-dlq",
    )
    assert options.to_dict()["env"] == {"MY_SETTING": "x", "_B": ""}
    assert (options.memory_mb, options.architecture, options.dead_letter) == (128, "arm64", "orders-dlq")
    assert FunctionOptions("f", memory_mb=32768, timeout_s=3600).timeout_s == 3600


@pytest.mark.parametrize(
    ("option", "value", "fix"),
    [
        ("memory_mb", 127, "use a whole number of MB from 128 to 32768"),
        ("memory_mb", 32769, "use a whole number of MB from 128 to 32768"),
        ("memory_mb", 256.0, "use a whole number of MB"),
        ("memory_mb", True, "use a whole number of MB"),
        ("memory_mb", "256", "use a whole number of MB"),
        ("timeout_s", 0, "use seconds from 1 to 3600"),
        ("timeout_s", 3601, "use seconds from 1 to 3600"),
        ("timeout_s", float("nan"), "use seconds from 1 to 3600"),
        ("timeout_s", True, "use seconds from 1 to 3600"),
        ("timeout_s", "30", "use seconds from 1 to 3600"),
        ("env", {"MY SETTING": "x"}, "use a dict of NAME='value' strings, names like MY_SETTING"),
        ("env", {"1ST": "x"}, "names like MY_SETTING"),
        ("env", {"A": 1}, "names like MY_SETTING"),
        ("env", ["A=1"], "names like MY_SETTING"),
        ("max_concurrency", 0, "use an integer of at least 1"),
        ("max_concurrency", 1.5, "use an integer of at least 1"),
        ("architecture", "arm", r"use one of \('x86_64', 'arm64'\)"),
        ("architecture", "x86", r"use one of \('x86_64', 'arm64'\)"),
        ("retries", -1, r"use an integer from 0 \(never retry\) to 100"),
        ("retries", 101, r"use an integer from 0 \(never retry\) to 100"),
        ("retries", False, r"use an integer from 0"),
        ("dead_letter", "", "use True, False, or the name of a queue or topic"),
        ("dead_letter", 1, "use True, False, or the name of a queue or topic"),
    ],
)
def test_each_bad_option_names_the_fix(option: str, value: Any, fix: str) -> None:
    with pytest.raises(DeclarationError, match=rf"@function 'resize': {option}=.* is invalid; .*{fix}"):

        @function(trigger=queue("images"), **{option: value})
        def resize(event: CloudEvent[Any]) -> None: ...


def test_unknown_option_lists_the_options() -> None:
    with pytest.raises(
        DeclarationError,
        match=r"unknown option\(s\) \['memory', 'timeout'\]; the options "
        r"are \['architecture', 'dead_letter', 'env', .*\] and name",
    ):
        function(trigger=queue("images"), memory=256, timeout=3)


def test_a_misspelt_option_is_named_with_the_one_meant() -> None:
    with pytest.raises(DeclarationError, match=r"unknown option\(s\) \['memroy_mb'\];.* Did you mean memory_mb\?$"):
        function(trigger=queue("images"), memroy_mb=256)


def test_a_misspelt_trigger_is_named_not_reported_missing() -> None:
    with pytest.raises(DeclarationError, match=r"unknown option\(s\) \['triger'\];.* Did you mean trigger\?$"):
        function(triger=queue("images"))


def test_no_trigger_at_all_says_how_to_write_one() -> None:
    with pytest.raises(DeclarationError, match=r"^@function needs a trigger: write @function\(trigger=http"):
        function()


# -- names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "resize", "Resize_2", "order-notifier", "a" * 63])
def test_good_names(name: str) -> None:
    def handler(event: CloudEvent[Any]) -> None: ...

    assert spec_of(function(trigger=topic("t"), name=name)(handler)).name == name  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["2fast", "_private", "-x", "has space", "a.b", "a" * 64, "ñame"])
def test_bad_names_say_how_to_choose_one(name: str) -> None:
    def handler(event: CloudEvent[Any]) -> None: ...

    with pytest.raises(
        DeclarationError,
        match=r"is invalid: use up to 63 letters, digits, '_' or '-', "
        r"starting with a letter \(pass name='...' to choose one\)",
    ):
        function(trigger=topic("t"), name=name)(handler)


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(DeclarationError, match=r"@function name '<lambda>' is invalid"):
        function(trigger=topic("t"))(lambda event: None)
    assert spec_of(function(trigger=topic("t"), name="ok")(lambda event: None)).name == "ok"  # type: ignore[union-attr]


# -- signatures, checked at import time -------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            "bad_three_params",
            r"@function 'take_order': a handler takes at most two parameters, the "
            r"CloudEvent and an optional Context; it has 3\.",
        ),
        (
            "bad_request_on_queue",
            r"@function 'take_order': a queue trigger delivers a CloudEvent; "
            r"annotate 'request' as CloudEvent \(or CloudEvent\[YourModel\]\)",
        ),
        (
            "bad_annotation",
            r"@function 'notify': parameter 'event' is annotated .*dict.*; annotate it "
            r"as CloudEvent\[\.\.\.\]",
        ),
        (
            "bad_event_data_type",
            r"@function 'notify': CloudEvent\[Order\] is not supported; use a "
            r"pydantic model, a dataclass, dict, list, str or bytes",
        ),
        (
            "bad_keyword_only",
            r"@function 'take_order': keyword-only parameter\(s\) \['region'\] cannot be "
            r"supplied; give them defaults or remove them.",
        ),
        (
            "bad_second_parameter",
            r"@function 'notify': the second parameter 'retries' must be "
            r"annotated Context \(or be named ctx\)",
        ),
    ],
)
def test_signature_mistakes_fail_when_the_module_is_imported(module: str, message: str) -> None:
    with pytest.raises(DeclarationError, match=message):
        load_handlers(module)
    assert f"{PACKAGE}.{module}" not in sys.modules


def test_http_handler_with_a_wrong_annotation() -> None:
    def handler(request: str) -> None: ...

    with pytest.raises(
        DeclarationError,
        match=r"annotate it as Request \(or CloudEvent for a request "
        r"carrying one\)",
    ):
        function(trigger=http("GET", "/"))(handler)


def test_handler_must_be_a_plain_function() -> None:
    class Callable_:
        __name__ = "callable"

        def __call__(self, event: CloudEvent[Any]) -> None: ...

    with pytest.raises(DeclarationError, match=r"@function 'callable': the handler must be a plain function"):
        function(trigger=topic("t"))(Callable_())


def test_a_handler_that_is_not_a_top_level_name_cannot_be_reached_by_a_generated_module() -> None:
    from portable_fn.runtime.errors import DeployError
    from portable_fn.runtime.function import top_level_name

    @function(trigger=topic("t"))
    def nested(event) -> None:  # type: ignore[no-untyped-def]
        pass

    spec = spec_of(nested)
    assert spec is not None and spec.module in sys.modules
    with pytest.raises(
        DeployError,
        match=r"Generating main.py on gcp for function 'nested': its handler is not a "
        r"top-level name of module .*, so functions-framework cannot reach it",
    ):
        top_level_name(spec, "Generating main.py on gcp", "functions-framework")
    assert top_level_name(spec_of(module_level), "x", "y") == "module_level"


@function(trigger=topic("t2"))
def module_level(event) -> None:  # type: ignore[no-untyped-def]
    pass
