"""Prompt templates: shipped as package data, overridden file by file from the user's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from forge.agent.prompt import PromptBuilder, load_template
from forge.errors import ConfigError
from forge.tools.base import ToolRegistry

SHIPPED = Path(__file__).resolve().parents[1] / "forge" / "prompts"


def test_shipped_templates_are_read_from_the_package() -> None:
    for path in SHIPPED.glob("*.txt"):
        assert load_template(path.name) == path.read_text(encoding="utf-8")


def test_users_folder_overrides_one_file_and_the_rest_fall_back(settings, tmp_path) -> None:
    mine = tmp_path / "my-prompts"
    mine.mkdir()
    (mine / "system.txt").write_text("I am $ai_name and I follow my own rules.\n$tools\n")
    settings.prompts_dir = mine
    builder = PromptBuilder.from_options(settings, ToolRegistry(), "a goal")
    assert builder.system_message["content"].startswith(f"I am {settings.ai_name} and I follow my own rules.")
    # step.txt is not in the folder: the shipped one is used.
    step = builder.messages([], 1, [])[-1]["content"]
    assert "Reply with your next decision as one JSON object." in step


def test_a_missing_template_names_both_places(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.txt is in neither .*my-prompts nor forge/prompts; restore it"):
        load_template("nope.txt", tmp_path / "my-prompts")
    with pytest.raises(ConfigError, match=r"nope\.txt is not in forge/prompts; restore it or reinstall"):
        load_template("nope.txt")
