"""What the runner tells whoever watches it (the CLI's live progress; nothing by default)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmark.results import AttemptResult


class RunProgress:
    """Callbacks from the runner's event loop; override the ones you need."""

    def begin(self, challenges: int, attempts: int) -> None:
        pass

    def attempt_done(self, name: str, result: AttemptResult) -> None:
        pass

    def skipped(self, name: str, reason: str, attempts: int) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def end(self) -> None:
        pass


class RichProgress(RunProgress):
    """A live line: attempts done / total, passed so far, elapsed, cost; warnings printed above it."""

    def __init__(self, console: Any):
        self.console = console
        self.progress: Any = None
        self.task: Any = None
        self.passed = 0
        self.cost = 0.0
        self.started = time.monotonic()

    def begin(self, challenges: int, attempts: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]benchmark[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), console=self.console, transient=False,
        )
        self.task = self.progress.add_task("run", total=attempts, status=self._status())
        self.progress.start()

    def _status(self) -> str:
        return f"[green]{self.passed} passed[/] · ${self.cost:.4f}"

    def _advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.update(self.task, advance=n, status=self._status())

    def attempt_done(self, name: str, result: AttemptResult) -> None:
        self.passed += 1 if result.success else 0
        self.cost += result.cost or 0.0
        if not result.success and self.progress is not None:
            self.progress.console.print(f"[red]✗[/] {name} #{result.attempt}: {result.fail_reason or 'failed'}")
        self._advance()

    def skipped(self, name: str, reason: str, attempts: int) -> None:
        if self.progress is not None:
            self.progress.console.print(f"[yellow]-[/] {name}: skipped ({reason})")
        self._advance(attempts)

    def warning(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {message}")

    def note(self, message: str) -> None:
        self.console.print(message)

    def end(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
