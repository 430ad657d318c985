"""`reports/history.json`: each challenge's outcome in past runs, and the regression list.

agbenchmark keeps this in success_rate.json and regression_tests.json; one typed file holds both here. A
challenge "is a regression test" once it passed in each of the last REGRESSION_RUNS runs that ran it (every
attempt successful): a failure of such a challenge is a regression. `--mock` runs are not recorded (the
reference solutions passing says nothing about the agent).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from benchmark.results import BenchmarkReport

HISTORY_FILE = "history.json"
REGRESSION_RUNS = 3
MAX_OUTCOMES = 100  # per challenge: older runs are dropped


class Outcome(BaseModel):
    run_id: str
    time: str
    passed: bool  # every attempt succeeded
    success_rate: float  # 0..1 over the attempts
    attempts: int
    agent: str = ""
    model: str | None = None


class History(BaseModel):
    challenges: dict[str, list[Outcome]] = Field(default_factory=dict)  # oldest first
    regression_tests: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, reports_dir: Path) -> History:
        path = reports_dir / HISTORY_FILE
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            return cls()
        except (ValidationError, ValueError, OSError):
            # A damaged history must not stop a run; it is kept aside and started afresh.
            with contextlib.suppress(OSError):
                path.replace(path.with_suffix(".damaged.json"))
            return cls()

    def is_regression(self, name: str) -> bool:
        """Passed in each of the last REGRESSION_RUNS recorded runs."""
        recent = self.challenges.get(name, [])[-REGRESSION_RUNS:]
        return len(recent) == REGRESSION_RUNS and all(o.passed for o in recent)

    def record(self, report: BenchmarkReport) -> None:
        """Add the challenges REPORT ran (skipped ones are not outcomes) and recompute the regression list."""
        if report.mock:
            return
        for name, test in report.tests.items():
            done = [r for r in test.results if r.success is not None]
            if not done:
                continue
            succeeded = sum(1 for r in done if r.success)
            outcomes = self.challenges.setdefault(name, [])
            outcomes.append(Outcome(
                run_id=report.run_id, time=report.benchmark_start_time, passed=succeeded == len(done),
                success_rate=round(succeeded / len(done), 4), attempts=len(done), agent=report.agent,
                model=report.model,
            ))
            del outcomes[:-MAX_OUTCOMES]
        self.regression_tests = sorted(n for n in self.challenges if self.is_regression(n))

    def save(self, reports_dir: Path) -> Path:
        return write_atomic(reports_dir / HISTORY_FILE, self.model_dump_json(indent=2))


def write_atomic(path: Path, text: str) -> Path:
    """Write through a temporary file and a rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
