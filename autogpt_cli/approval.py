"""Interactive approval: `y` runs, `y -N` runs N actions without asking, `n` quits, other text is
feedback for the agent. Ctrl-C in continuous mode drops back to asking; a second one quits."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Protocol

from forge.agent.agent import Proposal
from forge.agent.loop import Verdict

_Y_N = re.compile(r"^y(?:es)?\s+-\s*(\d+)$", re.IGNORECASE)
QUIT_WORDS = {"n", "no", "q", "quit", "exit"}
YES_WORDS = {"y", "yes"}
VIEW_WORDS = {"v", "view"}
PROMPT = "Run it? [y] yes  [y -N] this and the next N-1 without asking  [n] quit  [text] feedback: "
PROMPT_SHORTENED = (
    "Run it? [v] view all (parts are hidden)  [y] yes  [y -N] this and the next N-1 without asking  "
    "[n] quit  [text] feedback: "
)


class ActionPresenter(Protocol):
    """Shows the proposed action before the user is asked about it (the display implements it)."""

    def present(self, proposal: Proposal) -> bool:
        """Ensure the action is on screen; True when some value was shortened."""
        ...

    def show_full(self, proposal: Proposal) -> None:
        """Show every argument whole."""
        ...


def read_line(prompt: str) -> str:
    """input() that writes its prompt to stderr, so --json keeps stdout clean."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


class InteractiveApprover:
    def __init__(self, continuous: bool = False, ask: Callable[[str], str] = read_line,
                 notify: Callable[[str], None] | None = None, presenter: ActionPresenter | None = None):
        self.auto_left: float = math.inf if continuous else 0
        self.ask = ask
        self.notify = notify or (lambda msg: print(msg, file=sys.stderr))
        self.presenter = presenter

    def __call__(self, proposal: Proposal) -> Verdict:
        if self.auto_left > 0:
            self.auto_left -= 1
            return Verdict()
        # The user approves only what they have seen: show it (again, for a resumed run).
        shortened = self.presenter.present(proposal) if self.presenter is not None else False
        while True:
            try:
                answer = self.ask(PROMPT_SHORTENED if shortened else PROMPT).strip()
            except EOFError:
                return Verdict(run=False, quit=True)
            if not answer:
                continue
            if answer.lower() in VIEW_WORDS and self.presenter is not None:
                self.presenter.show_full(proposal)
                shortened = False
                continue
            if answer.lower() in YES_WORDS:
                return Verdict()
            if m := _Y_N.match(answer):
                self.auto_left = max(0, int(m.group(1)) - 1)
                return Verdict()
            if answer.lower() in QUIT_WORDS:
                return Verdict(run=False, quit=True)
            return Verdict(run=False, feedback=answer)

    def interrupt(self) -> bool:
        """Ctrl-C: leave continuous mode if in it (True); otherwise the caller should quit (False)."""
        if self.auto_left > 0:
            self.auto_left = 0
            self.notify("\nPaused: the agent will ask before its next action (Ctrl-C again to save and quit).")
            return True
        return False
