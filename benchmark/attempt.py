"""One attempt at one challenge, over the Agent Protocol: what every executor runs.

Challenge: create the task (`{{web}}` already replaced), upload artifacts_in, step until is_last approving
each action (or, with `mock`, upload artifacts_out as the agent's work instead), all within the cutoff;
then download every artifact into a temporary folder, add custom_python and evaluate. Python test: its
`run(agent)` within the cutoff. The result carries the metrics the report needs, including the runner's own
time (wall time minus the time spent waiting for the agent's answers).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.client import AgentClient, AgentProtocolError, AgentUnreachableError
from benchmark.evaluate import evaluate, verdict
from benchmark.results import AttemptResult, EvalResult, StepRecord
from benchmark.selection import Item

if TYPE_CHECKING:
    import httpx

    from forge.config import Settings
    from forge.protocol.models import Step

UNREACHABLE = "agent unreachable: "  # the runner turns it into "agent server died: ..." when it did
CUTOFF = "reached_cutoff"
OUTPUT_CHARS = 2000


@dataclass
class AttemptJob:
    item: Item
    attempt: int
    base_url: str
    task: str  # the task text with {{web}} replaced
    cutoff: float
    mock: bool = False
    api_key: str | None = None
    judge_model: str | None = None
    eval_settings: Settings | None = None
    web_url: str | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):  # {"prompt": 10, "completion": 5}
        parts = [v for v in value.values() if isinstance(v, int | float) and not isinstance(v, bool)]
        return float(sum(parts)) if parts else None
    return None


def step_record(step: Step) -> StepRecord:
    """The runner's view of a step; tool, tokens and cost come from additional_output when the agent reports
    them (ours: use_tool, tokens, cost_usd; AutoGPT's Forge: use_tool, task_cumulative_cost)."""
    extra = step.additional_output or {}
    raw_tool = extra.get("use_tool")
    use_tool: dict[str, Any] = raw_tool if isinstance(raw_tool, dict) else {}
    tokens = _number(extra.get("tokens", extra.get("total_tokens")))
    cost = _number(extra.get("cost_usd", extra.get("cost")))
    args = use_tool.get("arguments", use_tool.get("args"))
    output = step.output
    if output is not None and len(output) > OUTPUT_CHARS:
        output = output[:OUTPUT_CHARS] + " [...]"
    return StepRecord(
        step_id=step.step_id, name=step.name, input=step.input, output=output, is_last=step.is_last,
        tool=use_tool.get("name"), tool_args=args if isinstance(args, dict) else None,
        tokens=int(tokens) if tokens is not None else None, cost=cost,
        model=extra["model"] if isinstance(extra.get("model"), str) else None,
    )


def _cumulative_cost(steps: list[Step]) -> float | None:
    values = []
    for step in steps:
        extra = step.additional_output or {}
        for key in ("task_cumulative_cost_usd", "task_cumulative_cost", "task_total_cost"):
            if (value := _number(extra.get(key))) is not None:
                values.append(value)
    return max(values) if values else None


async def _challenge(job: AttemptJob, client: AgentClient, result: AttemptResult) -> list[EvalResult] | None:
    challenge = job.item.challenge
    assert challenge is not None
    try:
        async with asyncio.timeout(job.cutoff):
            await client.create_task(job.task)
            result.task_id = client.task_id
            await client.upload_folder(challenge.artifacts("artifacts_in"), challenge.path / "artifacts_in")
            if job.mock:
                await client.upload_folder(challenge.artifacts("artifacts_out"), challenge.path / "artifacts_out")
            else:
                await client.run_until_last(approve="y")
    except TimeoutError:
        result.reached_cutoff = True
        return None
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        folder = Path(tmp)
        await client.download_all(folder)
        custom = challenge.path / "custom_python"
        for path in challenge.artifacts("custom_python"):
            target = folder / path.relative_to(custom)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        # Scripts and pytest are sandboxed processes (and the judge a blocking call): off the event loop.
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(
                evaluate, challenge, folder, judge=job.judge_model, settings=job.eval_settings
            )
        finally:
            result.eval_time_s = round(time.perf_counter() - started, 5)


async def _python_test(job: AttemptJob, client: AgentClient, result: AttemptResult) -> list[EvalResult] | None:
    test = job.item.test
    assert test is not None
    try:
        async with asyncio.timeout(job.cutoff):
            outcome = await test.instantiate().run(client)
    except TimeoutError:
        result.reached_cutoff = True
        return None
    finally:
        result.task_id = client.task_id
    if not hasattr(outcome, "passed"):
        raise AgentProtocolError(f"{test.data_path}.run returned {type(outcome).__name__}, not a TestResult")
    details = outcome.details if isinstance(outcome.details, str) else json.dumps(outcome.details, default=str)
    return [EvalResult(source="test", score=outcome.normalised_score(), passed=bool(outcome.passed),
                       detail="" if outcome.passed else details[:1000])]


async def run_attempt(job: AttemptJob, http: httpx.AsyncClient | None = None) -> AttemptResult:
    """Never raises for the agent's or the challenge's failures: they are the result's fail_reason."""
    started = time.perf_counter()
    client = AgentClient(job.base_url, api_key=job.api_key, http=http, web_url=job.web_url)
    result = AttemptResult(attempt=job.attempt)
    evals: list[EvalResult] | None = None
    try:
        if job.item.test is not None:
            evals = await _python_test(job, client, result)
        else:
            evals = await _challenge(job, client, result)
    except AgentUnreachableError as e:
        result.fail_reason = f"{UNREACHABLE}{e}"
    except AgentProtocolError as e:
        result.fail_reason = f"agent error: {e}"
    except Exception as e:  # a Python test's own bug, a bad artifact: this attempt fails, the run goes on
        result.fail_reason = f"{type(e).__name__}: {e}"
    finally:
        await client.aclose()
    if result.reached_cutoff:
        result.fail_reason = CUTOFF
    if evals is not None:
        result.evals = evals
        if job.item.challenge is not None:
            result.success, result.score, result.fail_reason = verdict(job.item.challenge, evals)
        else:
            result.success, result.score = evals[0].passed, evals[0].score
            result.fail_reason = None if evals[0].passed else f"test failed: {evals[0].detail}"
    else:
        result.success, result.score = False, 0.0
    steps = client.steps
    result.steps = [step_record(s) for s in steps]
    result.n_steps = len(steps)
    step_tokens = [r.tokens for r in result.steps if r.tokens is not None]
    step_costs = [r.cost for r in result.steps if r.cost is not None]
    result.tokens = sum(step_tokens) if step_tokens else None
    result.cost = round(sum(step_costs), 8) if step_costs else _cumulative_cost(steps)
    elapsed = time.perf_counter() - started
    result.run_time_s = round(elapsed, 4)
    result.run_time = f"{elapsed:.3f} seconds"
    result.runner_time_s = round(max(elapsed - client.wait_s, 0.0), 5)
    return result
