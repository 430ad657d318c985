"""Run events as typed pydantic models: one discriminated union for agent runs, one for workflow runs.

Written as the same JSONL as always (`{"seq", "ts", "type", ...fields}`), so old run logs keep
loading; an event type this version does not know loads as `UnknownEvent` instead of failing.
Readers (replay, resume, display, `read_output`) match on the class, never on string keys.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter


class Event(BaseModel):
    """Fields every event has. `seq` and `ts` are set by the sink when the event is written."""

    model_config = ConfigDict(extra="allow")  # fields added by later versions survive a round trip

    type: str
    seq: int = 0
    ts: float = 0.0

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=False)


class UsageFields(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


# Agent runs ----------------------------------------------------------------------------------
class RunStarted(Event):
    type: Literal["run_started"] = "run_started"
    run_id: str = ""
    goal: str = ""
    model: str = ""
    profile: dict[str, Any] = Field(default_factory=dict)


class Resumed(Event):
    type: Literal["resumed"] = "resumed"
    step: int = 0
    model: str = ""


class StepStarted(Event):
    type: Literal["step_started"] = "step_started"
    step: int


class PromptBuilt(Event):
    type: Literal["prompt"] = "prompt"
    step: int
    tokens: int = 0
    budget: int = 0
    full_steps: int = 0
    old_lines: int = 0
    omitted: int = 0


class MemoriesRecalled(Event):
    type: Literal["memories_recalled"] = "memories_recalled"
    step: int
    hits: list[dict[str, Any]] = Field(default_factory=list)


class HistorySummary(Event):
    type: Literal["history_summary"] = "history_summary"
    step: int
    summaries: list[dict[str, Any]] = Field(default_factory=list)
    usage: UsageFields = Field(default_factory=UsageFields)


class DecisionMade(Event):
    type: Literal["decision"] = "decision"
    step: int
    decision: dict[str, Any]
    usage: UsageFields = Field(default_factory=UsageFields)


class InvalidDecision(Event):
    type: Literal["invalid_decision"] = "invalid_decision"
    step: int
    error: str
    raw: str | None = None
    usage: UsageFields = Field(default_factory=UsageFields)


class UserFeedback(Event):
    type: Literal["user_feedback"] = "user_feedback"
    step: int
    text: str


class ActionEdited(Event):
    """The user changed the proposed action's arguments before approving it (validated against the tool)."""

    type: Literal["action_edited"] = "action_edited"
    step: int
    tool_args: dict[str, Any]
    by: str = "user"


class FollowUp(Event):
    """A new instruction for a finished run (`autogpt run --continue RUN_ID "..."`): the run goes on."""

    type: Literal["follow_up"] = "follow_up"
    step: int
    text: str


class UserInput(Event):
    type: Literal["user_input"] = "user_input"
    step: int
    text: str


class ToolStarted(Event):
    type: Literal["tool_started"] = "tool_started"
    step: int
    tool: str


class ToolResult(Event):
    type: Literal["tool_result"] = "tool_result"
    step: int
    tool: str | None = None
    ok: bool
    output: str
    interrupted: bool = False


class FileChange(BaseModel):
    """One file a step created, modified or deleted (forge/runs/versions.py keeps its previous version)."""

    path: str
    change: Literal["created", "modified", "deleted"]
    kept: bool = True  # the previous version can be restored
    binary: bool = False
    diff: str = ""  # unified diff, cut after DIFF_MAX_LINES lines; empty for binary or large files
    diff_truncated: int = 0  # diff lines left out
    added: int = 0
    removed: int = 0


class FilesChanged(Event):
    """The files a step changed in the agent's folder, with diffs: what `runs undo` can restore."""

    type: Literal["files_changed"] = "files_changed"
    step: int
    changes: list[FileChange] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class Warning(Event):  # noqa: A001 - the event's name in the log
    type: Literal["warning"] = "warning"
    step: int
    message: str


class Finished(Event):
    type: Literal["finished"] = "finished"
    status: str
    reason: str = ""
    summary: str = ""
    elapsed_s: float | None = None  # of this invocation
    workspace: str | None = None  # the folder the agent's files are in


class UnknownEvent(Event):
    """An event type this version does not know (written by a newer one, or a plugin)."""


# Workflow runs -------------------------------------------------------------------------------
class NodeStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


class WorkflowStarted(Event):
    type: Literal["run_started"] = "run_started"
    run_id: str = ""
    workflow: str = ""
    file: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    nodes: int = 0
    executor: str = "inprocess"


class WorkflowResumed(Event):
    type: Literal["resumed"] = "resumed"
    run_id: str = ""
    workflow: str = ""
    replayed: list[str] = Field(default_factory=list)
    rerun: list[str] = Field(default_factory=list)
    file: str | None = None  # the corrected workflow file given to `resume`, if any
    changed: list[str] = Field(default_factory=list)  # nodes whose definition differs from the last invocation
    inputs: dict[str, Any] = Field(default_factory=dict)  # the run inputs from now on (earlier ones + new -i)


class NodeStarted(Event):
    type: Literal["node_started"] = "node_started"
    node: str
    block: str = ""
    attempt: int = 1


class NodeOutput(Event):
    type: Literal["node_output"] = "node_output"
    node: str
    output: str
    value: Any = None
    cached: bool = False


class NodeRetry(Event):
    type: Literal["node_retry"] = "node_retry"
    node: str
    attempt: int
    error: str = ""
    delay_s: float = 0.0


class NodeFinished(Event):
    type: Literal["node_finished"] = "node_finished"
    node: str
    status: NodeStatus
    error: str | None = None
    duration_s: float | None = None
    cached: bool = False
    attempts: int = 1
    outputs: dict[str, Any] = Field(default_factory=dict)


class NodeSkipped(Event):
    type: Literal["node_skipped"] = "node_skipped"
    node: str
    status: NodeStatus
    reason: str = ""


class WorkflowInterrupted(Event):
    type: Literal["interrupted"] = "interrupted"
    running: list[str] = Field(default_factory=list)


class WorkflowFinished(Event):
    type: Literal["finished"] = "finished"
    status: str
    counts: dict[str, int] = Field(default_factory=dict)


def _union(*classes: type[Event]) -> TypeAdapter[Any]:
    known = {c.model_fields["type"].default for c in classes}

    def tag(value: Any) -> str:
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        return kind if isinstance(kind, str) and kind in known else "unknown"

    members = [Annotated[c, Tag(c.model_fields["type"].default)] for c in classes]
    members.append(Annotated[UnknownEvent, Tag("unknown")])
    union: Any = Union[tuple(members)]  # noqa: UP007 - built from a list
    return TypeAdapter(Annotated[union, Discriminator(tag)])


AgentEvent = (
    RunStarted | Resumed | StepStarted | PromptBuilt | MemoriesRecalled | HistorySummary | DecisionMade
    | InvalidDecision | UserFeedback | ActionEdited | FollowUp | UserInput | ToolStarted | ToolResult | FilesChanged
    | Warning | Finished | UnknownEvent
)
WorkflowEvent = (
    WorkflowStarted | WorkflowResumed | NodeStarted | NodeOutput | NodeRetry | NodeFinished | NodeSkipped
    | WorkflowInterrupted | WorkflowFinished | UnknownEvent
)

_AGENT = _union(
    RunStarted, Resumed, StepStarted, PromptBuilt, MemoriesRecalled, HistorySummary, DecisionMade,
    InvalidDecision, UserFeedback, ActionEdited, FollowUp, UserInput, ToolStarted, ToolResult, FilesChanged, Warning,
    Finished,
)
_WORKFLOW = _union(
    WorkflowStarted, WorkflowResumed, NodeStarted, NodeOutput, NodeRetry, NodeFinished, NodeSkipped,
    WorkflowInterrupted, WorkflowFinished,
)


def parse_agent_event(data: dict[str, Any]) -> AgentEvent:
    """One agent-run event from its JSON object; a damaged known event loads as UnknownEvent."""
    try:
        return _AGENT.validate_python(data)  # type: ignore[no-any-return]
    except ValueError:
        return UnknownEvent.model_validate(data)


def parse_workflow_event(data: dict[str, Any]) -> WorkflowEvent:
    try:
        return _WORKFLOW.validate_python(data)  # type: ignore[no-any-return]
    except ValueError:
        return UnknownEvent.model_validate(data)
