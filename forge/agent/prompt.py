"""Build the messages of one cycle from the editable templates in `prompts/`."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from forge.agent.history import StepRecord
from forge.config import Settings
from forge.errors import ConfigError
from forge.tools.base import ToolRegistry

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
OLD_STEPS_SHOWN = 30  # one-line entries kept for steps older than the full-detail window


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_template(name: str, prompts_dir: Path | None = None) -> str:
    """A template from the user's prompts dir, falling back to the shipped one."""
    for folder in (prompts_dir, DEFAULT_PROMPTS_DIR):
        if folder is not None and (folder / name).is_file():
            return _read(folder / name)
    raise ConfigError(f"prompt template {name} not found in {prompts_dir or DEFAULT_PROMPTS_DIR}; restore it")


def _lines(name: str, prompts_dir: Path | None, extra: list[str]) -> str:
    items = [ln.strip() for ln in load_template(name, prompts_dir).splitlines() if ln.strip()] + extra
    return "\n".join(f"- {item}" for item in items)


class PromptBuilder:
    def __init__(self, settings: Settings, tools: ToolRegistry, goal: str):
        self.settings = settings
        self.goal = goal
        d = settings.prompts_dir
        system = Template(load_template("system.txt", d)).safe_substitute(
            ai_name=settings.ai_name,
            ai_role=settings.ai_role,
            constraints=_lines("constraints.txt", d, settings.constraints),
            resources=_lines("resources.txt", d, settings.resources),
            best_practices=_lines("best_practices.txt", d, settings.best_practices),
            tools="\n".join(f"- {t.signature()}" for t in tools),
        )
        self.system_message = {"role": "system", "content": system}
        self.step_template = Template(load_template("step.txt", d))

    def observation_text(self, rec: StepRecord) -> str:
        if rec.decision is None:
            return f"Error: your reply was not a valid decision: {rec.error}. Reply with one JSON object."
        if rec.feedback is not None:
            return f"The user did not run {rec.decision.get('tool')} and said: {rec.feedback}"
        out = rec.output or ""
        limit = self.settings.max_observation_chars
        if len(out) > limit:
            out = out[:limit] + f"\n[... {len(out) - limit} more characters cut]"
        label = "Result" if rec.ok else "Error"
        return f"{label} of {rec.decision.get('tool')}: {out}"

    def messages(self, history: list[StepRecord], step: int, notes: list[str]) -> list[dict[str, Any]]:
        msgs: list[dict[str, Any]] = [self.system_message]
        keep = self.settings.history_steps
        old, recent = history[:-keep] if keep else history, history[-keep:] if keep else []
        if old:
            shown = old[-OLD_STEPS_SHOWN:]
            header = f"Earlier steps ({len(old) - len(shown)} older omitted):" if len(old) > len(shown) else (
                "Earlier steps:"
            )
            msgs.append({"role": "user", "content": header + "\n" + "\n".join(r.one_line() for r in shown)})
        for rec in recent:
            if rec.decision is not None:
                reply = json.dumps(rec.decision, ensure_ascii=False)
            else:
                reply = (rec.raw or "")[:300]
            msgs.append({"role": "assistant", "content": reply})
            msgs.append({"role": "user", "content": self.observation_text(rec)})
        msgs.append(
            {
                "role": "user",
                "content": self.step_template.safe_substitute(
                    goal=self.goal, step=step, notes="\n".join(notes)
                ).replace("\n\n", "\n"),
            }
        )
        return msgs
