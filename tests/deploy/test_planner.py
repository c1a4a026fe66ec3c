"""The planner is pure: desired + remote state in memory -> steps."""

from __future__ import annotations

from dataclasses import dataclass

from portable_fn.deploy import CREATE, DELETE, UPDATE, RemoteState, Resource, make_plan


@dataclass(frozen=True)
class Queue(Resource):
    kind = "queue"
    visibility_s: int = 30


@dataclass(frozen=True)
class Fn(Resource):
    kind = "function"
    ignore_on_compare = frozenset({"arn"})
    code: str = ""
    memory: int = 128
    arn: str = ""


def test_everything_missing_is_created_in_desired_order() -> None:
    desired = [Queue("q"), Fn("f", code="a")]
    plan = make_plan(desired, RemoteState())
    assert [(s.action, s.resource.name) for s in plan.steps] == [(CREATE, "q"), (CREATE, "f")]
    assert plan.summary() == "2 to create, 0 to update, 0 to delete, 0 unchanged"


def test_matching_state_gives_an_empty_plan_even_when_outputs_differ() -> None:
    desired = [Fn("f", code="a")]
    remote = RemoteState([Fn("f", code="a", arn="arn:aws:lambda:...:f")])
    plan = make_plan(desired, remote)
    assert plan.empty
    assert len(plan.unchanged) == 1


def test_changed_fields_are_listed_on_the_update() -> None:
    plan = make_plan([Fn("f", code="b", memory=256)], RemoteState([Fn("f", code="a", memory=256)]))
    (step,) = plan.steps
    assert step.action == UPDATE and step.changes == ("code",)
    assert step.describe() == "~ update function f (code)"


def test_resources_no_longer_desired_are_deleted_dependents_first() -> None:
    remote = RemoteState([Queue("q"), Fn("f"), Fn("g")])
    plan = make_plan([Queue("q")], remote)
    assert [(s.action, s.resource.name) for s in plan.steps] == [(DELETE, "g"), (DELETE, "f")]


def test_same_name_different_kind_are_different_resources() -> None:
    plan = make_plan([Queue("x")], RemoteState([Fn("x")]))
    assert [(s.action, s.resource.kind) for s in plan.steps] == [(CREATE, "queue"), (DELETE, "function")]


@dataclass(frozen=True)
class Grant(Resource):
    """A resource shared beyond the app (a project-wide grant): found, it is never deleted."""

    kind = "grant"

    def kept_because(self) -> str:
        return f"{self.name} is shared"


def test_a_resource_that_says_why_it_is_kept_is_never_deleted_but_listed() -> None:
    remote = RemoteState([Grant("g"), Queue("q")])
    removal = make_plan([], remote)
    assert [(s.action, s.resource.name) for s in removal.steps] == [(DELETE, "q")]
    assert removal.kept == (Grant("g"),) and removal.kept_lines() == ["= keep grant g: g is shared"]
    assert removal.summary() == "0 to create, 0 to update, 1 to delete, 0 unchanged, 1 kept"
    assert removal.to_dict()["kept"] == [{"kind": "grant", "name": "g", "reason": "g is shared"}]
    wanted = make_plan([Grant("g")], remote)  # still wanted: unchanged, as any resource
    assert wanted.unchanged == (Grant("g"),) and wanted.kept == () and "kept" not in wanted.to_dict()
    assert make_plan([], RemoteState([Grant("g")])).empty  # a remove after a remove has nothing to do
