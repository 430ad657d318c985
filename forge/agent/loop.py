"""Synchronous helpers over `BaseAgent`'s async loop, for scripts and tests.

    outcome = loop.run(agent)                 # = agent.run_sync()
    outcome = loop.step(agent, user_input="") # one cycle
"""

from __future__ import annotations

import asyncio

from forge.agent.base import Approver, BaseAgent, Proposal, Verdict
from forge.agent.outcome import Outcome

__all__ = ["Approver", "Proposal", "Verdict", "run", "step"]


def step(agent: BaseAgent, approve: Approver | None = None, user_input: str | None = None) -> Outcome | None:
    """One cycle; the outcome when the run ended, else None."""
    return asyncio.run(agent.step(approve, user_input))


def run(agent: BaseAgent, approve: Approver | None = None) -> Outcome:
    """Drive the agent until it ends (see `BaseAgent.run`)."""
    return agent.run_sync(approve)
