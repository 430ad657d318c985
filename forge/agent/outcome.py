"""How a run ends, and the process exit code for each ending (documented in README)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from forge.models.base import Usage


class Status(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    ITERATION_LIMIT = "iteration_limit"
    BUDGET = "budget_exceeded"
    TIME_LIMIT = "time_limit"
    STUCK = "stuck"
    INVALID_DECISIONS = "invalid_decisions"
    USER_QUIT = "user_quit"
    ERROR = "error"


EXIT_USAGE = 2  # bad usage or configuration (ConfigError)
EXIT_PROVIDER = 9  # the model provider kept failing after retries (1 is kept for bugs)
EXIT_CODES: dict[Status, int] = {
    Status.FINISHED: 0,
    Status.ERROR: EXIT_PROVIDER,
    Status.ITERATION_LIMIT: 3,
    Status.BUDGET: 4,
    Status.STUCK: 5,
    Status.USER_QUIT: 6,
    Status.TIME_LIMIT: 7,
    Status.INVALID_DECISIONS: 8,
}


@dataclass
class Outcome:
    run_id: str
    status: Status
    reason: str
    summary: str
    steps: int
    usage: Usage

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]
