"""`FileHistory`: keep the previous version of every file a step changes, so a run can be undone.

Before an approved action runs, a `StepJournal` (forge/runs/versions.py) is put in the tool context
as `ctx.extras["file_journal"]`. The file tools call `journal.keep(path)` on exactly the file they are
about to change; for any other tool that may change files (code, shell, plugin tools) the whole folder
is snapshot first. After the tool, the step's changes are written to the run folder and emitted as a
`FilesChanged` event (with diffs) that the display and `autogpt runs show` read.

It lives in the agent, not in the CLI, so runs driven by `autogpt run` and by the Agent Protocol
server (`autogpt serve`) both keep versions; an agent whose sink has no folder (a MemorySink) keeps none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from forge.agent.components import Component
from forge.events.models import FilesChanged
from forge.events.models import Warning as WarningEvent
from forge.runs.versions import StepJournal, VersionStore

if TYPE_CHECKING:
    from forge.agent.base import BaseAgent, Proposal
    from forge.agent.history import StepRecord

T = TypeVar("T")
JOURNAL_KEY = "file_journal"
# Tools that never change files: no journal, no scan.
READ_ONLY_TOOLS = frozenset({
    "read_file", "list_folder", "web_search", "read_webpage", "ask_user", "read_output", "finish",
    "remember", "recall",
})
# Tools that report the exact files they change through `journal.keep` (forge/tools/builtin.py).
EXACT_TOOLS = frozenset({"write_file"})


async def _off_loop(agent: BaseAgent, fn: Callable[[], T]) -> T:
    """A folder scan in a worker thread when the agent offloads its tools (a server stepping many
    tasks on one loop); inline otherwise."""
    return await asyncio.to_thread(fn) if agent.offload_tools else fn()


class FileHistory(Component):
    """Keeps previous file versions per step in `<run_dir>/files/`. `exclude`: folders inside the
    agent's folder that are never scanned (the data folder when --workdir contains it)."""

    def __init__(self, exclude: Iterable[Path] = ()):
        self.exclude = list(exclude)
        self._store: VersionStore | None = None

    def store(self, agent: BaseAgent) -> VersionStore | None:
        run_dir = getattr(agent.sink, "dir", None)
        if run_dir is None:
            return None
        if self._store is None:
            self._store = VersionStore(Path(run_dir), agent.workspace, exclude=self.exclude)
        return self._store

    async def before_execute(self, agent: BaseAgent, proposal: Proposal) -> None:
        assert proposal.tool is not None
        agent.ctx.extras.pop(JOURNAL_KEY, None)
        if proposal.tool.name in READ_ONLY_TOOLS or (store := self.store(agent)) is None:
            return
        journal = StepJournal(store, proposal.step)
        if proposal.tool.name not in EXACT_TOOLS:
            await _off_loop(agent, journal.snapshot)
        agent.ctx.extras[JOURNAL_KEY] = journal

    async def after_execute(self, agent: BaseAgent, record: StepRecord) -> None:
        journal = agent.ctx.extras.pop(JOURNAL_KEY, None)
        if not isinstance(journal, StepJournal):
            return
        changes, warnings = await _off_loop(agent, journal.finish)
        if changes or warnings:
            agent.emit(FilesChanged(step=record.step, changes=changes, warnings=warnings))
        for message in warnings:  # the model should know some of its changes cannot be undone
            agent.notes.append(f"Warning: {message}")
            agent.emit(WarningEvent(step=record.step, message=message))

    def on_resume(self, agent: BaseAgent, events: Sequence[Any]) -> None:
        # A step killed while its tool ran left a pending record: settle it now, before later steps
        # change the folder further.
        if (run_dir := getattr(agent.sink, "dir", None)) is not None and VersionStore.open(Path(run_dir)):
            store = self.store(agent)
            if store is not None:
                store.manifests()
