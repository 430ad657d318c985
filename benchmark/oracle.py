"""The oracle agent: it knows the built-in challenges and replays their reference solutions through its tools.

    autogpt serve --agent benchmark.oracle:OracleAgent

For a task whose text is a built-in challenge's task (its `{{web}}` placeholders standing for any base URL, white
space ignored), each step writes the next file of the challenge's `artifacts_out/` with the real `write_file` tool,
then the agent calls `finish`. A run of the benchmark against it, over the Agent Protocol and not in `--mock`
mode, must score 100%: it checks the runner, the protocol server, the artifacts round trip and the evaluators
end to end without a model. A task it does not know ends at once with `finish`, having written nothing.

The decisions come from a model object, `OracleModel`, that looks at the workspace rather than counting calls,
so a run resumed after a server restart goes on with the first file still missing. The server's own `--model`
is constructed by the server but never called (pass a scripted one to keep the embedded model unloaded).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.fixture_web import PLACEHOLDER
from benchmark.spec import Challenge, discover_challenges
from forge.agent.agent import AutoGPTAgent
from forge.config import Settings
from forge.models.base import LLMResponse, Model, Usage
from forge.models.scripted import decision

if TYPE_CHECKING:
    from forge.models.base import ChatModel
    from forge.runs.log import RunLog
    from forge.tools.base import Tool, ToolRegistry


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _pattern(task: str) -> re.Pattern[str]:
    """TASK as a regex over squeezed white space, each `{{web}}` standing for any http(s) base URL (with the
    runner's per-attempt `/t/<tag>` prefix or not)."""
    base = r"https?://[^\s/]+(?:/t/[A-Za-z0-9_-]+)?"
    return re.compile(base.join(re.escape(part) for part in _squeeze(task).split(PLACEHOLDER)))


@functools.cache
def _known() -> tuple[tuple[re.Pattern[str], Challenge], ...]:
    return tuple((_pattern(c.spec.task), c) for c in discover_challenges())


def match_challenge(task: str, challenges: Sequence[Challenge] | None = None) -> Challenge | None:
    """The challenge whose task TASK is (after `{{web}}` substitution), or None."""
    known = _known() if challenges is None else tuple((_pattern(c.spec.task), c) for c in challenges)
    for pattern, challenge in known:
        if pattern.fullmatch(_squeeze(task)):
            return challenge
    return None


class OracleModel(Model):
    """Decides from the workspace: write the first reference file that is missing or differs, else finish."""

    name = "oracle"

    def __init__(self, challenge: Challenge | None, workspace: Path):
        self.challenge = challenge
        self.workspace = workspace

    def reference_files(self) -> list[tuple[str, str]]:
        if self.challenge is None:
            return []
        folder = self.challenge.path / "artifacts_out"
        return [(p.relative_to(folder).as_posix(), p.read_text(encoding="utf-8"))
                for p in self.challenge.artifacts("artifacts_out")]

    def next_decision(self) -> dict[str, Any]:
        if self.challenge is None:
            return decision("finish", "this task is not a built-in challenge",
                            reason="OracleAgent only knows the built-in benchmark challenges; nothing to replay")
        for rel, content in self.reference_files():
            target = self.workspace / rel
            try:
                done = target.is_file() and target.read_text(encoding="utf-8") == content
            except (OSError, UnicodeDecodeError):
                done = False
            if not done:
                return decision("write_file", f"write {rel} from the reference solution", path=rel, content=content)
        return decision("finish", "every reference file is written",
                        reason=f"replayed the reference solution of {self.challenge.name}")

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: Sequence[Tool] = (),
        decision_schema: dict[str, Any] | None = None,
    ) -> LLMResponse:
        return LLMResponse(content=json.dumps(self.next_decision()), usage=Usage(0, 0, 0.0), model=self.name)


class OracleAgent(AutoGPTAgent):
    """The built-in agent with `OracleModel` in place of whatever model the server was given."""

    @classmethod
    def create(  # type: ignore[override]
        cls, goal: str, settings: Settings, model: ChatModel, tools: ToolRegistry, sink: RunLog, **kw: Any
    ) -> AutoGPTAgent:
        workspace = kw.get("workspace") or settings.agent_workspace()
        oracle = OracleModel(match_challenge(goal), Path(workspace))
        return super().create(goal, settings, oracle, tools, sink, **kw)
