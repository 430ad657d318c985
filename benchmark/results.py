"""What a benchmark run produces: `reports/<run>/report.json`, in agbenchmark's report shape plus our fields.

One set of models is both the in-memory result and the file, so writing is `model_dump_json(by_alias=True)` and
`./run benchmark report|compare` read a run back with `BenchmarkReport.load`. agbenchmark's keys are kept as it
writes them (`success_%`, `run_time` as "12.345 seconds", `tests` keyed by challenge name); our additions
(scores, pass@k, tokens, steps, the model) are extra keys that agbenchmark's readers ignore.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class StepRecord(BaseModel):
    """One Agent Protocol step as the runner saw it (outputs clipped to keep reports small)."""

    step_id: str | None = None
    name: str | None = None
    input: str | None = None
    output: str | None = None
    is_last: bool = False
    tool: str | None = None  # from additional_output.use_tool when the agent reports it
    tool_args: dict[str, Any] | None = None
    tokens: int | None = None
    cost: float | None = None
    model: str | None = None  # from additional_output.model when the agent reports it


class EvalResult(BaseModel):
    """One check of one output: a file's text, a script's run, pytest, or the judge's score."""

    source: str  # the file, script or "pytest" / "llm" it judged
    score: float  # 0..1
    passed: bool
    detail: str = ""  # why it failed (missing words, the script's error line, the judge's reply)


class AttemptResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    attempt: int = 1
    success: bool | None = None  # None: never evaluated (skipped, or the runner failed first)
    score: float | None = None
    run_time: str | None = None  # agbenchmark writes "12.345 seconds"
    run_time_s: float | None = None
    fail_reason: str | None = None
    reached_cutoff: bool = False
    n_steps: int = 0
    steps: list[StepRecord] = Field(default_factory=list)
    cost: float | None = None
    tokens: int | None = None
    task_id: str | None = None
    evals: list[EvalResult] = Field(default_factory=list)
    runner_time_s: float | None = None  # wall time spent in the runner itself, beyond waiting on the agent
    eval_time_s: float | None = None  # of which: running the challenge's checks (sandboxed scripts, pytest, judge)


class ChallengeMetrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    attempted: bool
    is_regression: bool = False
    success_percentage: float | None = Field(default=None, alias="success_%")
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    k: int = 1
    success_rate_stderr: float | None = None  # spread of the success rate over the attempts
    skipped: str | None = None  # why it did not run (a failed dependency, an interrupt)


class ChallengeReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    category: list[str]
    difficulty: str | None = None
    data_path: str
    description: str = ""
    task: str
    answer: str = ""
    eval_id: str = ""
    eval_type: str = ""
    dependencies: list[str] = Field(default_factory=list)
    cutoff: int | None = None
    metrics: ChallengeMetrics
    results: list[AttemptResult] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None


class RunMetrics(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    run_time: str  # "123.4 seconds"
    run_time_s: float = 0.0
    highest_difficulty: str = "No successful tests"  # agbenchmark: "<difficulty>: <level>"
    total_cost: float | None = None
    total_tokens: int | None = None
    success_percentage: float | None = Field(default=None, alias="success_%")
    pass_at_1: float | None = None
    pass_at_k: float | None = None
    k: int = 1


class BenchmarkReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    command: str
    benchmark_start_time: str  # ISO 8601, UTC
    completion_time: str | None = None
    run_id: str = ""  # the reports/<run_id>/ folder name
    agent: str = ""  # "autogpt", an agent path, or the --host URL
    model: str | None = None
    mock: bool = False
    interrupted: bool = False  # Ctrl-C: the report holds what finished
    metrics: RunMetrics
    config: dict[str, Any] = Field(default_factory=dict)
    tests: dict[str, ChallengeReport] = Field(default_factory=dict)

    def dump(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)

    @classmethod
    def load(cls, path: Path) -> BenchmarkReport:
        return cls.model_validate_json(path.read_text())
