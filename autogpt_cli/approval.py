"""Interactive approval: `y` runs, `y -N` runs N actions without asking, `e` edits the arguments
first, `n` quits, other text is feedback for the agent. Ctrl-C in continuous mode drops back to
asking; a second one quits."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any, Protocol

from forge.agent.agent import Proposal
from forge.agent.loop import Verdict

_Y_N = re.compile(r"^y(?:es)?\s+-\s*(\d+)$", re.IGNORECASE)
QUIT_WORDS = {"n", "no", "q", "quit", "exit"}
YES_WORDS = {"y", "yes"}
VIEW_WORDS = {"v", "view"}
EDIT_WORDS = {"e", "edit"}
PROMPT = "Run it? [y] yes  [y -N] this and the next N-1 without asking  [e] edit  [n] quit  [text] feedback: "
PROMPT_SHORTENED = (
    "Run it? [v] view all (parts are hidden)  [y] yes  [y -N] this and the next N-1 without asking  "
    "[e] edit  [n] quit  [text] feedback: "
)


class ActionPresenter(Protocol):
    """Shows the proposed action before the user is asked about it (the display implements it)."""

    def present(self, proposal: Proposal) -> bool:
        """Ensure the action is on screen; True when some value was shortened."""
        ...

    def show_full(self, proposal: Proposal) -> None:
        """Show every argument whole."""
        ...

    def show_edited(self, proposal: Proposal, args: dict[str, Any]) -> None:
        """Show the action with the arguments the user edited, before asking to run it."""
        ...


def read_line(prompt: str) -> str:
    """input() that writes its prompt to stderr, so --json keeps stdout clean."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def editor_command(environ: Any = os.environ) -> list[str] | None:
    """$VISUAL, else $EDITOR, split as a shell would (`code -w`); None when neither is set."""
    value = (environ.get("VISUAL") or environ.get("EDITOR") or "").strip()
    return shlex.split(value) if value else None


def edit_with_editor(args: dict[str, Any], editor: list[str]) -> str:
    """The arguments as JSON in the user's editor; the text they saved."""
    fd, name = tempfile.mkstemp(prefix="autogpt-action-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(args, f, indent=2, ensure_ascii=False)
            f.write("\n")
        subprocess.run([*editor, name], check=False)
        with open(name, encoding="utf-8") as f:
            return f.read()
    finally:
        os.unlink(name)


def edit_inline(args: dict[str, Any], schema: dict[str, Any], ask: Callable[[str], str]) -> dict[str, Any]:
    """Ask for each argument in turn; Enter keeps the value. Text arguments are taken as typed (`\\n`
    for a line break), others as JSON (`3`, `true`, `["a"]`)."""
    props = schema.get("properties", {})
    out = dict(args)
    for name in [*props, *(k for k in args if k not in props)]:
        current = json.dumps(args[name], ensure_ascii=False, default=str) if name in args else "unset"
        if len(current) > 60:
            current = current[:60] + "…"
        answer = ask(f"  {name} [{current}] (Enter keeps it): ")
        if not answer:
            continue
        if props.get(name, {}).get("type") == "string":
            out[name] = answer.replace("\\n", "\n")
            continue
        try:
            out[name] = json.loads(answer)
        except json.JSONDecodeError:
            out[name] = answer  # the tool's validation says what it should have been
    return out


class InteractiveApprover:
    def __init__(self, continuous: bool = False, ask: Callable[[str], str] = read_line,
                 notify: Callable[[str], None] | None = None, presenter: ActionPresenter | None = None,
                 editor: list[str] | None = None):
        self.auto_left: float = math.inf if continuous else 0
        self.ask = ask
        self.notify = notify or (lambda msg: print(msg, file=sys.stderr))
        self.presenter = presenter
        self.editor = editor  # None: `e` asks for each argument inline

    def edit(self, proposal: Proposal, args: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The user edits `args`: (the new arguments validated against the tool, or None after saying
        why not; what they typed, as a dict, to start from when they edit again)."""
        assert proposal.tool is not None
        if self.editor:
            text = edit_with_editor(args, self.editor)
            try:
                edited = json.loads(text)
            except json.JSONDecodeError as e:
                self.notify(f"Not valid JSON ({e}); the action is unchanged. Answer e to edit it again.")
                return None, args
        else:
            self.notify(f"Editing the arguments of {proposal.tool.name}:")
            edited = edit_inline(args, proposal.tool.parameters_schema(), self.ask)
        if not isinstance(edited, dict):
            self.notify("The arguments must be a JSON object; the action is unchanged. Answer e to edit it again.")
            return None, args
        from forge.errors import ToolError

        try:
            proposal.tool.validate(edited)
        except ToolError as e:
            self.notify(f"{e}; the action is unchanged. Answer e to edit it again.")
            return None, edited
        return edited, edited

    def _edit_then_ask(self, proposal: Proposal, draft: dict[str, Any]) -> tuple[Verdict | None, dict[str, Any]]:
        """`e`: edit until the user runs, quits or gives feedback (a Verdict), or the edit is invalid
        (None: back to the first question, the action unchanged)."""
        while True:
            edited, draft = self.edit(proposal, draft)
            if edited is None:
                return None, draft
            if self.presenter is not None:
                self.presenter.show_edited(proposal, edited)
            try:
                answer = self.ask("Run the edited action? [y] yes  [e] edit again  [n] quit  [text] feedback: ")
            except EOFError:
                return Verdict(run=False, quit=True), draft
            answer = answer.strip()
            if answer.lower() in EDIT_WORDS:
                continue
            if not answer or answer.lower() in YES_WORDS:
                return Verdict(args=edited), draft
            if answer.lower() in QUIT_WORDS:
                return Verdict(run=False, quit=True), draft
            return Verdict(run=False, feedback=answer), draft

    def __call__(self, proposal: Proposal) -> Verdict:
        if self.auto_left > 0:
            self.auto_left -= 1
            return Verdict()
        # The user approves only what they have seen: show it (again, for a resumed run).
        shortened = self.presenter.present(proposal) if self.presenter is not None else False
        draft: dict[str, Any] | None = None  # what `e` starts from: the last edit, once there is one
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
            if answer.lower() in EDIT_WORDS and proposal.tool is not None and proposal.decision is not None:
                verdict, draft = self._edit_then_ask(proposal, draft or proposal.decision.tool_args)
                if verdict is not None:
                    return verdict
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
