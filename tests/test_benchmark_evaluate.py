"""Evaluation: text checks as agbenchmark scores them, scripts and pytest inside the agent's sandbox, the judge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from benchmark_helpers import FIXTURES, HAS_BWRAP, make_challenge

from benchmark.evaluate import evaluate, judge_prompt, judge_score, verdict
from benchmark.spec import load_challenge
from forge.config import Settings

needs_bwrap = [pytest.mark.sandbox, pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")]
HAS_PYTEST = Path("/usr/lib/python3/dist-packages/pytest/__init__.py").exists()
needs_system_pytest = pytest.mark.skipif(not HAS_PYTEST, reason="python3-pytest is not installed (./run setup)")


@pytest.fixture
def sandboxed(tmp_path: Path) -> Settings:
    return Settings(workspace=tmp_path / "ws", sandbox="bwrap")


def work_folder(tmp_path: Path, challenge_dir: Path, *, solution: bool = True) -> Path:
    """What the runner evaluates: the agent's files (here the reference solution) plus custom_python."""
    folder = tmp_path / "work"
    folder.mkdir()
    for kind in (["artifacts_in", "artifacts_out"] if solution else ["artifacts_in"]) + ["custom_python"]:
        if (challenge_dir / kind).is_dir():
            shutil.copytree(challenge_dir / kind, folder, dirs_exist_ok=True)
    return folder


def test_text_checks_any_file_case_and_forbidden_words(tmp_path: Path) -> None:
    challenge = load_challenge(FIXTURES / "local" / "word_count")  # case-insensitive, should_not_contain alpha
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "count.txt").write_text("SEVEN is 7")
    assert verdict(challenge, evaluate(challenge, folder))[0]
    (folder / "count.txt").write_text("7 words: ALPHA beta ...")
    ok, score, reason = verdict(challenge, evaluate(challenge, folder))
    assert not ok and score == 0.5 and reason == "count.txt: should not contain 'alpha'"
    (folder / "count.txt").unlink()
    ok, _, reason = verdict(challenge, evaluate(challenge, folder))
    assert not ok and reason == "count.txt was not written"

    write = load_challenge(FIXTURES / "agbenchmark" / "abilities" / "write_file")  # ".txt": any .txt file
    (folder / "a.txt").write_text("nothing here")
    ok, _, reason = verdict(write, evaluate(write, folder))
    assert not ok and reason == "a.txt: missing 'Washington'"
    (folder / "b.txt").write_text("Washington")
    assert verdict(write, evaluate(write, folder)) == (True, 1.0, None)  # one passing file is enough
    (folder / "c.txt").write_text("washington")
    assert verdict(write, evaluate(write, folder))[0]


@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_python_eval_runs_the_custom_script(tmp_path: Path, mode: str) -> None:
    challenge = load_challenge(FIXTURES / "agbenchmark" / "verticals" / "code" / "1_three_sum")
    settings = Settings(workspace=tmp_path / "ws", sandbox=mode)
    folder = work_folder(tmp_path, challenge.path)
    evals = evaluate(challenge, folder, settings=settings)
    assert verdict(challenge, evals) == (True, 1.0, None)
    assert {e.source for e in evals} == {"python:test.py", "test.py (output)"}

    (folder / "sample_code.py").write_text("def three_sum(nums, target):\n    return [0, 1, 2]\n")
    ok, _, reason = verdict(challenge, evaluate(challenge, folder, settings=settings))
    assert not ok and reason is not None and "python:test.py: exit code 1" in reason and "AssertionError" in reason

    (folder / "sample_code.py").write_text("def three_sum(nums, target):\n    print('Error: gave up')\n")
    ok, _, reason = verdict(challenge, evaluate(challenge, folder, settings=settings))
    assert not ok and "Error: gave up" in (reason or "")


@needs_system_pytest
@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_pytest_eval(tmp_path: Path, mode: str) -> None:
    challenge = load_challenge(FIXTURES / "local" / "fizzbuzz")
    settings = Settings(workspace=tmp_path / "ws", sandbox=mode)
    folder = work_folder(tmp_path, challenge.path)
    assert verdict(challenge, evaluate(challenge, folder, settings=settings)) == (True, 1.0, None)
    (folder / "fizzbuzz.py").write_text("def fizzbuzz(n):\n    return str(n)\n")
    ok, score, reason = verdict(challenge, evaluate(challenge, folder, settings=settings))
    assert not ok and score == 0.0 and reason is not None and reason.startswith("pytest: pytest failed (exit code 1)")
    assert "1 failed" in reason


@needs_system_pytest
@pytest.mark.parametrize("mode", [pytest.param("bwrap", marks=needs_bwrap)])
def test_pytest_eval_cannot_leave_its_folder(tmp_path: Path, mode: str) -> None:
    """A test file that reads a host file, writes outside its folder and lists /root: all three fail in the
    sandbox (and the host file is not written), while the same file passes unsandboxed (the control)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    target = tmp_path / "escaped.txt"
    challenge = load_challenge(FIXTURES / "escape")
    source = (challenge.path / "custom_python" / "test_escape.py").read_text()

    def folder_for(name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        text = source.replace("__SECRET_PATH__", str(secret)).replace("__TARGET_PATH__", str(target))
        (folder / "test_escape.py").write_text(text)
        return folder

    evals = evaluate(challenge, folder_for("sandboxed"), settings=Settings(workspace=tmp_path / "ws", sandbox=mode))
    ok, _, reason = verdict(challenge, evals)
    assert not ok and reason is not None and "3 failed" in reason, reason
    assert not target.exists()

    control = evaluate(challenge, folder_for("unsandboxed"), settings=Settings(workspace=tmp_path / "ws",
                                                                                 sandbox="none"))
    assert verdict(challenge, control)[0], control
    assert target.read_text() == "escaped"


def _judge(tmp_path: Path, replies: list[str]) -> str:
    path = tmp_path / "judge.json"
    path.write_text(json.dumps(replies))
    return f"scripted/{path}"


def test_llm_judge_scores_with_the_template(tmp_path: Path) -> None:
    challenge = load_challenge(FIXTURES / "local" / "haiku")  # scoring: scale, template: rubric
    folder = work_folder(tmp_path, challenge.path)
    evals = evaluate(challenge, folder, judge=_judge(tmp_path, ["Considering the rubric... 9.5"]))
    assert verdict(challenge, evals) == (True, 0.95, None)
    evals = evaluate(challenge, folder, judge=_judge(tmp_path, ["3"]))
    ok, score, reason = verdict(challenge, evals)
    assert not ok and score == pytest.approx(0.3) and reason is not None and reason.startswith("llm: judged 0.30")
    evals = evaluate(challenge, folder, judge=_judge(tmp_path, ["I cannot score this"]))
    assert "holds no number" in (verdict(challenge, evals)[2] or "")
    assert "needs a judge model" in (verdict(challenge, evaluate(challenge, folder))[2] or "")

    prompt = judge_prompt(challenge, "Grey waves fold and break")
    assert "Three lines of 5, 7 and 5 syllables" in prompt and "Grey waves fold and break" in prompt
    assert "1 to 10" in prompt and prompt.endswith("Score:")


def test_judge_score_scaling() -> None:
    assert judge_score("87.5", "percentage") == pytest.approx(0.875)
    assert judge_score("score: 7 out of", "scale") == pytest.approx(0.7)
    assert judge_score("1", "binary") == 1.0
    assert judge_score("150", "percentage") == 1.0


def test_file_eval_without_words_passes_on_the_file(tmp_path: Path) -> None:
    challenge = load_challenge(make_challenge(tmp_path / "c", "Exists", files=["out.md"]))
    folder = tmp_path / "w"
    folder.mkdir()
    assert not verdict(challenge, evaluate(challenge, folder))[0]
    (folder / "out.md").write_text("anything")
    assert verdict(challenge, evaluate(challenge, folder))[0]
