"""Comments cite the project's own architecture notes, which exist, not a file outside the repo."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("forge/**/*.py"), *ROOT.glob("autogpt_cli/**/*.py"), *ROOT.glob("benchmark/**/*.py"),
           ROOT / "pyproject.toml", ROOT / "run"]


def test_no_comment_cites_a_design_file_outside_the_repo() -> None:
    citing = [str(p.relative_to(ROOT)) for p in SOURCES if "DESIGN.md" in p.read_text(encoding="utf-8")]
    assert citing == []


def test_the_cited_notes_exist_and_cover_the_contracts() -> None:
    notes = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert any("docs/architecture.md" in p.read_text(encoding="utf-8") for p in SOURCES)
    for heading in ("**Decision**", "**Tool**", "**Block**", "**Workflow file**", "**Run events**",
                    "**Agent Protocol v1**", "## 2. Data flow", "## 4. Extension points", "## 5. Measured facts"):
        assert heading in notes, heading
