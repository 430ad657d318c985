"""Where a run's events go. `EventSink` is the interface the agent writes through; the JSONL run log
(`forge.runs.log.RunLog`) is the durable implementation, `MemorySink` keeps events in memory (tests,
embedding an agent in another program, a server that persists elsewhere)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from forge.events.models import Event, parse_agent_event
from forge.security.secrets import Redactor
from forge.security.untrusted_text import clean_text

E = TypeVar("E", bound=Event)
Listener = Callable[[Any], None]  # receives each written event (typed)


@runtime_checkable
class EventSink(Protocol):
    """Append-only event store of one run, with a state snapshot for listings.

    `emit` stamps `seq` and `ts`, redacts secrets, stores the event, tells the listener, and returns
    the event as stored (what a reader will see)."""

    run_id: str

    @property
    def redactor(self) -> Redactor: ...

    def emit(self, event: E) -> E: ...

    def events(self) -> Iterator[Any]: ...

    def write_state(self, state: dict[str, Any]) -> None: ...

    def redact(self, text: str) -> str: ...

    def close(self) -> None: ...


def stamp_and_redact(event: E, seq: int, redactor: Redactor) -> tuple[E, str]:
    """The event with its sequence number and time, as one redacted JSON line (no newline)."""
    event.seq, event.ts = seq, time.time()
    try:
        raw = event.model_dump_json(fallback=str)  # values a block returned may not be JSON types
    except ValueError:  # e.g. bytes that are not UTF-8
        raw = json.dumps(event.model_dump(), ensure_ascii=False, default=str)
    line = clean_text(redactor.text(raw))
    if line != raw:  # a secret or a control character was in it: readers get what was written
        event = type(event).model_validate(json.loads(line))
    return event, line


class MemorySink:
    """Events kept in a list. Same stamping and redaction as the run log, nothing on disk."""

    def __init__(
        self,
        run_id: str | None = None,
        *,
        redactor: Redactor | None = None,
        listener: Listener | None = None,
        parse: Callable[[dict[str, Any]], Any] = parse_agent_event,
    ):
        self.run_id = run_id or "mem-" + secrets.token_hex(4)
        self.redactor = redactor or Redactor()
        self.listener = listener
        self.state: dict[str, Any] = {}
        self._events: list[Event] = []
        self._parse = parse

    def emit(self, event: E) -> E:
        event, _ = stamp_and_redact(event, len(self._events) + 1, self.redactor)
        self._events.append(event)
        if self.listener is not None:
            self.listener(event)
        return event

    def events(self) -> Iterator[Any]:
        return iter(list(self._events))

    def write_state(self, state: dict[str, Any]) -> None:
        self.state = json.loads(self.redactor.text(json.dumps(state, default=str)))

    def redact(self, text: str) -> str:
        return self.redactor.text(text)

    def close(self) -> None:
        pass
