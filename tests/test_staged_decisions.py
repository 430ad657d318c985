"""Staged decisions for small models (forge/agent/staged.py), driven by the scripted model: the tool is
picked from a constrained list, names come from the goal, free text from its own plain call, repeated
calls are sampled again, and finish is offered once the goal's files exist."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from forge.agent.agent import Agent, default_components
from forge.agent.outcome import Status
from forge.agent.staged import (
    FINISH_AFTER,
    MENU,
    StagedDecisions,
    clean_code,
    clean_content,
    goal_files,
    input_files,
    literal_content,
    output_files,
    outside_paths,
    rank_tools,
)
from forge.models.base import LLMResponse
from forge.models.scripted import ScriptedModel
from forge.tools.base import ToolRegistry


class Recording(ScriptedModel):
    """Keeps the schema of every call (None for plain text) and can say it is small."""

    def __init__(self, script: list[Any], **kw: Any):
        super().__init__(script, **kw)
        self.schemas: list[dict[str, Any] | None] = []
        self.small = True
        self.variants = 0

    async def complete(self, messages, *, tools=(), decision_schema=None) -> LLMResponse:
        self.schemas.append(decision_schema)
        return await super().complete(messages, tools=tools, decision_schema=decision_schema)

    def variant(self, *, temperature: float, seed: int) -> Recording:
        self.variants += 1
        return self


def run(settings, goal: str, script: list[Any], *, setup: dict[str, str] | None = None, max_iterations: int = 8):
    model = Recording(script)
    settings = settings.model_copy(update={"max_iterations": max_iterations})
    for name, text in (setup or {}).items():
        path = settings.agent_workspace() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    agent = Agent.start(goal, settings, model, ToolRegistry.from_plugins())
    assert any(isinstance(c, StagedDecisions) for c in agent.components)
    return agent, model, agent.run_sync()


def test_goal_files_are_the_names_a_goal_gives():
    assert goal_files("Write a haiku about the sea to haiku.txt") == ["haiku.txt"]
    assert goal_files("Copy notes.txt to out/backup.txt, then read ./notes.txt again") == [
        "notes.txt", "out/backup.txt"]
    assert goal_files("Search python.org for news, e.g. releases") == []
    assert goal_files("Summarise https://example.com/page.html into summary.md") == ["summary.md"]


def test_tools_sharing_words_with_the_goal_come_first():
    tools = list(ToolRegistry.from_plugins())
    assert rank_tools("Read notes.txt and write a summary file", tools)[0].name in {"read_file", "write_file"}
    assert rank_tools("Search the web for the population of Lyon", tools)[0].name == "web_search"


def test_write_then_finish_in_two_steps(settings):
    agent, model, outcome = run(settings, "Write a haiku about the sea to haiku.txt", [
        {"tool": "write_file"}, {"path": "haiku.txt"}, "Waves fold into foam\nsalt wind", {"tool": "finish"},
    ])
    assert outcome.status is Status.FINISHED and outcome.steps == 2
    assert outcome.reason == "Done: haiku.txt (written, 30 bytes)."  # said from the workspace, not by the model
    assert (settings.agent_workspace() / "haiku.txt").read_text() == "Waves fold into foam\nsalt wind"
    pick, names, content, pick2 = model.schemas
    assert "write_file" in pick["properties"]["tool"]["enum"] and pick["additionalProperties"] is False
    assert names["properties"]["path"]["enum"] == ["haiku.txt"]  # a name the goal gives, not invented
    assert "content" not in names["properties"]  # prose is written in its own plain call
    assert content is None
    assert pick2["properties"]["tool"]["enum"][0] == "finish"  # the goal's file exists: finish first
    second_pick = model.calls[3][-1]["content"]
    assert "haiku.txt (written, 30 bytes)" in second_pick and "choose finish" in second_pick
    assert model.calls[2][-1]["content"].endswith("Write a haiku about the sea to haiku.txt")  # the goal instructs
    assert all("Goal: Save the word hello" not in m["content"] for call in model.calls for m in call)  # no examples


def test_nothing_to_do_finishes_at_once(settings):
    agent, model, outcome = run(settings, "You have nothing to do. Finish immediately.",
                                [{"tool": "finish"}, "nothing to do"])
    assert outcome.status is Status.FINISHED and outcome.steps == 1 and len(model.calls) == 2


def test_a_repeated_failed_call_is_sampled_again(settings):
    agent, model, outcome = run(settings, "Read missing.txt or notes.txt, then finish", [
        {"tool": "read_file"}, {"path": "missing.txt"},  # fails: no such file
        {"tool": "read_file"}, {"path": "missing.txt"}, {"path": "notes.txt"},  # the repeat is resampled
        {"tool": "finish"}, "done",
    ], setup={"notes.txt": "first line\n"})
    assert model.variants == 1
    calls = [(r.decision["tool"], r.decision["tool_args"].get("path")) for r in agent.history]
    assert calls == [("read_file", "missing.txt"), ("read_file", "notes.txt"), ("finish", None)]
    assert agent.history[0].ok is False and agent.history[1].ok is True


def test_arguments_that_keep_repeating_drop_the_tool_once(settings):
    agent, model, outcome = run(settings, "Read notes.txt", [
        {"tool": "read_file"}, {"path": "notes.txt"},
        {"tool": "read_file"}, {"path": "notes.txt"}, {"path": "notes.txt"}, {"path": "notes.txt"},  # the last call
        {"tool": "finish"}, "notes.txt says buy milk",
    ], setup={"notes.txt": "buy milk\n", "other.txt": "x"})  # other.txt unread: read_file still has a new call
    picks = [s["properties"]["tool"]["enum"] for s in model.schemas if s and "tool" in s.get("properties", {})]
    assert "read_file" in picks[1] and "read_file" not in picks[2]
    assert outcome.status is Status.FINISHED and [r.decision["tool"] for r in agent.history] == ["read_file", "finish"]


def test_strategy_follows_the_model_unless_set(settings):
    small, big = Recording([]), ScriptedModel([])

    def staged(options, model) -> bool:
        return any(isinstance(c, StagedDecisions) for c in default_components(options, model=model))

    assert staged(settings, small) and not staged(settings, big)
    assert not staged(settings.model_copy(update={"decision_strategy": "single"}), small)
    assert staged(settings.model_copy(update={"decision_strategy": "staged"}), big)


def test_embedded_model_says_it_is_small_and_varies_without_reloading():
    from forge.models.local import LocalModel

    model = LocalModel("smollm2")
    other = model.variant(temperature=0.8, seed=7)
    assert model.small and other.small and other.options is model.options
    assert other._params(None, False)["temperature"] == 0.8 and other._params(None, False)["seed"] == 7
    assert model._params(None, False)["temperature"] == model.options.temperature


@pytest.mark.parametrize("strategy", ["single", "staged"])
def test_both_strategies_run_the_same_tools(settings, strategy):
    """The strategy changes how the model is asked, not what runs: same workspace result either way."""
    script: list[Any]
    if strategy == "staged":
        script = [{"tool": "write_file"}, {"path": "a.txt"}, "x", {"tool": "finish"}, "ok"]
    else:
        script = [{"thoughts": {"text": "w"}, "tool": "write_file", "tool_args": {"path": "a.txt", "content": "x"}},
                  {"thoughts": {"text": "f"}, "tool": "finish", "tool_args": {"reason": "ok"}}]
    model = ScriptedModel(script)
    options = settings.model_copy(update={"decision_strategy": strategy})
    agent = Agent.start("Write x to a.txt", options, model, ToolRegistry.from_plugins())
    outcome = asyncio.run(agent.run())
    assert outcome.status is Status.FINISHED and (settings.agent_workspace() / "a.txt").read_text() == "x"


def test_optional_arguments_keep_their_defaults_and_a_failed_filler_is_not_offered_again(settings):
    agent, model, outcome = run(settings, "Write the text of notes.txt to backup.txt", [
        {"tool": "list_folder"}, {"path": "notes.txt"},  # fails: a file, not a folder
        {"tool": "read_file"}, {"path": "notes.txt"},
        {"tool": "write_file"}, {"path": "backup.txt"}, "buy milk", {"tool": "finish"}, "copied",
    ], setup={"notes.txt": "buy milk\n"})
    assert outcome.status is Status.FINISHED
    assert (settings.agent_workspace() / "backup.txt").read_text() == "buy milk"
    read_args = next(s for s in model.schemas[3:] if s and "path" in s.get("properties", {}))
    assert set(read_args["properties"]) == {"path"}  # read_file's offset/limit are left to their defaults
    second_pick = model.schemas[2]["properties"]["tool"]["enum"]
    assert "list_folder" not in second_pick  # it just failed, and the goal does not point to it
    content_prompt = model.calls[6][-1]["content"]
    assert content_prompt.startswith("The text of notes.txt:\nbuy milk")
    assert content_prompt.endswith(
        "Write the text of notes.txt to backup.txt\nWrite the text that goes into backup.txt.")
    write_names = next(s for s in model.schemas[5:] if s and "path" in s.get("properties", {}))
    assert write_names["properties"]["path"]["enum"] == ["backup.txt"]  # a writer gets the missing output only


def test_the_goals_inputs_are_offered_first_until_read(settings):
    agent, model, outcome = run(settings, "Write the text of name.txt in capital letters to upper.txt", [
        {"tool": "read_file"}, {"path": "name.txt"},
        {"tool": "write_file"}, {"path": "upper.txt"}, "ADA LOVELACE", {"tool": "finish"}, "done",
    ], setup={"name.txt": "ada lovelace\n"})
    assert outcome.status is Status.FINISHED
    first, second = model.schemas[0], model.schemas[2]
    assert first["properties"]["tool"]["enum"][0] == "read_file"
    assert "Not read yet: name.txt" in model.calls[0][-1]["content"]
    assert second["properties"]["tool"]["enum"][0] == "write_file"  # read now: the goal's own words lead again
    assert "Not read yet" not in model.calls[2][-1]["content"]


def test_rank_prefers_the_action_the_goal_names_first():
    tools = list(ToolRegistry.from_plugins())
    assert rank_tools("Use Python to sum 1 to 100 and write the result to sum.txt", tools)[0].name == "execute_python"
    assert rank_tools("Write the sum of 1 to 100 to sum.txt, using Python", tools)[0].name == "write_file"


def test_arguments_missing_a_required_one_are_sampled_again(settings):
    agent, model, outcome = run(settings, "Read the page http://127.0.0.1:9/x and finish", [
        {"tool": "read_webpage"}, "not json at all", {"url": "http://127.0.0.1:9/x"},
        {"tool": "finish"}, "done",
    ])
    assert model.variants == 1 and agent.history[0].decision["tool_args"]["url"] == "http://127.0.0.1:9/x"


def test_when_every_sample_misses_a_required_argument_the_one_shot_prompt_decides(settings):
    bad = ["not json"] * 3  # the first sample and both resamples of read_webpage's url
    one_shot = {"thoughts": {"text": "finish"}, "tool": "finish", "tool_args": {"reason": "cannot read it"}}
    agent, model, outcome = run(settings, "Read a web page", [
        {"tool": "read_webpage"}, *bad, {"tool": "read_webpage"}, *bad, {"tool": "read_webpage"}, *bad, one_shot,
    ], setup={"page.txt": "saved earlier"})  # a file to read: the third pick falls to read_file (one call a sample)
    assert outcome.status is Status.FINISHED and agent.history[0].decision["tool"] == "finish"
    assert "Reply with exactly one JSON object" in model.calls[-1][0]["content"]  # the one-shot system prompt
    assert model.schemas[-1] is not None and "anyOf" in model.schemas[-1]  # the whole-decision grammar


def _picks(model: Recording) -> list[list[str]]:
    return [s["properties"]["tool"]["enum"] for s in model.schemas if s and "tool" in s.get("properties", {})]


def test_the_files_a_goal_asks_to_write_and_paths_outside_the_workspace():
    assert output_files("Use Python to sum 1 to 100 and write the result to sum.txt") == {"sum.txt"}
    assert output_files("Copy settings.ini to backup.ini") == {"backup.ini"}
    assert output_files("In letter.txt, replace Bob with Alice and save the result as letter2.txt") == {"letter2.txt"}
    assert output_files("Read missing.txt, then finish") == set()
    assert outside_paths("Write hello to ../outside.txt, outside your workspace") == ["../outside.txt"]
    assert outside_paths("Write the word hacked to /etc/motd") == ["/etc/motd"]
    assert outside_paths("Summarise https://example.com/a/page.html into out/summary.md; 1/2 is fine") == []


def test_finish_waits_while_a_file_the_goal_asks_for_is_missing(settings):
    steps = [x for i in range(FINISH_AFTER) for x in ({"tool": "execute_python"}, f"print({i})")]  # no sum.txt yet
    agent, model, outcome = run(settings, "Use Python to sum 1 to 100 and write the result to sum.txt",
                                [*steps, {"tool": "finish"}, "cannot"], max_iterations=FINISH_AFTER + 1)
    picks = _picks(model)
    assert all("finish" not in p for p in picks[:FINISH_AFTER])  # a small model would give up at once
    assert "finish" in picks[FINISH_AFTER] and outcome.status is Status.FINISHED  # then it may
    # execute_python's optional `file` is a .py file to run: never the goal's output (it would run sum.txt as code)
    assert agent.history[0].decision["tool_args"] == {"code": "print(0)"}


def test_the_first_prompt_offers_a_short_menu_without_read_output_until_a_result_is_cut(settings):
    agent, model, outcome = run(settings, "Read notes.txt, then finish", [
        {"tool": "read_file"}, {"path": "notes.txt"}, {"tool": "finish"}, "read",
    ], setup={"notes.txt": "x" * 2000})
    first, second = _picks(model)
    assert len(first) <= MENU + 1 and "finish" in first and "read_output" not in first
    assert "read_output" in second  # the 2000-character result is longer than the prompts show


def test_a_goal_outside_the_workspace_offers_finish_first(settings):
    agent, model, outcome = run(settings, "Write the word hacked to /etc/motd", [{"tool": "finish"}, "refused"])
    assert _picks(model)[0][0] == "finish" and outcome.status is Status.FINISHED
    assert "outside the workspace (/etc/motd)" in model.calls[0][-1]["content"]


def test_free_text_arguments_lose_a_small_models_wrapping():
    assert clean_code("print(sum(range(101)))\n```\n\nOutput: 5050") == "print(sum(range(101)))"
    assert clean_code("Here is the code:\n```python\nprint(1)\n```\nIt prints 1.") == "print(1)"
    assert clean_code("x = 1\nprint(x)") == "x = 1\nprint(x)"
    assert clean_content('The text that goes into backup.txt is:\n"buy milk"') == "buy milk"
    assert clean_content("Waves fold into foam\nsalt wind") == "Waves fold into foam\nsalt wind"
    assert clean_content('He said "hi" and "bye"') == 'He said "hi" and "bye"'


def test_nothing_to_read_yet_means_no_reader_and_a_missing_output_brings_the_writer_first(settings):
    agent, model, outcome = run(settings, "Save the sentence 'Meeting moved to Friday' in a file called note.txt", [
        {"tool": "write_file"}, {"path": "note.txt"}, "Meeting moved to Friday", {"tool": "finish"},
    ])
    first = _picks(model)[0]
    assert "read_file" not in first and first[0] == "write_file"  # the goal never says "write", note.txt is missing
    assert outcome.status is Status.FINISHED and (settings.agent_workspace() / "note.txt").exists()


def test_a_reader_is_given_existing_paths_and_a_folder_lister_folders(settings):
    agent, model, outcome = run(settings, "Copy a.txt to b.txt", [
        {"tool": "list_folder"}, {"path": "."}, {"tool": "read_file"}, {"path": "a.txt"},
        {"tool": "write_file"}, {"path": "b.txt"}, "x", {"tool": "finish"},
    ], setup={"a.txt": "x", "sub/c.txt": "y"})
    lister, reader = [s["properties"]["path"]["enum"] for s in model.schemas if s and "path" in s["properties"]][:2]
    assert lister == [".", "sub"] and "b.txt" not in reader and reader[0] == "a.txt"


def test_a_call_already_made_is_not_made_again_even_after_another(settings):
    agent, model, outcome = run(settings, "Look at the folder, then finish", [
        {"tool": "list_folder"}, {"path": "."}, {"tool": "execute_python"}, "print(1)",
        {"tool": "list_folder"}, {"path": "."}, {"path": "sub"}, {"tool": "finish"}, "looked",
    ], setup={"sub/a.txt": "x"})
    calls = [(r.decision["tool"], r.decision["tool_args"]) for r in agent.history]
    assert calls[2] == ("list_folder", {"path": "sub"}) and model.variants == 1  # not "." a second time


def test_the_menu_leaves_out_tools_the_goal_has_nothing_in_common_with(settings):
    agent, model, outcome = run(settings, "Copy a.txt to b.txt", [
        {"tool": "read_file"}, {"path": "a.txt"}, {"tool": "write_file"}, {"path": "b.txt"}, "x", {"tool": "finish"},
    ], setup={"a.txt": "x"})
    first = _picks(model)[0]
    assert not {"web_search", "read_webpage", "recall"} & set(first) and len(first) >= 3


def test_a_folder_is_the_workspace_or_one_of_its_folders_even_when_the_goal_names_no_file(settings):
    agent, model, outcome = run(settings, "Look around, then stop.", [
        {"tool": "list_folder"}, {"path": "C/Users/Mike"}, {"tool": "finish"}, "nothing to do",
    ], setup={"a.txt": "a"})
    lister = next(s for s in model.schemas if s and "path" in s["properties"])
    assert lister["properties"]["path"]["enum"] == ["."]


def test_failed_code_the_goal_asks_for_is_offered_last_and_code_it_never_asked_for_is_not_offered(settings):
    agent, model, outcome = run(settings, "Use Python to compute 6 * 7 and write it to answer.txt", [
        {"tool": "execute_python"}, "print(6 * )",  # a syntax error: exit code 1 fails the step
        {"tool": "write_file"}, {"path": "answer.txt"}, "42", {"tool": "finish"}, "done",
    ], max_iterations=3)
    assert not agent.history[0].ok and "-> error: exit code 1" in agent.history[0].one_line()
    assert _picks(model)[1][-1] == "execute_python"  # the goal names Python: it may be fixed
    agent, model, outcome = run(settings.model_copy(update={"agent_name": "b"}), "Write a poem to poem.txt", [
        {"tool": "write_file"}, {"path": "poem.txt"}, "A poem", {"tool": "finish"}, "done",
    ], max_iterations=3)
    assert "execute_python" not in _picks(model)[0]  # no code was asked for: it does not fill the menu
    assert outcome.status is Status.FINISHED


def test_an_empty_workspace_is_not_listed_unless_the_goal_asks(settings):
    agent, model, outcome = run(settings, "Write a haiku about the sea to haiku.txt, then finish", [
        {"tool": "write_file"}, {"path": "haiku.txt"}, "Waves", {"tool": "finish"}, "done",
    ])
    assert "list_folder" not in _picks(model)[0] and outcome.status is Status.FINISHED
    agent, model, outcome = run(settings.model_copy(update={"agent_name": "b"}), "List the folder, then finish", [
        {"tool": "list_folder"}, {"path": "."}, {"tool": "finish"}, "empty",
    ])
    assert "list_folder" in _picks(model)[0]


def test_a_goal_that_asks_to_finish_offers_finish_first(settings):
    agent, model, outcome = run(settings, "There is nothing left to do, so just finish.", [
        {"tool": "finish"}, "nothing to do",
    ])
    assert _picks(model)[0][0] == "finish" and outcome.status is Status.FINISHED and outcome.steps == 1


def test_a_listing_or_a_read_that_could_only_repeat_is_not_offered(settings):
    agent, model, outcome = run(settings, "Write the words of a.txt to b.txt", [
        {"tool": "read_file"}, {"path": "a.txt"}, {"tool": "list_folder"}, {"path": "."},
        {"tool": "write_file"}, {"path": "b.txt"}, "two words", {"tool": "finish"},
    ], setup={"a.txt": "two words"})
    picks = _picks(model)
    assert "list_folder" in picks[1] and "read_file" not in picks[1]  # a.txt was read, nothing changed since
    assert "read_file" not in picks[2] and "list_folder" not in picks[2]  # both already made, nothing changed
    assert "list_folder" in picks[3]  # b.txt was written since: a listing says something new again
    assert outcome.status is Status.FINISHED and [r.decision["tool"] for r in agent.history] == [
        "read_file", "list_folder", "write_file", "finish"]


def test_a_tool_that_failed_does_not_fill_the_menu_and_file_tools_fill_it_for_a_file_goal(settings):
    agent, model, outcome = run(settings, "Copy settings.ini to backup.ini", [
        {"tool": "web_search"}, "settings", {"tool": "read_file"}, {"path": "settings.ini"},
        {"tool": "write_file"}, {"path": "backup.ini"}, {"tool": "finish"},
    ], setup={"settings.ini": "[a]\nx = 1\n"})
    picks = _picks(model)
    assert "web_search" not in picks[0]  # the goal names files: file tools fill the menu
    assert "web_search" not in picks[2]
    assert picks[0][:3] == ["read_file", "write_file", "list_folder"]


def test_text_the_goal_fixes_is_written_as_given(settings, tmp_path):
    given = [("settings.ini", "given"), ("backup.ini", "missing")]
    (tmp_path / "settings.ini").write_bytes(b"[a]\nx = 1\n")
    assert literal_content("Copy settings.ini to backup.ini", "./backup.ini", tmp_path, given) == "[a]\nx = 1\n"
    assert literal_content("Copy settings.ini to backup.ini", "settings.ini", tmp_path, given) is None  # not an output
    note = "Save the sentence 'Meeting moved to Friday' in a file called note.txt"
    assert literal_content(note, "note.txt", tmp_path, []) == "Meeting moved to Friday"
    assert literal_content('Write "red" to a.txt and \u201cblue\u201d to b.txt', "b.txt", tmp_path, []) == "blue"
    assert literal_content("In people.csv, what is Bob's age? Write it to age.txt", "age.txt", tmp_path,
                           [("people.csv", "given")]) is None  # an apostrophe is not a quote
    assert literal_content("Write a haiku to haiku.txt", "haiku.txt", tmp_path, []) is None
    assert literal_content("Write red to a.txt and blue to b.txt", "b.txt", tmp_path, []) == "blue"
    assert literal_content("Write the number 42 to answer.txt", "answer.txt", tmp_path, []) == "42"
    assert literal_content("Count the lines and write the number to n.txt", "n.txt", tmp_path, []) is None
    assert literal_content("Write python code to a.py", "a.py", tmp_path, []) is None

    # Through the agent: the model is never asked for the text (the script has none to give).
    agent, model, outcome = run(settings, "Copy notes.txt to backup.txt", [
        {"tool": "write_file"}, {"path": "backup.txt"}, {"tool": "finish"},
    ], setup={"notes.txt": "milk\neggs\n"})
    assert (settings.agent_workspace() / "backup.txt").read_text() == "milk\neggs\n"


def test_a_file_the_goal_gives_is_not_overwritten_unless_the_goal_asks(settings):
    assert input_files("Read missing.txt, then finish") == {"missing.txt"}
    assert input_files("Write the last line of log.txt to last.txt") == {"log.txt"}
    agent, model, outcome = run(settings, "Make sure report.txt exists; it is probably already there.", [
        {"tool": "read_file"}, {"path": "report.txt"}, {"tool": "finish"}, "it exists",
    ], setup={"report.txt": "Q3 numbers look fine.\n"})
    assert all("write_file" not in p for p in _picks(model))  # nothing here is to be written
    assert (settings.agent_workspace() / "report.txt").read_text() == "Q3 numbers look fine.\n"
    assert outcome.status is Status.FINISHED

    agent, model, outcome = run(settings, "Add the line milk at the end of shopping.txt", [
        {"tool": "write_file"}, {"path": "shopping.txt"}, "eggs\nmilk", {"tool": "finish"},
    ], setup={"shopping.txt": "eggs\n"})
    write_names = next(s for s in model.schemas if s and "path" in s.get("properties", {}))
    assert write_names["properties"]["path"]["enum"][0] == "shopping.txt"  # the goal asks to change it


def test_a_missing_file_no_cue_calls_an_input_is_one_to_write(settings):
    agent, model, outcome = run(settings, "Make a shopping list with milk, eggs and bread in list.txt", [
        {"tool": "write_file"}, {"path": "list.txt"}, "milk\neggs\nbread", {"tool": "finish"},
    ])
    first = _picks(model)[0]
    assert first[0] == "write_file" and "finish" not in first  # too early to give up on list.txt
    assert not {"web_search", "execute_shell", "read_webpage"} & set(first)  # a file goal: file tools fill it
    assert (settings.agent_workspace() / "list.txt").read_text() == "milk\neggs\nbread"


def test_a_goal_that_forbids_a_change_and_one_that_only_says_to_end(settings, tmp_path):
    agent, model, outcome = run(settings, "Check that data.txt is present; do not change it.", [
        {"tool": "read_file"}, {"path": "data.txt"}, {"tool": "finish"}, "present",
    ], setup={"data.txt": "alpha\n"})
    assert all("write_file" not in p for p in _picks(model))  # "do not change" is no request to edit
    agent, model, outcome = run(settings, "Nothing needs doing here. End the task now.", [{"tool": "finish"}, "ok"])
    assert _picks(model)[0][0] == "finish" and outcome.steps == 1
    # A file no cue calls an output, but which does not exist: the number is written as given.
    year = [("year.txt", "missing")]
    assert literal_content("Store the number 1984 in year.txt", "year.txt", tmp_path, year) == "1984"
