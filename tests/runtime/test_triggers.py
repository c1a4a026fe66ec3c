"""Trigger declarations: checked when created, with messages that say what to write instead."""

from __future__ import annotations

import pytest

from portable_fn import DeclarationError, cron, http, queue, schedule, storage, topic
from portable_fn.runtime.triggers import Http, Queue, Schedule, Storage, Topic, Trigger

# -- http ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "post", "Put", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"])
def test_http_methods_are_upper_cased(method: str) -> None:
    assert http(method, "/a").method == method.upper()


@pytest.mark.parametrize("method", ["FETCH", "", "GET POST", None, 1])
def test_http_bad_method_lists_the_methods(method: object) -> None:
    with pytest.raises(DeclarationError, match=r"is not supported; use one of \['ANY', 'DELETE', 'GET'"):
        http(method, "/a")  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["orders", "", "orders/{id}", None])
def test_http_path_must_start_with_a_slash(path: object) -> None:
    with pytest.raises(DeclarationError, match=r"must start with '/', like '/orders/\{id\}'"):
        http("GET", path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/", []),
        ("/orders", []),
        ("/orders/{id}", ["id"]),
        ("/users/{user_id}/orders/{order_id}", ["user_id", "order_id"]),
        ("/files/{path+}", ["path"]),
        ("/files/{path+}/", ["path"]),
    ],
)
def test_http_param_names(path: str, names: list[str]) -> None:
    assert http("GET", path).param_names == names


def test_http_greedy_parameter_must_be_last() -> None:
    with pytest.raises(DeclarationError, match=r"greedy '\{rest\+\}' parameter must be the last segment"):
        http("GET", "/files/{rest+}/meta")


@pytest.mark.parametrize("path", ["/orders/id}", "/orders/{id", "/orders/x{id}", "/a/{1x}", "/a/{}"])
def test_http_parameter_must_be_a_whole_segment(path: str) -> None:
    with pytest.raises(DeclarationError, match=r"must be a whole '\{name\}' parameter"):
        http("GET", path)


def test_http_is_not_an_event_trigger() -> None:
    route = http("GET", "/a", public=1)  # type: ignore[arg-type]
    assert route.public is True
    assert route.kind == "http" and not route.is_event


# -- queue and topic --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orders", "Orders-2", "orders.fifo", "a", "a" * 80, "0_x"])
def test_queue_and_topic_names(name: str) -> None:
    assert queue(name).name == name
    assert topic(name).name == name


@pytest.mark.parametrize("name", ["", "-orders", ".x", "has space", "a/b", "a" * 81, None, 5])
def test_bad_queue_and_topic_names_say_what_a_name_is(name: object) -> None:
    fix = r"invalid: use 1-80 letters, digits, '-', '_' or '.', starting with a letter or digit"
    with pytest.raises(DeclarationError, match=r"queue\(\) name .* is " + fix):
        queue(name)  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match=r"topic\(\) name .* is " + fix):
        topic(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "fifo"), [(1, False), (10, True), (10000, False), (11, False)])
def test_queue_batch_size_bounds(size: int, fifo: bool) -> None:
    assert queue("q", batch_size=size, fifo=fifo).batch_size == size


@pytest.mark.parametrize("size", [0, -1, 10001, 2.5, True, "10", None])
def test_queue_batch_size_out_of_range(size: object) -> None:
    with pytest.raises(DeclarationError, match=r"batch_size must be an integer from 1 to 10000, got"):
        queue("orders", batch_size=size)  # type: ignore[arg-type]


def test_fifo_queue_batch_size_is_at_most_10() -> None:
    with pytest.raises(
        DeclarationError,
        match=r"queue\('orders'\) batch_size must be an integer from 1 to 10 for a "
        r"FIFO queue, got 11\.",
    ):
        queue("orders", batch_size=11, fifo=True)


# -- storage ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", ["abc", "my-bucket.v2", "a" * 63, "0uploads"])
def test_storage_bucket_names(bucket: str) -> None:
    assert storage(bucket).bucket == bucket


@pytest.mark.parametrize("bucket", ["ab", "a" * 64, "Uploads", "-up", "up-", "up loads", "", None])
def test_bad_storage_bucket_names(bucket: object) -> None:
    with pytest.raises(DeclarationError, match=r"is not a valid bucket name: use 3-63 lowercase letters"):
        storage(bucket)  # type: ignore[arg-type]


@pytest.mark.parametrize("on", ["create", "updated", "", None, "CREATED"])
def test_storage_on_names_both_choices(on: object) -> None:
    with pytest.raises(DeclarationError, match=r"use on='created' or on='deleted'"):
        storage("uploads", on=on)  # type: ignore[arg-type]


def test_storage_prefix_and_suffix_must_be_strings() -> None:
    with pytest.raises(DeclarationError, match=r"storage\('uploads'\) suffix must be a string, got 1"):
        storage("uploads", suffix=1)  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match=r"prefix must be a string"):
        storage("uploads", prefix=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prefix", "suffix", "key", "matches"),
    [
        ("", "", "anything", True),
        ("in/", "", "in/a.png", True),
        ("in/", "", "out/in/a.png", False),
        ("", ".png", "in/a.png", True),
        ("", ".png", "in/a.png.txt", False),
        ("in/", ".png", "in/a.png", True),
        ("in/", ".png", "in/a.jpg", False),
        ("in/", ".png", "", False),
    ],
)
def test_storage_matches(prefix: str, suffix: str, key: str, matches: bool) -> None:
    assert storage("uploads", prefix=prefix, suffix=suffix).matches(key) is matches


def test_storage_defaults() -> None:
    assert storage("uploads") == Storage("uploads", "created", "", "")
    assert storage("uploads", on="deleted").on == "deleted"


# -- values -----------------------------------------------------------------------------------------


def test_triggers_compare_and_hash_by_value() -> None:
    assert http("get", "/a") == http("GET", "/a")
    assert hash(http("get", "/a")) == hash(http("GET", "/a"))
    assert http("GET", "/a") != http("GET", "/a", public=True)
    assert queue("q") == queue("q", 1, False) and queue("q") != queue("q", 2)
    assert topic("q") != queue("q")  # same fields, different kind
    assert schedule(cron("0 3 * * *")) == cron("0 3 * * *")
    triggers = {http("GET", "/a"), http("get", "/a"), queue("q"), topic("q"), storage("abc")}
    assert len(triggers) == 4


@pytest.mark.parametrize(
    "trigger",
    [http("GET", "/a"), queue("q"), topic("t"), schedule("rate(1 hour)"), storage("abc")],
)
def test_triggers_are_immutable(trigger: Trigger) -> None:
    field = type(trigger).__slots__[0]
    before = getattr(trigger, field)
    with pytest.raises(AttributeError, match="is immutable"):
        setattr(trigger, field, "x")
    with pytest.raises(AttributeError, match="is immutable"):
        delattr(trigger, field)
    with pytest.raises(AttributeError):
        trigger.other = 1
    assert getattr(trigger, field) == before


@pytest.mark.parametrize(
    ("trigger", "kind", "cls"),
    [
        (http("GET", "/"), "http", Http),
        (queue("q"), "queue", Queue),
        (topic("t"), "topic", Topic),
        (schedule("rate(1 day)"), "schedule", Schedule),
        (cron("* * * * *"), "schedule", Schedule),
        (storage("abc"), "storage", Storage),
    ],
)
def test_kinds(trigger: Trigger, kind: str, cls: type) -> None:
    assert type(trigger) is cls and trigger.kind == kind
    assert trigger.is_event is (kind != "http")
    assert repr(trigger).startswith(cls.__name__ + "(")


# -- schedule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression", "every_s"),
    [
        ("rate(1 minute)", "rate(1 minute)", 60),
        ("rate(5 minutes)", "rate(5 minutes)", 300),
        ("  rate(2 Hours) ", "rate(2 hours)", 7200),
        ("rate(1 day)", "rate(1 day)", 86400),
        ("rate(1 minutes)", "rate(1 minute)", 60),  # spelled the way AWS accepts
        ("rate(5 minute)", "rate(5 minutes)", 300),
    ],
)
def test_schedule_rates(text: str, expression: str, every_s: int) -> None:
    trigger = schedule(text)
    assert (trigger.expression, trigger.every_s, trigger.cron) == (expression, every_s, None)
    assert trigger.cron_expression() is None


def test_schedule_cron_is_normalised() -> None:
    trigger = schedule("cron(0  3 * *   *)")
    assert (trigger.expression, trigger.cron, trigger.every_s) == ("cron(0 3 * * *)", "0 3 * * *", None)
    assert trigger.cron_expression().hours == {3}  # type: ignore[union-attr]
    assert cron("0 3 * * *") == trigger


@pytest.mark.parametrize("text", ["every 5 minutes", "0 3 * * *", "rate 5 minutes", ""])
def test_schedule_not_understood_shows_both_forms(text: str) -> None:
    with pytest.raises(
        DeclarationError,
        match=r"write schedule\('rate\(5 minutes\)'\) or "
        r"schedule\(cron\('0 3 \* \* \*'\)\)",
    ):
        schedule(text)


def test_schedule_and_cron_need_strings() -> None:
    with pytest.raises(DeclarationError, match=r"schedule\(\) takes 'rate\(5 minutes\)'"):
        schedule(300)  # type: ignore[arg-type]
    with pytest.raises(DeclarationError, match=r"cron\(\) takes a string like '0 3 \* \* \*'"):
        cron(None)  # type: ignore[arg-type]


def test_cron_errors_surface_at_declaration() -> None:
    with pytest.raises(DeclarationError, match="has 6 fields; write 5"):
        cron("0 0 3 * * *")


def test_http_routes_match_paths_and_give_their_parameters() -> None:
    from portable_fn.runtime.triggers import http as http_trigger

    route = http_trigger("GET", "/orders/{order_id}/lines/{rest+}")
    assert route.match("/orders/7/lines/a/b") == {"order_id": "7", "rest": "a/b"}
    assert route.match("/orders/7/lines") is None
    assert http_trigger("GET", "/orders/{id}").match("/orders/9/") == {"id": "9"}
    assert http_trigger("GET", "/a.b").match("/aXb") is None
