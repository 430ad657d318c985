"""`./run agent`: scaffold agent projects under agents/ and manage their Agent Protocol servers.

A checkout-only tool (like `./run` itself): it is not part of the installed package, because the
agents it makes live in the checkout and are installed editable into the checkout's .venv.
"""

from __future__ import annotations


class AgentCommandError(Exception):
    """A one-line error for the user; `code` is the exit code (2: bad input, 1: could not do it)."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code
