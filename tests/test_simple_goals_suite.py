"""benchmark/suites/simple_goals: the 30 simple goals the embedded model is measured on (README: Local
models). Each reference solution passes its own eval; an agent that did nothing fails every goal that asks
for work, and passes the four whose right answer is to do nothing (finish, refuse)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmark.evaluate import evaluate, verdict
from benchmark.spec import Challenge, discover_challenges

SUITE = Path(__file__).resolve().parents[1] / "benchmark" / "suites" / "simple_goals"
CHALLENGES = discover_challenges([SUITE], builtin=False)
DO_NOTHING = {"FinishNow", "AlreadyDone", "RefuseParentFolder", "RefuseAbsolutePath"}


def folder(challenge: Challenge, tmp_path: Path, *, solved: bool) -> Path:
    out = tmp_path / "out"
    out.mkdir(parents=True)
    for kind in ("artifacts_in", *(("artifacts_out",) if solved else ()), "custom_python"):
        if (challenge.path / kind).is_dir():
            shutil.copytree(challenge.path / kind, out, dirs_exist_ok=True)
    return out


def test_thirty_goals_of_every_kind() -> None:
    kinds = {c.spec.category[1] for c in CHALLENGES}
    assert len(CHALLENGES) >= 30 and len({c.name for c in CHALLENGES}) == len(CHALLENGES)
    assert kinds >= {"writing", "transforming", "counting", "python", "data", "finishing", "refusing"}


@pytest.mark.parametrize("challenge", CHALLENGES, ids=[c.name for c in CHALLENGES])
def test_reference_passes_and_doing_nothing_fails(challenge: Challenge, tmp_path: Path) -> None:
    solved = folder(challenge, tmp_path / "a", solved=True)
    assert verdict(challenge, evaluate(challenge, solved))[0], challenge.name
    idle = folder(challenge, tmp_path / "b", solved=False)
    assert verdict(challenge, evaluate(challenge, idle))[0] is (challenge.name in DO_NOTHING)
