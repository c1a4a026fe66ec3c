"""`portable-fn dev` run as a user runs it, a client for a dev host, and polling for what it does: one way for
every test that starts the dev host (the local host's, the tenants', the secrets', the samples'). Tests import
it relatively (`from ..dev_process import DevProcess, wait_for`): they run with --import-mode=importlib."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BANNER = re.compile(r"portable-fn dev: app '[^']+' on (http://127\.0\.0\.1:\d+) ")


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy (returned) or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """urllib against one host; error statuses are returned, not raised."""

    def __init__(self, base: str) -> None:
        self.base = base

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> Reply:
        if json_body is not None:
            body = json.dumps(json_body)
            headers = {"content-type": "application/json", **(headers or {})}
        data = body.encode("utf-8") if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.headers, err.read())


class DevProcess:
    """One `portable-fn dev APP --port 0` subprocess; its output goes to a file. `state_dir` None leaves the
    state where `portable-fn dev` keeps it by default (`<app>/.portable-fn/local`, where `secrets set` writes)."""

    def __init__(
        self,
        app_dir: Path,
        state_dir: Path | None,
        output: Path,
        env: dict[str, str] | None = None,
        reload: bool = False,
    ) -> None:
        self.output = output
        command = ["portable-fn", "dev", str(app_dir), "--port", "0"]
        if state_dir is not None:
            command += ["--state-dir", str(state_dir)]
        with output.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--reload" if reload else "--no-reload"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )

    def url(self, wait: Callable[..., Any] = wait_for, timeout: float = 120.0) -> str:
        """The host's URL, once its banner is printed (the test fails with its output if it exits first)."""

        def banner() -> str | None:
            assert self.process.poll() is None, f"portable-fn dev exited:\n{self.text()}"
            found = BANNER.search(self.text())
            return found.group(1) if found else None

        return wait(banner, timeout=timeout, what="the dev host's banner")  # type: ignore[no-any-return]

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Ctrl-C, as a user stops it (killed if it does not end)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the host dies at once, with no chance to tidy up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
