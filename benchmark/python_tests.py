"""Benchmark tests written in Python, as the seed's section 8.3 shows them:

    from benchmark import BaseTest, TestResult

    class WebSearchAccuracyTest(BaseTest):
        name = "web_search_accuracy"
        category = "information_retrieval"
        description = "Finds the winner of a prize"

        async def run(self, agent) -> TestResult:
            answer = await agent.execute("Who won ...? Write the name to answer.txt")
            passed = "Hopfield" in answer
            return TestResult(test_name=self.name, passed=passed, score=100 if passed else 0, details={})

`agent` is a `benchmark.client.AgentClient` on the agent under test. `score` is 0-100 as in the seed
(reports scale it to 0..1); when left out it is 100 for a pass and 0 for a failure. Every `BaseTest`
subclass defined in a `*.py` file of `--tests-path DIR` (recursively) is a test; they run in the same
scheduler as the data.json challenges, with the same attempts, cutoff and dependencies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from benchmark.spec import ChallengeError

if TYPE_CHECKING:
    from benchmark.client import AgentClient

USER_MODULE_PREFIX = "benchmark_user_tests."


class TestResult(BaseModel):
    __test__ = False  # not a pytest class, whatever its name

    test_name: str
    passed: bool
    score: float | None = None  # 0-100 (the seed's scale); None: 100 when passed, else 0
    details: Any = None

    def normalised_score(self) -> float:
        """0..1 for reports."""
        if self.score is None:
            return 1.0 if self.passed else 0.0
        return min(max(float(self.score) / 100.0, 0.0), 1.0)


class BaseTest:
    """Subclass it, set the class attributes and write `run`."""

    __test__ = False

    name: ClassVar[str] = ""
    category: ClassVar[str | list[str]] = "general"
    description: ClassVar[str] = ""
    task: ClassVar[str] = ""  # what the listings and reports show as its task (optional)
    difficulty: ClassVar[str] = "basic"
    cutoff: ClassVar[int] = 60  # seconds for the whole of `run`
    dependencies: ClassVar[list[str]] = []
    uses_web: ClassVar[bool] = False  # start the fixture web site; its URL is `agent.web_url`

    async def run(self, agent: AgentClient) -> TestResult:
        raise NotImplementedError


@dataclass(frozen=True)
class PythonTest:
    """A discovered BaseTest subclass and the file it came from."""

    cls: type[BaseTest]
    path: Path

    @property
    def name(self) -> str:
        return self.cls.name or self.cls.__name__

    @property
    def categories(self) -> list[str]:
        category = self.cls.category
        return [category] if isinstance(category, str) else list(category)

    @property
    def data_path(self) -> str:
        return f"{self.path}::{self.cls.__name__}"

    def instantiate(self) -> BaseTest:
        return self.cls()


def _load_module(path: Path) -> Any:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    module_name = f"{USER_MODULE_PREFIX}{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ChallengeError(f"{path}: cannot be imported as a Python module; rename it to NAME.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before exec: dataclasses and pickling look the module up
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[module_name]
        raise ChallengeError(f"{path}: importing it failed ({type(e).__name__}: {e}); fix the test file") from None
    return module


def discover_python_tests(root: Path) -> list[PythonTest]:
    """Every BaseTest subclass defined in the *.py files under ROOT, in path order."""
    if not root.is_dir():
        raise ChallengeError(f"--tests-path {root}: no such folder")
    found: list[PythonTest] = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts or path.name.startswith("."):
            continue
        module = _load_module(path)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseTest) and obj is not BaseTest and obj.__module__ == module.__name__:
                if inspect.isabstract(obj) or obj.run is BaseTest.run:
                    continue
                found.append(PythonTest(obj, path.resolve()))
    return found
