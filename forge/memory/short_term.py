"""Short-term memory: the step history, compressed by an LLM so it always fits the context window.

The prompt shows the last `history_steps` steps in full and older steps as one-line entries
(forge.agent.prompt). When the prompt nears its budget, the oldest one-line entries are replaced,
a group at a time, by one LLM-written line per group (`Summary`); when even those overflow, the two
oldest summaries are merged into one. Each summary is an event in the run log, so a resumed run
gets them back without asking the model again. If the model's answer is unusable, a mechanical
summary (tools used, ok/error counts) takes its place: compression never fails the run.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from forge.agent.history import StepRecord
from forge.errors import LLMError
from forge.models.base import ChatModel, Usage, complete_with_progress

if TYPE_CHECKING:
    from forge.events.progress import ProgressCallback

log = logging.getLogger(__name__)

SUMMARY_GROUP = 8  # old steps folded into one summary line per LLM call
SUMMARY_MAX_CHARS = 240
# Compress when the assembled prompt passes this share of its budget ("the limit nears").
PRESSURE_THRESHOLD = 0.75

SYSTEM = (
    "You compress an autonomous agent's log. Reply with ONE line of at most 35 words: what was "
    "done and learned, keeping file names, numbers, URLs and errors. No preamble."
)


@dataclass
class Summary:
    first: int  # first step covered
    last: int  # last step covered
    text: str

    def line(self) -> str:
        span = f"Steps {self.first}-{self.last}" if self.first != self.last else f"Step {self.first}"
        return f"{span} (summary): {self.text}"

    def to_event(self) -> dict[str, Any]:
        return asdict(self)


def mechanical_summary(records: list[StepRecord]) -> str:
    """What a summary says when no model answer is usable: tools used and how they went."""
    calls = Counter((r.decision or {}).get("tool", "invalid reply") for r in records)
    errors = sum(1 for r in records if not r.ok or r.decision is None)
    used = ", ".join(f"{tool} x{n}" for tool, n in calls.most_common())
    return f"{used}; {errors} error(s)"


def _clean(text: str) -> str:
    for line in (text or "").splitlines():
        line = line.strip().strip('"').strip()
        # Small models sometimes answer with JSON or a label: keep the content, drop the wrapper.
        if line and not line.startswith(("{", "[", "```")):
            line = line.removeprefix("Summary:").strip()
            return line[:SUMMARY_MAX_CHARS]
    return ""


class Summarizer:
    """Writes summary lines with a chat model (the `--fast-model` when given)."""

    def __init__(self, model: ChatModel, progress: ProgressCallback | None = None):
        self.model = model
        self.progress = progress  # told of each call, as the agent's own calls are (live line, --debug)

    async def _ask(self, content: str) -> tuple[str, Usage]:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]
        try:
            response = await complete_with_progress(self.model, messages, progress=self.progress)
        except LLMError as e:  # a provider failure costs us a better summary, not the run
            log.warning("summary model failed (%s); using a mechanical summary", e)
            return "", Usage()
        return _clean(response.content or ""), response.usage

    async def summarize(self, records: list[StepRecord]) -> tuple[Summary, Usage]:
        entries = "\n".join(r.one_line() for r in records)
        text, usage = await self._ask(f"Agent steps:\n{entries}\n\nOne-line summary:")
        return Summary(records[0].step, records[-1].step, text or mechanical_summary(records)), usage

    async def merge(self, a: Summary, b: Summary) -> tuple[Summary, Usage]:
        prompt = f"Two summaries of consecutive steps:\n1. {a.text}\n2. {b.text}\n\nMerged one line:"
        text, usage = await self._ask(prompt)
        return Summary(a.first, b.last, text or f"{a.text} {b.text}"[:SUMMARY_MAX_CHARS]), usage


async def next_compression(
    old: list[StepRecord], summaries: list[Summary], summarizer: Summarizer, *, merge: bool = False
) -> tuple[list[Summary], Usage] | None:
    """One compression move: merge the two oldest summaries when `merge` (the summary lines alone
    crowd the section), else summarise the oldest group of old steps no summary covers yet.
    None when nothing is left to do."""
    covered = summaries[-1].last if summaries else 0
    pending = [r for r in old if r.step > covered]
    if pending and not (merge and len(summaries) >= 2):
        summary, usage = await summarizer.summarize(pending[:SUMMARY_GROUP])
        return [*summaries, summary], usage
    if len(summaries) >= 2:
        merged, usage = await summarizer.merge(summaries[0], summaries[1])
        return [merged, *summaries[2:]], usage
    return None
