"""`--debug`: every model call on stderr as it happens: the prompt sent, the raw reply, its latency
and usage, and each retry. Secrets are redacted and control characters escaped, as everywhere."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.text import Text

from forge.security.secrets import Redactor
from forge.security.untrusted_text import terminal_safe


class ModelCallLog:
    """A progress callback (forge.events.progress) that prints what debugging a model call needs."""

    def __init__(self, console: Console, redactor: Redactor):
        self.console = console
        self.redactor = redactor
        self.calls = 0

    def _safe(self, text: str) -> str:
        return terminal_safe(self.redactor.text(text))

    def __call__(self, signal: Any) -> None:
        from forge.events import progress as pg

        c = self.console
        match signal:
            case pg.CallStarted():
                self.calls += 1
                head = f"── model call {self.calls}: {self._safe(signal.model)}, prompt sent:"
                c.print(Text(head, style="bold blue"))
                for message in signal.messages:
                    content = message.get("content")
                    text = content if isinstance(content, str) else json.dumps(content, default=str)
                    c.print(Text.assemble((f"[{message.get('role', '?')}] ", "blue"), self._safe(text or "")))
            case pg.CallRetried():
                failed = f"attempt {signal.attempt} failed: {self._safe(signal.error)}"
                retry = f"── model call {self.calls}: {failed}; retrying in {signal.delay_s:.1f} s"
                c.print(Text(retry, style="yellow"))
            case pg.CallFinished():
                head = f"── model call {self.calls}: {signal.latency_s:.2f} s"
                if signal.error is not None:
                    c.print(Text(f"{head}, failed: {self._safe(signal.error)}", style="bold red"))
                    return
                u = signal.usage
                c.print(Text(f"{head}, {u.prompt_tokens} + {u.completion_tokens} tokens, ${u.cost_usd:.4f}; raw reply:",
                             style="bold blue"))
                c.print(Text(self._safe(signal.content or "")))
                for call in signal.tool_calls:
                    c.print(Text(self._safe(f"tool call {call['name']}: {json.dumps(call['arguments'], default=str)}")))
