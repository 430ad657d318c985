"""Short-term memory: every prompt fits the context budget; old steps are summarised by the LLM."""

from __future__ import annotations

import asyncio
import re

import pytest

from forge.agent import loop
from forge.agent.agent import Agent, prompt_budget
from forge.agent.components import HistorySummaries
from forge.agent.outcome import Status
from forge.errors import ConfigError, LLMError
from forge.models.litellm_model import LiteLLMModel
from forge.models.scripted import ScriptedModel, decision
from forge.models.tokens import count_messages, count_text, truncate_to_tokens
from forge.runs.log import read_events
from forge.tools.base import ToolContext, ToolRegistry, tool
from forge.tools.builtin import read_output

BIG = 30_000  # characters each `dump` returns: ~7,500 tokens, far more than the window


@tool
def dump(n: int) -> str:
    """Produce a large output.

    Args:
        n: A number that changes the output.
    """
    return f"start-{n} " + "".join(f"line {n}.{i} lorem ipsum dolor sit amet\n" for i in range(BIG // 34)) + " END"


@tool(ends_run=True)
def finish(reason: str) -> str:
    """End the run.

    Args:
        reason: Why.
    """
    return reason


def _step_of(messages) -> int:
    return int(re.search(r"Step (\d+)\.", messages[-1]["content"]).group(1))


def dumping_model(limit: int | None = None) -> ScriptedModel:
    """Calls `dump` with a new argument every step (so it never looks stuck), then finishes."""

    def reply(messages):
        n = _step_of(messages)
        if limit is not None and n >= limit:
            return decision("finish", "done", reason="all dumped")
        return decision("dump", f"dump number {n}", n=n)

    return ScriptedModel([reply], repeat_last=True)


def summary_model(text: str = "dumped many big outputs; all fine") -> ScriptedModel:
    return ScriptedModel([lambda messages: text], repeat_last=True, name="scripted-fast")


def tools() -> ToolRegistry:
    return ToolRegistry([dump, read_output, finish])


@pytest.fixture
def tight(settings):
    settings.max_context_tokens = 3000
    settings.max_iterations = 200
    settings.stuck_repeats = 1000
    settings.memory = False
    return settings


def test_200_cycles_never_exceed_the_budget_and_summaries_replace_old_steps(tight):
    model, fast = dumping_model(), summary_model()
    agent = Agent.start("dump things forever", tight, model, tools(), summary_model=fast)
    outcome = loop.run(agent)
    assert outcome.status is Status.ITERATION_LIMIT and outcome.steps == 200

    budget = prompt_budget(model, tools(), tight)
    assert budget == 3000 - 750  # a quarter of a small window is kept for the reply
    sizes = [count_messages(model, msgs) for msgs in model.calls]
    assert len(sizes) == 200 and max(sizes) <= budget
    # Flat: late prompts are no bigger than early ones once the window is full.
    assert sizes[199] <= max(sizes[:20]) + 60

    events = list(read_events(agent.log.dir))
    summaries = [e for e in events if e["type"] == "history_summary"]
    assert summaries, "old steps should have been compressed"
    assert len(fast.calls) == len(summaries)  # the fast model, not the main one, wrote them
    last_prompt = "\n".join(m["content"] for m in model.calls[-1])
    assert "(summary): dumped many big outputs" in last_prompt
    assert "Step 1-" not in last_prompt and re.search(r"Steps 1-\d+ \(summary\)", last_prompt)
    # Every prompt event reports the real size and its budget.
    prompts = [e for e in events if e["type"] == "prompt"]
    assert all(e["tokens"] <= e["budget"] == budget for e in prompts)


def test_no_summary_drops_old_steps_but_stays_in_budget(tight):
    tight.summary = False
    model = dumping_model()
    tight.max_iterations = 60
    agent = Agent.start("dump things", tight, model, tools(), summary_model=summary_model())
    loop.run(agent)
    budget = prompt_budget(model, tools(), tight)
    assert max(count_messages(model, m) for m in model.calls) <= budget
    assert not [e for e in read_events(agent.log.dir) if e["type"] == "history_summary"]
    last = model.calls[-1][1]["content"]
    assert re.match(r"Earlier steps \(\d+ omitted\):", last)


def test_cut_output_has_a_marker_and_read_output_returns_the_rest(tight):
    model = dumping_model(limit=3)
    agent = Agent.start("dump twice", tight, model, tools())
    loop.run(agent)
    observation = model.calls[1][-2]["content"]  # the result of step 1, shown at step 2
    m = re.search(r"read_output\(step=1, offset=(\d+)\) shows the rest", observation)
    assert m and observation.startswith("Result of dump: start-1 ")
    offset = int(m.group(1))
    ctx = ToolContext(workspace=tight.agent_workspace(), settings=tight, extras={"run_dir": agent.log.dir})
    rest = read_output(ctx, {"step": 1, "offset": offset})
    full = dump(ctx, {"n": 1})
    assert rest.startswith(full[offset : offset + 100])
    assert "call read_output(step=1, offset=" in rest
    tail = read_output(ctx, {"step": 1, "offset": len(full) - 10})
    assert tail == full[-10:]


def test_read_output_errors_are_for_the_model(tight, tmp_path):
    ctx = ToolContext(workspace=tmp_path, settings=tight, extras={"run_dir": tmp_path})
    (tmp_path / "events.jsonl").write_text("")
    from forge.errors import ToolError

    with pytest.raises(ToolError, match="step 9 has no recorded result"):
        read_output(ctx, {"step": 9})


def test_resume_keeps_summaries_without_asking_again(tight):
    tight.max_iterations = 40
    model, fast = dumping_model(), summary_model()
    agent = Agent.start("dump things", tight, model, tools(), summary_model=fast)
    loop.run(agent)
    before = list(agent.summaries)
    assert before
    fast2 = summary_model("should not be needed at once")
    resumed = Agent.resume(agent.log.run_id, tight, dumping_model(), tools(), summary_model=fast2)
    assert resumed.summaries == before and not fast2.calls
    for c in resumed.components:  # show the restored summaries as they are
        if isinstance(c, HistorySummaries):
            c.on_prompt_pressure = lambda *a: False  # type: ignore[method-assign]
    msgs = asyncio.run(resumed.build_messages(len(resumed.history) + 1))
    assert before[-1].line() in msgs[1]["content"]
    assert resumed.usage.prompt_tokens >= agent.usage.prompt_tokens - 1


def test_failing_summary_model_falls_back_to_a_mechanical_summary(tight):
    tight.max_iterations = 40
    fast = ScriptedModel([LLMError("provider down")], repeat_last=True)
    agent = Agent.start("dump things", tight, dumping_model(), tools(), summary_model=fast)
    outcome = loop.run(agent)
    assert outcome.status is Status.ITERATION_LIMIT
    assert agent.summaries and agent.summaries[0].text.startswith("dump x")


def test_summaries_are_paid_for(tight):
    tight.max_iterations = 40
    fast = ScriptedModel([lambda m: "summary"], repeat_last=True, cost_per_call=0.01, tokens_per_call=(100, 10))
    agent = Agent.start("dump things", tight, dumping_model(), tools(), summary_model=fast)
    loop.run(agent)
    assert agent.usage.cost_usd == pytest.approx(0.01 * len(fast.calls))
    assert len(fast.calls) > 0


def test_context_too_small_for_the_system_prompt_is_a_config_error(tight):
    tight.max_context_tokens = 512
    agent = Agent.start("x", tight, dumping_model(), tools())
    agent.prompt.budget = 100
    with pytest.raises(ConfigError, match="raise --max-context-tokens"):
        asyncio.run(agent.build_messages(1))


def test_a_huge_goal_is_cut_to_fit(tight):
    goal = "please " * 5000
    model = dumping_model(limit=1)
    agent = Agent.start(goal, tight, model, tools())
    loop.run(agent)
    assert count_messages(model, model.calls[0]) <= prompt_budget(model, tools(), tight)
    assert "[goal cut to fit the context]" in model.calls[0][-1]["content"]


def test_openai_models_count_with_tiktoken_offline():
    n = count_text(LiteLLMModel("openai/gpt-4o-mini"), "The quick brown fox jumps over the lazy dog.")
    assert n == 10
    assert count_text(LiteLLMModel("gpt-4"), "hello world") == 2
    gpt4o = LiteLLMModel("gpt-4o")
    cut = truncate_to_tokens(gpt4o, "word " * 100, 20, " [cut]")
    assert cut.endswith(" [cut]") and count_text(gpt4o, cut) <= 20


def test_other_providers_count_with_litellm_offline():
    n = count_text(LiteLLMModel("anthropic/claude-3-5-haiku-latest"), "The quick brown fox jumps over the lazy dog.")
    assert 5 <= n <= 20


def test_context_budget_comes_from_the_model_map_and_can_be_overridden(settings):
    from forge.models.tokens import context_budget

    model = LiteLLMModel("openai/gpt-4o-mini")
    window, reserve = context_budget(model, settings)
    assert window == 128_000 and reserve == 4096
    settings.max_context_tokens = 4000
    assert context_budget(model, settings) == (4000, 1000)


class CharModel(ScriptedModel):
    """A user's own model: one token per character, an 8,000-token window, no name prefix."""

    def count_tokens(self, text: str) -> int:
        return len(text)

    @property
    def context_window(self) -> int | None:
        return 8000

    @property
    def max_reply_tokens(self) -> int:
        return 1000


def test_a_users_own_model_gets_its_own_budget(settings):
    """Budgets come from the model object: a subclass with its own tokenizer and window is
    respected whatever its name (with the default ~4 characters a token, prompts would reach
    ~28,000 characters here)."""
    from forge.models.tokens import context_budget

    model = CharModel([], name="my-own-model")
    model.script = dumping_model(limit=4).script
    model.repeat_last = True
    assert context_budget(model, settings) == (8000, 1000)
    loop.run(Agent.start("dump things", settings, model, tools()))
    sizes = [count_messages(model, messages) for messages in model.calls]
    assert len(sizes) == 4 and max(sizes) <= 7000
    assert max(sizes) > 5000  # the big outputs filled the window: the budget was what bound them
