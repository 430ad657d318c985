"""What a run runs: data.json challenges and Python tests as one kind of item, selected by category and name,
with their dependencies resolved."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.python_tests import PythonTest, discover_python_tests
from benchmark.spec import Challenge, ChallengeError, discover_challenges

WEB_PLACEHOLDER = "{{web}}"


@dataclass(frozen=True)
class Item:
    """A challenge or a Python test, as the scheduler and the reports see it."""

    name: str
    categories: list[str]
    difficulty: str
    description: str
    task: str
    dependencies: list[str]
    cutoff: int
    eval_type: str
    data_path: str
    answer: str = ""
    eval_id: str = ""
    challenge: Challenge | None = None
    test: PythonTest | None = None

    @property
    def uses_web(self) -> bool:
        if self.test is not None:
            return self.test.cls.uses_web
        return WEB_PLACEHOLDER in self.task

    @classmethod
    def from_challenge(cls, c: Challenge) -> Item:
        s = c.spec
        return cls(
            name=s.name, categories=list(s.category), difficulty=s.info.difficulty, description=s.info.description,
            task=s.task, dependencies=list(s.dependencies), cutoff=s.cutoff, eval_type=s.ground.eval.type,
            data_path=c.data_path, answer=s.ground.answer, eval_id=s.eval_id, challenge=c,
        )

    @classmethod
    def from_test(cls, t: PythonTest) -> Item:
        k = t.cls
        return cls(
            name=t.name, categories=t.categories, difficulty=k.difficulty, description=k.description,
            task=k.task or k.description, dependencies=list(k.dependencies), cutoff=k.cutoff, eval_type="python_test",
            data_path=t.data_path, test=t,
        )


def load_items(
    challenges_paths: Iterable[Path] = (), tests_paths: Iterable[Path] = (), *, builtin: bool = True
) -> list[Item]:
    """The built-in suite, the extra challenge folders and the Python tests; names unique across all."""
    items = [Item.from_challenge(c) for c in discover_challenges(list(challenges_paths), builtin=builtin)]
    seen = {i.name: i.data_path for i in items}
    for root in tests_paths:
        for test in discover_python_tests(root):
            item = Item.from_test(test)
            if item.name in seen:
                raise ChallengeError(
                    f"two tests are named {item.name!r}: {seen[item.name]} and {item.data_path}; rename one of them"
                )
            seen[item.name] = item.data_path
            items.append(item)
    return items


def categories(items: Sequence[Item]) -> dict[str, int]:
    """Category -> number of items, sorted by name."""
    counts: dict[str, int] = {}
    for item in items:
        for c in item.categories:
            counts[c] = counts.get(c, 0) + 1
    return dict(sorted(counts.items()))


def find(items: Sequence[Item], name: str) -> Item | None:
    """By name; agbenchmark's `TestName` spelling is accepted too (its dependencies use it)."""
    by_name = {i.name: i for i in items}
    if name in by_name:
        return by_name[name]
    lowered = {i.name.lower(): i for i in items}
    for candidate in (name, name.removeprefix("Test"), name.removeprefix("test_")):
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    return None


def select(items: Sequence[Item], *, categories: Sequence[str] = (), tests: Sequence[str] = ()) -> list[Item]:
    """Items in any of CATEGORIES or named in TESTS (all when both are empty), in discovery order."""
    if not categories and not tests:
        return list(items)
    known = {c for i in items for c in i.categories}
    for c in categories:
        if c not in known:
            raise ChallengeError(
                f"no challenge has category {c!r}; known: {', '.join(sorted(known)) or 'none'} "
                "(./run benchmark categories list)"
            )
    chosen: set[str] = set()
    for name in tests:
        item = find(items, name)
        if item is None:
            raise ChallengeError(f"no challenge or test named {name!r}; see ./run benchmark tests list")
        chosen.add(item.name)
    wanted = set(categories)
    return [i for i in items if i.name in chosen or wanted.intersection(i.categories)]


@dataclass
class Dependencies:
    """For each selected item, the selected items it waits for; dependencies that exist nowhere are warned
    about (and ignored), dependencies that exist but are not selected are ignored."""

    waits_for: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def resolve_dependencies(selected: Sequence[Item], every: Sequence[Item], *, no_dep: bool = False) -> Dependencies:
    deps = Dependencies()
    names = {i.name for i in selected}
    for item in selected:
        waits: list[str] = []
        for dep in item.dependencies:
            target = find(every, dep)
            if target is None:
                deps.warnings.append(f"{item.name}: dependency {dep!r} is not a known challenge; ignored")
            elif target.name in names and target.name != item.name and not no_dep:
                waits.append(target.name)
        deps.waits_for[item.name] = list(dict.fromkeys(waits))
    if not no_dep:
        cycle = _find_cycle(deps.waits_for)
        if cycle:
            raise ChallengeError(
                f"dependency cycle: {' -> '.join(cycle)}; fix the challenges' dependencies or pass --no-dep"
            )
    return deps


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if state.get(node) is None and (found := visit(node)):
            return found
    return None
