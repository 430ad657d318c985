"""Which commands `execute_shell` may run.

Commands never go through a shell: they are split with `shlex` and executed as an argv. Shell syntax
(chaining, pipes, redirections, substitution, background jobs) is refused up front so the model
learns that it is not in a shell instead of getting confusing literal arguments.

This policy is a guard rail that keeps the model on the intended path, not the security boundary:
an allowed interpreter (python3) or `find -exec` can run anything. The sandbox is the boundary.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterable

from forge.errors import PolicyViolationError, ToolError

# Folders from which a path-qualified executable (/usr/bin/ls) is accepted, if its name is allowed.
SYSTEM_BIN_DIRS = ("/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin")

_ONE_COMMAND = "execute_shell runs one plain command without a shell, e.g. 'grep -n TODO notes.txt'"

# (token, rule) for operators found outside quotes; longest first so '&&' wins over '&'.
_OPERATORS = (
    ("&&", "no command chaining with '&&'"),
    ("||", "no command chaining with '||'"),
    (">>", "no redirection with '>>' (use write_file to save text)"),
    (";", "no command chaining with ';'"),
    ("|", "no pipes"),
    ("&", "no background jobs with '&'"),
    (">", "no redirection with '>' (use write_file to save text)"),
    ("<", "no redirection with '<'"),
)


def _refuse(rule: str, detail: str = _ONE_COMMAND) -> PolicyViolationError:
    return PolicyViolationError(f"refused by shell policy ({rule}): {detail}")


def _check_syntax(command: str) -> None:
    """Refuse shell operators that appear outside quotes, and substitution outside single quotes."""
    if "\n" in command or "\r" in command:
        raise _refuse("no newlines; one command per call")
    if "\x00" in command:
        raise _refuse("no NUL bytes")
    quote = ""
    i = 0
    while i < len(command):
        c = command[i]
        if quote == "'":
            if c == "'":
                quote = ""
        elif c == "\\":
            i += 1  # the next character is escaped, in or out of double quotes
        elif c == "`" or command.startswith("$(", i):
            raise _refuse("no command substitution with $(...) or backticks")
        elif quote == '"':
            if c == '"':
                quote = ""
        elif c in "'\"":
            quote = c
        else:
            for token, rule in _OPERATORS:
                if command.startswith(token, i):
                    raise _refuse(rule)
        i += 1


def check_command(command: str, allowlist: Iterable[str], denylist: Iterable[str]) -> list[str]:
    """Return the argv for `command`, or raise PolicyViolationError naming the rule it breaks."""
    allowed = list(dict.fromkeys(allowlist))
    denied = set(denylist)
    _check_syntax(command)
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise ToolError(f"cannot parse command ({e}); check the quoting") from None
    if not argv:
        raise ToolError("empty command; give one command such as 'ls -la'")

    program = argv[0]
    name = posixpath.basename(program)
    allowed_text = ", ".join(allowed) if allowed else "none (the shell allowlist is empty)"
    if "/" in program and posixpath.dirname(posixpath.normpath(program)) not in SYSTEM_BIN_DIRS:
        raise _refuse("programs are run by name", f"use e.g. '{name or 'ls'}' instead of {program!r}")
    if name in denied:
        raise _refuse(f"{name!r} is denylisted", f"allowed commands: {allowed_text}")
    if name not in allowed:
        raise _refuse(f"{name!r} is not in the allowlist", f"allowed commands: {allowed_text}")
    return argv
