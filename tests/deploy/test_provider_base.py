"""The provider base: the deploy questions go to the provider's deployer, made once, on first use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portable_fn.deploy import Applier, ApplyContext, Artifact, Deployer, Executor, RemoteState, Resource
from portable_fn.deploy.executor import Appliers
from portable_fn.provider import Provider


class Nothing(Resource):
    kind = "nothing"


class Recording(Deployer[list[str], str]):
    provider = "testcloud"

    def make_client(self) -> list[str]:
        return []

    def desired(self, app: Any, stage: str, artifact: Artifact) -> list[Resource]:
        self.client.append(f"desired {stage}")
        return []

    def read_remote(self, app: Any, stage: str) -> RemoteState:
        self.client.append(f"read {stage}")
        return RemoteState()

    def appliers(self, app: Any, stage: str) -> Appliers:
        return {Nothing: Applier[Nothing, ApplyContext](ApplyContext())}

    def outputs(self, app: Any, stage: str, remote: RemoteState) -> dict[str, Any]:
        return {"calls": list(self.client)}

    def explain(self, exc: BaseException) -> str | None:
        return "sign in again" if "expired" in str(exc) else None


class SomeCloudProvider(Provider):
    name = "testcloud"
    made = 0

    def make_deployer(self) -> Recording:
        type(self).made += 1
        return Recording(self.settings, self.endpoint_url)


class App:
    name = "shop"


def test_the_deploy_questions_go_to_one_deployer_made_on_first_use() -> None:
    provider = SomeCloudProvider({"region": "x"}, "http://127.0.0.1:1")
    assert SomeCloudProvider.made == 0  # made on first use: loading a provider imports no SDK
    provider.desired(App(), "dev", Artifact(Path(__file__), "0" * 64, 0, 0))  # type: ignore[arg-type]
    provider.read_remote(App(), "dev")  # type: ignore[arg-type]
    executor = provider.executor(App(), "dev")  # type: ignore[arg-type]
    assert provider.outputs(App(), "dev", RemoteState()) == {"calls": ["desired dev", "read dev"]}  # type: ignore[arg-type]
    assert SomeCloudProvider.made == 1 and provider.deployer.settings == {"region": "x"}
    assert type(executor) is Executor and executor.provider == "testcloud" and Nothing in executor.appliers
    assert provider.explain(RuntimeError("token expired")) == "sign in again"
    assert executor.explain(RuntimeError("token expired")) == "sign in again"


def test_a_provider_without_a_deploy_side_explains_nothing() -> None:
    class RunOnly(Provider):
        name = "runonly"

    assert RunOnly().explain(RuntimeError("token expired")) is None
