"""Challenges in agbenchmark's `data.json` format, loaded unchanged.

A challenge is a folder: `data.json` plus optional `artifacts_in/` (uploaded to the agent's task before it
starts), `artifacts_out/` (a reference solution; `--mock` uploads it instead of running the agent) and
`custom_python/` (evaluation scripts copied beside the agent's files before a `python` eval).
AutoGPT's own challenge folders load as they are: unknown fields are kept, categories and difficulties are
free strings (ours use the seed's six categories), `description` need not start with "Tests if the agent can".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from forge.errors import AutoGPTError

BUILTIN_DIR = Path(__file__).parent / "challenges"
# agbenchmark's DifficultyLevel, easiest first (reports name the highest one passed).
DIFFICULTIES = ("interface", "basic", "novice", "intermediate", "advanced", "expert", "human")
EvalType = Literal["file", "python", "pytest", "llm"]


class ChallengeError(AutoGPTError):
    """A challenge folder or test file that cannot be loaded; the message names the file and the fix."""


class Eval(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: EvalType
    scoring: Literal["percentage", "scale", "binary"] | None = None
    template: Literal["rubric", "reference", "question", "custom"] | None = None
    examples: str | None = None

    @model_validator(mode="after")
    def _llm_fields(self) -> Eval:
        if self.type == "llm" and (self.scoring is None or self.template is None):
            raise ValueError("an llm eval needs `scoring` (percentage|scale|binary) and `template`")
        return self


class Ground(BaseModel):
    model_config = ConfigDict(extra="allow")

    answer: str = ""
    should_contain: list[str] | None = None
    should_not_contain: list[str] | None = None
    files: list[str] = Field(default_factory=list)
    case_sensitive: bool | None = True
    eval: Eval


class Info(BaseModel):
    model_config = ConfigDict(extra="allow")

    difficulty: str = "basic"
    description: str = ""
    side_effects: list[str] = Field(default_factory=list)


class ChallengeSpec(BaseModel):
    """The `data.json` of one challenge, field for field as agbenchmark defines it."""

    model_config = ConfigDict(extra="allow")

    eval_id: str = ""
    name: str
    task: str
    category: list[str]
    dependencies: list[str] = Field(default_factory=list)
    cutoff: int = 60
    ground: Ground
    info: Info = Field(default_factory=Info)
    metadata: dict[str, Any] | None = None


class Challenge(BaseModel):
    """A loaded challenge: its spec and the folder it came from."""

    spec: ChallengeSpec
    path: Path  # the challenge folder (holds data.json)
    source: str  # "builtin" or the --challenges-path root it was found under

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def data_path(self) -> str:
        """As agbenchmark reports it: `__BUILTIN__/<relative>/data.json` for ours, else the full path."""
        if self.source == "builtin":
            return f"__BUILTIN__/{(self.path / 'data.json').relative_to(BUILTIN_DIR).as_posix()}"
        return str(self.path / "data.json")

    def artifacts(self, kind: Literal["artifacts_in", "artifacts_out", "custom_python"]) -> list[Path]:
        """Files of one artifact folder, sorted, recursively (`__pycache__` left out)."""
        folder = self.path / kind
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def load_challenge(folder: Path, source: str = "builtin") -> Challenge:
    data = folder / "data.json"
    try:
        spec = ChallengeSpec.model_validate(json.loads(data.read_text()))
    except FileNotFoundError:
        raise ChallengeError(f"{folder} has no data.json; a challenge folder needs one (agbenchmark format)") from None
    except json.JSONDecodeError as e:
        raise ChallengeError(f"{data}: not valid JSON ({e.msg} at line {e.lineno}); fix the file") from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data.json"
        raise ChallengeError(f"{data}: {where}: {first['msg']}; fix the field (agbenchmark data.json format)") from None
    return Challenge(spec=spec, path=folder.resolve(), source=source)


def iter_challenge_dirs(root: Path) -> Iterator[Path]:
    """Every folder under ROOT holding a data.json, in path order; agbenchmark's deprecated and library
    folders are skipped as agbenchmark skips them."""
    for data in sorted(root.rglob("data.json")):
        posix = data.as_posix()
        if "/deprecated/" in posix or "/library/" in posix:
            continue
        yield data.parent


def discover_challenges(extra_roots: Iterable[Path] = (), *, builtin: bool = True) -> list[Challenge]:
    """The built-in suite plus every challenge under EXTRA_ROOTS. Names must be unique across all of them."""
    found: list[Challenge] = []
    roots: list[tuple[Path, str]] = [(BUILTIN_DIR, "builtin")] if builtin else []
    for root in extra_roots:
        if not root.is_dir():
            raise ChallengeError(f"--challenges-path {root}: no such folder")
        roots.append((root, str(root)))
    seen: dict[str, Path] = {}
    for root, source in roots:
        for folder in iter_challenge_dirs(root):
            challenge = load_challenge(folder, source)
            if (other := seen.get(challenge.name)) is not None:
                raise ChallengeError(
                    f"two challenges are named {challenge.name!r}: {other} and {folder}; rename one of them"
                )
            seen[challenge.name] = folder
            found.append(challenge)
    return found
