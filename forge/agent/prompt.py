"""Build the messages of one cycle from the prompt templates.

The shipped templates are package data (`forge/prompts/*.txt`, read with importlib.resources, so
an installed wheel finds them); a user's folder (`prompts_dir`) overrides them file by file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from forge.agent.config import AgentConfig, AgentProfile
from forge.agent.history import StepRecord
from forge.errors import ConfigError
from forge.memory.short_term import PRESSURE_THRESHOLD, Summary
from forge.models.base import Model
from forge.models.scripted import ScriptedModel
from forge.models.tokens import MESSAGE_OVERHEAD, count_messages, count_text, truncate_to_tokens
from forge.tools.base import ToolRegistry

SHIPPED = "forge/prompts"  # where the shipped templates live, for messages
OLD_SECTION_RESERVE = 120  # tokens kept for the one-line section while fitting full steps
MIN_OBSERVATION_TOKENS = 48  # below this, a step is shown as a one-liner instead
HEADER_TOKENS = 12
MIN_GOAL_TOKENS = 32


@lru_cache(maxsize=64)
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def shipped_template(name: str) -> str | None:
    """The template of that name shipped inside the package, or None."""
    entry = resources.files("forge") / "prompts" / name
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def load_template(name: str, prompts_dir: Path | None = None) -> str:
    """A template from the user's prompts dir, falling back to the shipped one."""
    if prompts_dir is not None and (prompts_dir / name).is_file():
        return _read(prompts_dir / name)
    text = shipped_template(name)
    if text is None:
        where = f"not in {SHIPPED}" if prompts_dir is None else f"in neither {prompts_dir} nor {SHIPPED}"
        raise ConfigError(f"prompt template {name} is {where}; restore it or reinstall the package")
    return text


def _lines(name: str, prompts_dir: Path | None, extra: list[str]) -> str:
    items = [ln.strip() for ln in load_template(name, prompts_dir).splitlines() if ln.strip()] + extra
    return "\n".join(f"- {item}" for item in items)


@dataclass
class PromptStats:
    """How the last prompt was fitted into its budget."""

    tokens: int
    budget: int
    full_steps: int = 0
    old_lines: int = 0
    omitted: int = 0  # old steps left out entirely (nothing summarises them yet)
    old_tokens_wanted: int = 0  # what all old-step lines would have cost
    old_cap: int = 0  # what they may cost: history_tokens, or less when the window is tight

    @property
    def under_pressure(self) -> bool:
        """The limit nears: the one-line section fills most of its budget, so compress it."""
        return self.old_tokens_wanted > PRESSURE_THRESHOLD * self.old_cap


class PromptBuilder:
    """Assembles each cycle's messages inside a token budget (context window minus reply reserve).

    Priority when room is short: system prompt and the step message (goal, notes, recalled
    memories) first; then the last `history_steps` steps in full, newest first, their results cut
    to fit; then one line per older step (or a summary line per group), newest first, within
    `history_tokens`. Whatever does not fit is counted as omitted, never sent.
    """

    def __init__(
        self,
        profile: AgentProfile,
        config: AgentConfig,
        tools: ToolRegistry,
        goal: str,
        *,
        model: Model | None = None,
        budget: int | None = None,
    ):
        self.config = config
        self.goal = goal
        self.model: Model = model or ScriptedModel([])  # no model: count ~4 characters a token
        self.budget = budget
        d = config.prompts_dir
        system = Template(load_template("system.txt", d)).safe_substitute(
            ai_name=profile.ai_name,
            ai_role=profile.ai_role,
            constraints=_lines("constraints.txt", d, profile.constraints),
            resources=_lines("resources.txt", d, profile.resources),
            best_practices=_lines("best_practices.txt", d, profile.best_practices),
            tools="\n".join(f"- {t.signature()}" for t in tools),
        )
        self.system_message = {"role": "system", "content": system}
        self.step_template = Template(load_template("step.txt", d))
        self.last_stats: PromptStats | None = None

    @classmethod
    def from_options(cls, options: Any, tools: ToolRegistry, goal: str, **kwargs: Any) -> PromptBuilder:
        """A builder configured from a larger options object (the CLI's Settings)."""
        from forge.agent.config import profile_from_options

        return cls(profile_from_options(options), AgentConfig.from_options(options), tools, goal, **kwargs)

    def _count(self, text: str) -> int:
        return count_text(self.model, text)

    def observation_text(self, rec: StepRecord, max_tokens: int | None = None) -> str:
        if rec.decision is None:
            return f"Error: your reply was not a valid decision: {rec.error}. Reply with one JSON object."
        if rec.feedback is not None:
            return f"The user did not run {rec.decision.get('tool')} and said: {rec.feedback}"
        label = "Result" if rec.ok else "Error"
        head = f"{label} of {rec.decision.get('tool')}: "
        out = rec.output or ""
        shown = min(len(out), self.config.max_observation_chars)

        def render(n: int) -> str:
            return head + out[:n] + (_cut_marker(rec.step, n, len(out)) if n < len(out) else "")

        if max_tokens is not None and self._count(render(shown)) > max_tokens:
            # Largest cut (in characters, so read_output's offset is exact) whose text fits.
            lo, hi = 0, shown
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if self._count(render(mid)) <= max_tokens else (lo, mid - 1)
            shown = lo
        return render(shown)

    def _step_message(self, step: int, notes: list[str], memories: str) -> dict[str, Any]:
        extra = list(notes)
        if memories:
            extra.append(memories)
        content = self.step_template.safe_substitute(goal=self.goal, step=step, notes="\n".join(extra))
        return {"role": "user", "content": content.replace("\n\n", "\n")}

    def messages(
        self,
        history: list[StepRecord],
        step: int,
        notes: list[str],
        *,
        summaries: Sequence[Summary] = (),
        memories: str = "",
    ) -> list[dict[str, Any]]:
        budget = self.budget
        step_msg = self._step_message(step, notes, memories)
        fixed = count_messages(self.model, [self.system_message, step_msg])
        if budget is not None and fixed > budget:
            step_msg = self._fit_step_message(step, notes, memories, budget)
            fixed = count_messages(self.model, [self.system_message, step_msg])
        room = None if budget is None else budget - fixed

        keep = self.config.history_steps
        old, recent = (history[:-keep], history[-keep:]) if keep else (history, [])
        pairs: list[list[dict[str, Any]]] = []  # newest first
        for i, rec in enumerate(reversed(recent)):
            reply = json.dumps(rec.decision, ensure_ascii=False) if rec.decision is not None else (rec.raw or "")[:300]
            obs = self.observation_text(rec)
            cost = 2 * MESSAGE_OVERHEAD + self._count(reply) + self._count(obs)
            if room is not None and cost > room - OLD_SECTION_RESERVE:
                obs_room = room - OLD_SECTION_RESERVE - 2 * MESSAGE_OVERHEAD - self._count(reply)
                if obs_room < MIN_OBSERVATION_TOKENS:
                    # No room for this step in full: it and everything older become one-liners.
                    old = history[: len(history) - i]
                    break
                obs = self.observation_text(rec, obs_room)
                cost = 2 * MESSAGE_OVERHEAD + self._count(reply) + self._count(obs)
            pairs.append([{"role": "assistant", "content": reply}, {"role": "user", "content": obs}])
            if room is not None:
                room -= cost

        old_msg, stats = self._old_section(old, summaries, room)
        msgs: list[dict[str, Any]] = [self.system_message]
        if old_msg is not None:
            msgs.append(old_msg)
        for pair in reversed(pairs):
            msgs.extend(pair)
        msgs.append(step_msg)
        stats.tokens = count_messages(self.model, msgs)
        # Token counts of joined texts can differ from their parts by a few: never send more.
        while budget is not None and stats.tokens > budget and len(msgs) > 2:
            drop = 2 if msgs[1]["role"] == "assistant" else 1
            del msgs[1 : 1 + drop]
            stats.tokens = count_messages(self.model, msgs)
        stats.budget = budget or 0
        stats.full_steps = len(pairs)
        self.last_stats = stats
        return msgs

    def _old_section(
        self, old: list[StepRecord], summaries: Sequence[Summary], room: int | None
    ) -> tuple[dict[str, Any] | None, PromptStats]:
        """Summary lines first (they stand for many steps), then one line per later old step,
        newest first; each kind drops its oldest entries when the section is full."""
        stats = PromptStats(tokens=0, budget=0)
        last_old = old[-1].step if old else 0
        summaries = [s for s in summaries if s.first <= last_old]
        covered = summaries[-1].last if summaries else 0
        # (line, steps it stands for), oldest first
        entries = [(s.line(), s.last - s.first + 1) for s in summaries]
        n_summary = len(entries)
        entries += [(r.one_line(), 1) for r in old if r.step > covered]
        if not entries:
            return None, stats
        costs = [self._count(line) + 1 for line, _ in entries]
        stats.old_tokens_wanted = sum(costs)
        cap = self.config.history_tokens
        if room is not None:
            cap = min(cap, room - MESSAGE_OVERHEAD - HEADER_TOKENS)
        stats.old_cap = cap
        keep = [False] * len(entries)
        used = 0
        for group in (range(n_summary - 1, -1, -1), range(len(entries) - 1, n_summary - 1, -1)):
            for i in group:
                if used + costs[i] > cap:
                    break
                keep[i] = True
                used += costs[i]
        kept = [line for (line, _), k in zip(entries, keep, strict=True) if k]
        stats.old_lines = len(kept)
        stats.omitted = sum(steps for (_, steps), k in zip(entries, keep, strict=True) if not k)
        if not kept:
            return None, stats
        header = f"Earlier steps ({stats.omitted} omitted):" if stats.omitted else "Earlier steps:"
        return {"role": "user", "content": header + "\n" + "\n".join(kept)}, stats

    def _fit_step_message(self, step: int, notes: list[str], memories: str, budget: int) -> dict[str, Any]:
        """The step message alone overflows: drop memories, then notes, then cut the goal."""
        for n, m in ((notes, ""), ([], "")):
            msg = self._step_message(step, n, m)
            if count_messages(self.model, [self.system_message, msg]) <= budget:
                return msg
        system_cost = count_messages(self.model, [self.system_message])
        goal_room = budget - system_cost - MESSAGE_OVERHEAD - self._count(self._step_message(step, [], "")["content"])
        goal_room += self._count(self.goal)
        if goal_room < MIN_GOAL_TOKENS:
            raise ConfigError(
                f"the system prompt alone needs {system_cost} tokens but the context allows {budget}; "
                "raise --max-context-tokens or shorten the prompts"
            )
        while True:
            goal = truncate_to_tokens(self.model, self.goal, goal_room, " [goal cut to fit the context]")
            content = self.step_template.safe_substitute(goal=goal, step=step, notes="")
            msg = {"role": "user", "content": content.replace("\n\n", "\n")}
            if count_messages(self.model, [self.system_message, msg]) <= budget or goal_room <= MIN_GOAL_TOKENS:
                return msg
            goal_room -= 4


def _cut_marker(step: int, shown: int, total: int) -> str:
    return f"\n[... {total - shown} more characters cut; read_output(step={step}, offset={shown}) shows the rest]"
