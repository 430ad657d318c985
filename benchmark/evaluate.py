"""Judge what an agent left in a folder against a challenge's `ground`, as agbenchmark does.

- `files`: an entry starting with "." matches every file with that extension at the top of the folder,
  anything else is a path in it.
- text checks (`should_contain` all present, `should_not_contain` none present, honouring `case_sensitive`)
  pass when ANY checked output passes, as in agbenchmark. For a `python` eval the outputs are the scripts'
  output, for the other types the files' text.
- `python`: each matched script runs in the agent's code sandbox (forge.tools.sandbox: bubblewrap, no
  network, only the folder writable) with the folder as cwd; it fails on a non-zero exit or an output line
  starting "Error:". Every script must pass.
- `pytest`: `python3 -m pytest` in the same sandbox (the system python3 with Debian's python3-pytest), never
  with the runner's own privileges.
- `llm`: a judge model scores the matched files against the answer with agbenchmark's templates.
Success needs every kind of check present to pass (`verdict`).

`EvalResult.source` says which kind a result is: "python:SCRIPT", "pytest", "llm", or the file (or
"SCRIPT (output)") a text check read.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.results import EvalResult
from benchmark.spec import Challenge, Ground

if TYPE_CHECKING:
    from forge.config import Settings
    from forge.models.base import Model

MOCK_JUDGE = "mock"  # full marks for any non-empty response: what --mock checks is the harness, not prose
JUDGE_PASS = 0.9  # agbenchmark's threshold for a judged score (0..1)
PYTEST_TIMEOUT = 120.0  # seconds for a whole pytest run (scripts get the sandbox's code_timeout)
DETAIL_CHARS = 400

# The judge's instructions: agbenchmark's templates, reworded.
SCORING = {
    "percentage": "give a score from 0 to 100 as a decimal number, where 0 is a useless response and 100 the "
                  "ideal one; use decimals to be precise",
    "scale": "give a whole-number score from 1 to 10, where 1 is a very poor response and 10 the ideal one",
    "binary": "give a score of 0 or 1, where 0 means the task was failed and 1 that it was done",
}
TEMPLATES = {
    "reference": (
        "Disregard any earlier instructions. You judge how close a machine-written response comes to a "
        "reference answer written by a person, like a very sharp BLEU score.\n"
        "To score it, {scoring}. Weigh how far the response is from the reference. Answer with the score only.\n\n"
        "The task:\n{task}\n\nThe reference answer:\n{answer}\n\nThe response to judge:\n{response}\n\n"
    ),
    "rubric": (
        "Disregard any earlier instructions. You judge machine-written responses to tasks.\n"
        "To score it, {scoring}. Let the rubric guide your judgement. Answer with the score only.\n\n"
        "The task:\n{task}\n\nThe rubric:\n{answer}\n\nThe response to judge:\n{response}\n\n"
    ),
    "question": (
        "Disregard any earlier instructions. You judge machine-written responses to tasks.\n"
        "To score it, {scoring}. Decide whether the response answers the question below well. Answer with the "
        "score only.\n\n"
        "The task:\n{task}\n\nA question that tells whether the task was done:\n{answer}\n\n"
        "The response to judge:\n{response}\n\n"
    ),
    "custom": "{answer}\n{scoring}\n\n{response}\n\n",
}
EXAMPLES = "Examples of responses and their scores:\n{examples}\n\n"
CLOSING = "End your reply with the score alone, as a number.\nScore:"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass
class _Output:
    source: str  # the file or "SCRIPT (output)"
    text: str


def matched_files(folder: Path, ground: Ground) -> tuple[list[Path], list[str]]:
    """(existing files matched by `ground.files`, the exact paths that are missing)."""
    found: list[Path] = []
    missing: list[str] = []
    for pattern in ground.files:
        if pattern.startswith("."):
            found += sorted(p for p in folder.glob("*" + pattern) if p.is_file())
        else:
            path = folder / pattern
            if path.is_file() and path.resolve().is_relative_to(folder.resolve()):
                found.append(path)
            else:
                missing.append(pattern)
    return list(dict.fromkeys(found)), missing


def text_check(source: str, content: str, ground: Ground) -> EvalResult:
    sensitive = ground.case_sensitive is not False
    text = content if sensitive else content.lower()

    def norm(word: str) -> str:
        return word if sensitive else word.lower()

    contain = ground.should_contain or []
    avoid = ground.should_not_contain or []
    missing = [w for w in contain if norm(w) not in text]
    present = [w for w in avoid if norm(w) in text]
    checks = len(contain) + len(avoid)
    score = (checks - len(missing) - len(present)) / checks if checks else 1.0
    problems = []
    if missing:
        problems.append("missing " + ", ".join(repr(w) for w in missing))
    if present:
        problems.append("should not contain " + ", ".join(repr(w) for w in present))
    return EvalResult(source=source, score=score, passed=not problems, detail="; ".join(problems))


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= DETAIL_CHARS else "..." + text[-DETAIL_CHARS:]


def _error_line(output: str) -> str | None:
    return next((line for line in output.splitlines() if line.startswith("Error:")), None)


def run_script(folder: Path, script: Path, settings: Settings) -> tuple[EvalResult, str]:
    """Run one script in the sandbox; (its result, its output)."""
    from forge.errors import AutoGPTError
    from forge.tools.sandbox import run_python

    rel = script.relative_to(folder).as_posix()
    try:
        result = run_python(folder, settings, file=script)
    except AutoGPTError as e:
        return EvalResult(source=f"python:{rel}", score=0.0, passed=False, detail=f"could not run it: {e}"), ""
    error = _error_line(result.output)
    if result.ok and error is None:
        return EvalResult(source=f"python:{rel}", score=1.0, passed=True), result.output
    if result.killed_reason:
        why = f"killed: {result.killed_reason}"
    elif error is not None:
        why = error
    else:
        why = f"exit code {result.exit_code}: {_clip(result.output)}"
    return EvalResult(source=f"python:{rel}", score=0.0, passed=False, detail=why), result.output


def run_pytest(folder: Path, settings: Settings) -> tuple[EvalResult, str]:
    from forge.errors import AutoGPTError
    from forge.tools.sandbox import python_executable, run_sandboxed

    try:
        python = python_executable(settings.sandbox)
        result = run_sandboxed(
            [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], workspace=folder, settings=settings,
            timeout=max(settings.code_timeout, PYTEST_TIMEOUT),
        )
    except AutoGPTError as e:
        return EvalResult(source="pytest", score=0.0, passed=False, detail=f"could not run pytest: {e}"), ""
    if result.ok:
        return EvalResult(source="pytest", score=1.0, passed=True), result.output
    if "No module named pytest" in result.output:
        why = "pytest is not installed for the system python3; install python3-pytest (./run setup does)"
    elif result.exit_code == 5:
        why = "pytest collected no tests"
    elif result.killed_reason:
        why = f"killed: {result.killed_reason}"
    else:
        summary = [ln for ln in result.output.splitlines() if ln.strip()]
        why = f"pytest failed (exit code {result.exit_code}): {_clip(' | '.join(summary[-3:]))}"
    return EvalResult(source="pytest", score=0.0, passed=False, detail=why), result.output


def judge_prompt(challenge: Challenge, response: str) -> str:
    ground = challenge.spec.ground
    template = ground.eval.template or "reference"
    scoring = SCORING[ground.eval.scoring or "percentage"]
    prompt = TEMPLATES[template].format(scoring=scoring, task=challenge.spec.task, answer=ground.answer,
                                        response=response)
    if ground.eval.examples:
        prompt += EXAMPLES.format(examples=ground.eval.examples)
    return prompt + CLOSING


def judge_score(reply: str, scoring: str | None) -> float:
    """The judge's number scaled to 0..1 (percentage /100, scale /10, binary as is); ValueError if none."""
    numbers = _NUMBER.findall(reply or "")
    if not numbers:
        raise ValueError("the judge's reply holds no number")
    value = float(numbers[-1])
    scaled = value / 100 if scoring == "percentage" else value / 10 if scoring == "scale" else value
    return min(max(scaled, 0.0), 1.0)


def run_judge(challenge: Challenge, response: str, judge: Model | str | None) -> EvalResult:
    from forge.errors import AutoGPTError
    from forge.models.sync import run_sync

    if judge is None:
        return EvalResult(source="llm", score=0.0, passed=False,
                          detail="this challenge needs a judge model; pass --judge-model (e.g. local/smollm2)")
    if judge == MOCK_JUDGE:  # --mock without --judge-model: as agbenchmark's mock, any answer gets full marks
        ok = bool(response.strip())
        return EvalResult(source="llm", score=float(ok), passed=ok,
                          detail="" if ok else "mock judge: nothing to judge (no file matched)")
    try:
        model = load_judge(judge) if isinstance(judge, str) else judge
        reply = run_sync(model.complete([{"role": "user", "content": judge_prompt(challenge, response)}]))
        score = judge_score(reply.content or "", challenge.spec.ground.eval.scoring)
    except (AutoGPTError, ValueError) as e:
        return EvalResult(source="llm", score=0.0, passed=False, detail=f"the judge failed: {e}")
    passed = score >= JUDGE_PASS
    detail = "" if passed else f"judged {score:.2f} (needs {JUDGE_PASS}): {_clip(reply.content or '')}"
    return EvalResult(source="llm", score=score, passed=passed, detail=detail)


_judges: dict[str, Model] = {}
_judges_lock = threading.Lock()


def load_judge(name: str) -> Model:
    """One judge per model name and process (the embedded model loads once), except scripted models: each
    evaluation replays its script from the start, as the protocol server does for tasks."""
    from forge.models import LLMOptions, get_model

    if name.startswith("scripted/"):
        return get_model(name, LLMOptions(temperature=0.0))
    with _judges_lock:
        if name not in _judges:
            _judges[name] = get_model(name, LLMOptions(temperature=0.0))
        return _judges[name]


def evaluate(
    challenge: Challenge, folder: Path, *, judge: Model | str | None = None, settings: Settings | None = None
) -> list[EvalResult]:
    """Every check of CHALLENGE's ground on FOLDER (the agent's files plus custom_python). Blocking: scripts
    and pytest run as sandboxed processes (call it from a thread in async code)."""
    if settings is None:
        from forge.config import Settings

        settings = Settings()
    ground = challenge.spec.ground
    kind = ground.eval.type
    results: list[EvalResult] = []
    files, missing = matched_files(folder, ground)
    results += [EvalResult(source=m, score=0.0, passed=False, detail=f"{m} was not written") for m in missing]
    outputs: list[_Output] = []
    if kind == "python":
        for script in files:
            result, output = run_script(folder, script, settings)
            results.append(result)
            outputs.append(_Output(f"{script.relative_to(folder).as_posix()} (output)", output))
    else:
        for path in files:
            outputs.append(_Output(path.relative_to(folder).as_posix(), path.read_text(errors="replace")))
    if kind == "pytest":
        result, output = run_pytest(folder, settings)
        results.append(result)
        outputs.append(_Output("pytest (output)", output))
    if ground.should_contain or ground.should_not_contain:
        results += [text_check(o.source, o.text, ground) for o in outputs]
    elif kind == "file":  # no words to look for: writing the file is the task
        results += [EvalResult(source=o.source, score=1.0, passed=True, detail="exists") for o in outputs]
    if kind == "llm":
        if outputs:
            combined = "\n".join(o.text for o in outputs)
            results.append(run_judge(challenge, combined, judge))
        else:
            results.append(EvalResult(source="llm", score=0.0, passed=False, detail="no file to judge"))
    return results


def eval_kind(result: EvalResult) -> str:
    """"python", "pytest", "llm", "missing" or "text" (see the module docstring)."""
    if result.source.startswith("python:"):
        return "python"
    if result.source in ("pytest", "llm"):
        return result.source
    if result.detail.endswith(" was not written"):
        return "missing"
    return "text"


def verdict(challenge: Challenge, evals: list[EvalResult]) -> tuple[bool, float, str | None]:
    """(success, score 0..1, why it failed). Text checks pass when any output passes; every other result
    must pass; every kind present must pass."""
    if not evals:
        files = ", ".join(challenge.spec.ground.files) or "none listed"
        return False, 0.0, f"nothing to evaluate (ground files: {files})"
    kinds: dict[str, list[EvalResult]] = {}
    for result in evals:
        kinds.setdefault(eval_kind(result), []).append(result)
    scores: list[float] = []
    reasons: list[str] = []
    for kind, results in kinds.items():
        if kind == "text":
            best = max(results, key=lambda r: (r.passed, r.score))
            scores.append(best.score)
            if not best.passed:
                reasons.append(f"{best.source}: {best.detail}")
        elif kind == "missing" and "text" in kinds and any(r.passed for r in kinds["text"]):
            continue  # another matched file passed the text checks: agbenchmark's any-file rule
        else:
            scores.append(sum(r.score for r in results) / len(results))
            reasons += [r.detail if kind == "missing" else f"{r.source}: {r.detail}" for r in results if not r.passed]
    score = sum(scores) / len(scores)
    return (not reasons, score, "; ".join(reasons) if reasons else None)
