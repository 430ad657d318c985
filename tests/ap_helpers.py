"""Start `autogpt serve` as a real process on a random loopback port, for the protocol tests."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

AUTOGPT = str(Path(sys.executable).parent / "autogpt")


def decision(tool: str, thought: str = "", **args: Any) -> dict[str, Any]:
    return {"thoughts": {"text": thought or f"use {tool}", "reasoning": "", "plan": "", "criticism": ""},
            "tool": tool, "tool_args": args}


def write_script(path: Path, items: list[Any]) -> str:
    path.write_text(json.dumps(items))
    return f"scripted/{path}"


class Server:
    def __init__(self, workspace: Path, model: str, *, env: dict[str, str] | None = None,
                 args: list[str] | None = None, cwd: Path | None = None):
        self.workspace, self.model = workspace, model
        self.extra_env, self.args, self.cwd = env or {}, args or [], cwd or workspace.parent
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log = workspace.parent / "server.log"

    def start(self, timeout: float = 30) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
        env.update(self.extra_env)
        cmd = [AUTOGPT, "serve", "--port", "0", "--model", self.model, "--workspace", str(self.workspace), *self.args]
        with open(self.log, "a") as err:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=self.cwd)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline()
        match = re.search(r"on (http://\S+)/ap/v1", line)
        assert match, f"server did not start: {line!r} {self.log.read_text()}"
        self.url = match.group(1)
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/heartbeat", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"no heartbeat: {self.log.read_text()}")

    def client(self, **kw: Any) -> httpx.Client:
        kw.setdefault("timeout", 60)
        return httpx.Client(base_url=self.url + "/ap/v1", **kw)

    def stop(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.proc.stdout.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None


def step_until_last(client: httpx.Client, task_id: str, inputs: list[str | None] | None = None,
                    limit: int = 20) -> list[dict[str, Any]]:
    steps = []
    for i in range(limit):
        given = (inputs or [])[i] if inputs and i < len(inputs) else None
        r = client.post(f"/agent/tasks/{task_id}/steps", json={"input": given} if given is not None else {})
        assert r.status_code == 200, r.text
        steps.append(r.json())
        if r.json()["is_last"]:
            return steps
    raise AssertionError(f"no last step after {limit}: {steps[-1]}")
