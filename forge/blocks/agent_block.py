"""The `agent` block: a whole autonomous agent run as one workflow node."""

from __future__ import annotations

import asyncio

from pydantic import Field

from forge.blocks.ai import get_cached_model
from forge.blocks.base import Block, BlockCategory, BlockContext, BlockOutput, EmptyModel, Preview
from forge.blocks.files import workspace_root


class AgentBlock(Block):
    id = "agent"
    name = "Autonomous agent"
    description = (
        "Run an autonomous agent on a goal, continuously (no approval), until it finishes or hits "
        "max_iterations. Its file tools work in the workflow's files folder; its run is recorded "
        "like any `autogpt run` (see run_id)."
    )
    categories = (BlockCategory.AGENT, BlockCategory.AI)
    cacheable = False
    main_input = "goal"
    main_output = "result"

    class Input(EmptyModel):
        goal: str = Field(min_length=1, description="What the agent should achieve.")
        max_iterations: int = Field(10, ge=1, le=200, description="Most LLM cycles before it is stopped.")
        model: str | None = Field(None, description="litellm model string; default: the configured model.")

    class Output(EmptyModel):
        result: str = Field(description="The agent's finish reason, or why it stopped.")
        status: str = Field(description="finished, iteration_limit, stuck, budget_exceeded, ...")
        run_id: str = Field(description="The agent run's id (its events are in <workspace>/runs/<run_id>).")

    def preview(self, input: Input, ctx: BlockContext) -> Preview:  # noqa: A002
        return Preview(action="run an autonomous agent (file tools, code, web)",
                       destination="workflow files folder", payload=input.model_dump(mode="json", exclude_none=True))

    async def run(self, input: Input, ctx: BlockContext) -> BlockOutput:
        from forge.agent.agent import AutoGPTAgent
        from forge.tools.base import ToolRegistry

        name = input.model or ctx.settings.model
        settings = ctx.settings.model_copy(update={"max_iterations": input.max_iterations, "model": name})
        model = get_cached_model(name, settings)
        tools = ToolRegistry.from_plugins()
        files = workspace_root(ctx)

        def go() -> tuple[str, str, str]:
            # The agent shares the workflow's files folder, so its files feed the next nodes.
            agent = AutoGPTAgent.start(input.goal, settings, model, tools, ask_user=ctx.ask_user, workspace=files)
            outcome = agent.run_sync()  # in this worker thread: the workflow's own loop is not blocked
            return outcome.reason, outcome.status.value, outcome.run_id

        result, status, run_id = await asyncio.to_thread(go)
        yield "result", result
        yield "status", status
        yield "run_id", run_id
