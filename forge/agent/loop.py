"""The loop: propose -> (approve) -> execute -> record, until `finish`, a limit, or the user stops it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forge.agent.agent import Agent, Proposal
from forge.agent.outcome import Outcome, Status
from forge.errors import LLMError


@dataclass
class Verdict:
    """The user's answer to a proposed action: run it, quit, or give feedback instead."""

    run: bool = True
    quit: bool = False
    feedback: str | None = None


Approver = Callable[[Proposal], Verdict]


def step(agent: Agent, approve: Approver | None = None, user_input: str | None = None) -> Outcome | None:
    """Run one cycle. Returns the outcome when the run ended, else None.

    Without `approve` the action runs at once (continuous mode, Agent Protocol steps);
    `user_input` is handed to the model before it decides."""
    if user_input:
        agent.add_note(f"The user says: {user_input}")
    if limit := agent.limit_reached():
        return agent.stop(*limit)
    proposal = agent.pending or agent.propose()
    if proposal.decision is None:
        if agent.invalid_streak >= agent.settings.max_invalid_decisions:
            return agent.stop(
                Status.INVALID_DECISIONS,
                f"{agent.invalid_streak} invalid decisions in a row (last: {proposal.error}); "
                "try a stronger model with --model",
            )
        return None
    if agent.is_stuck(proposal.decision):
        return agent.stop(Status.STUCK, f"the model kept repeating {proposal.decision.tool} with the same arguments")
    verdict = approve(proposal) if approve else Verdict()
    if verdict.quit:
        return agent.stop(Status.USER_QUIT, "the user stopped the run")
    if verdict.feedback is not None:
        agent.reject(proposal, verdict.feedback)
        return None
    agent.execute(proposal)
    if agent.finished_reason is not None:
        return agent.stop(Status.FINISHED, agent.finished_reason)
    return None


def run(agent: Agent, approve: Approver | None = None) -> Outcome:
    """Drive the agent until it ends. A KeyboardInterrupt saves the state and ends the run as
    `user_quit`; a provider failure (after retries) is recorded as `error` and re-raised. Either
    way `autogpt run --resume RUN_ID` continues the run."""
    try:
        while (outcome := step(agent, approve)) is None:
            pass
        return outcome
    except KeyboardInterrupt:
        return agent.stop(Status.USER_QUIT, "interrupted with Ctrl-C")
    except LLMError as e:
        agent.stop(Status.ERROR, str(e))
        raise
