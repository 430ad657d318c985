"""Every file a run changes is recoverable: versions kept per step, FilesChanged events, undo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from forge.agent.agent import Agent
from forge.events.models import FilesChanged
from forge.models.scripted import ScriptedModel, decision
from forge.runs import versions
from forge.runs.versions import VersionStore, apply_undo, plan_undo
from forge.tools.base import ToolContext, ToolRegistry, tool
from forge.tools.builtin import finish, read_file, write_file

BINARY = bytes(range(256)) * 4


@tool
def remove(ctx: ToolContext, path: str) -> str:
    """Delete a file (stands for code or a plugin tool: its effects are unknown beforehand).

    Args:
        path: File to delete.
    """
    (ctx.workspace / path).unlink()
    return f"removed {path}"


@tool
def scribble(ctx: ToolContext) -> str:
    """Write a binary file and a new text file."""
    (ctx.workspace / "img.bin").write_bytes(BINARY[::-1])
    (ctx.workspace / "sub").mkdir(exist_ok=True)
    (ctx.workspace / "sub" / "new.txt").write_text("brand new\n")
    return "scribbled"


def tools() -> ToolRegistry:
    return ToolRegistry([write_file, read_file, remove, scribble, finish])


def run(settings, script) -> Agent:
    agent = Agent.start("work on the files", settings, ScriptedModel(script), tools(), memory=None)
    agent.run_sync()
    return agent


@pytest.fixture
def user_files(settings):
    ws = settings.agent_workspace()
    ws.mkdir(parents=True)
    (ws / "data.csv").write_bytes(b"id,name\r\n1,\xc3\xa9mile\r\n2,bob\r\n")  # CRLF and UTF-8: byte-exact
    (ws / "notes.txt").write_bytes(b"keep me\n")
    os.chmod(ws / "notes.txt", 0o600)
    (ws / "img.bin").write_bytes(BINARY)
    return ws


def test_overwrite_and_delete_are_undone_byte_for_byte(settings, user_files):
    before = {p.name: p.read_bytes() for p in user_files.iterdir()}
    agent = run(settings, [
        decision("write_file", path="data.csv", content="Data.csv"),
        decision("remove", path="notes.txt"),
        decision("scribble"),
        decision("finish", reason="done"),
    ])
    assert (user_files / "data.csv").read_text() == "Data.csv" and not (user_files / "notes.txt").exists()

    events = [e for e in agent.log.events() if isinstance(e, FilesChanged)]
    assert [(e.step, [(c.path, c.change) for c in e.changes]) for e in events] == [
        (1, [("data.csv", "modified")]),
        (2, [("notes.txt", "deleted")]),
        (3, [("img.bin", "modified"), ("sub/new.txt", "created")]),
    ]
    assert "-2,bob" in events[0].changes[0].diff and "+Data.csv" in events[0].changes[0].diff
    assert events[2].changes[0].binary and events[2].changes[0].diff == ""

    store = VersionStore.open(agent.log.dir)
    assert store is not None and store.root == user_files.resolve()
    actions = plan_undo(store)
    assert {a.path: a.action for a in actions} == {
        "data.csv": "restore", "notes.txt": "recreate", "img.bin": "restore", "sub/new.txt": "delete"
    }
    apply_undo(store, actions, 0)
    assert {p.name: p.read_bytes() for p in user_files.iterdir() if p.is_file()} == before
    assert os.stat(user_files / "notes.txt").st_mode & 0o777 == 0o600
    assert not (user_files / "sub" / "new.txt").exists()
    assert plan_undo(store) == []  # undone steps are not undone twice


def test_undo_to_a_step_keeps_the_earlier_steps(settings, user_files):
    agent = run(settings, [
        decision("write_file", path="data.csv", content="v1"),
        decision("write_file", path="data.csv", content="v2"),
        decision("write_file", path="other.txt", content="x"),
        decision("finish", reason="done"),
    ])
    store = VersionStore.open(agent.log.dir)
    assert store is not None
    apply_undo(store, plan_undo(store, 1), 1)
    assert (user_files / "data.csv").read_text() == "v1" and not (user_files / "other.txt").exists()


def test_a_file_changed_after_the_run_is_not_overwritten_without_force(settings, user_files):
    agent = run(settings, [decision("write_file", path="data.csv", content="agent"), decision("finish", reason="x")])
    (user_files / "data.csv").write_text("the user's own later edit")
    store = VersionStore.open(agent.log.dir)
    assert store is not None
    [action] = plan_undo(store)
    assert action.problem == "changed since the run left it"
    with pytest.raises(Exception, match="--force"):
        apply_undo(store, [action], 0)
    assert (user_files / "data.csv").read_text() == "the user's own later edit"
    apply_undo(store, [action], 0, force=True)
    assert (user_files / "data.csv").read_bytes().startswith(b"id,name\r\n")


def test_only_changed_files_are_copied_between_scans(settings, user_files, monkeypatch):
    agent = run(settings, [decision("scribble"), decision("remove", path="img.bin"), decision("finish", reason="x")])
    store = VersionStore.open(agent.log.dir)
    assert store is not None
    kept: list[str] = []
    real_keep = VersionStore.keep
    monkeypatch.setattr(VersionStore, "keep", lambda self, p, **kw: kept.append(p.name) or real_keep(self, p, **kw))
    (user_files / "notes.txt").write_text("edited by the user\n")
    store.snapshot()
    assert kept == ["notes.txt"]  # the others' stat is unchanged: neither hashed nor copied


def test_a_file_too_large_to_keep_is_a_warning_the_model_sees(settings, user_files, monkeypatch):
    monkeypatch.setattr(versions, "MAX_FILE_BYTES", 100)
    (user_files / "big.log").write_text("x" * 500)
    agent = run(settings, [decision("remove", path="big.log"), decision("finish", reason="x")])
    [event] = [e for e in agent.log.events() if isinstance(e, FilesChanged)]
    assert event.changes[0].path == "big.log" and not event.changes[0].kept
    assert "big.log" in event.warnings[0] and "cannot be undone" in event.warnings[0]
    prompt = json.dumps(agent.model.calls[-1])  # type: ignore[attr-defined]
    assert "big.log changed but its previous version was too large to keep" in prompt


def test_a_step_killed_midway_is_recovered_from_its_pending_record(settings, user_files):
    agent = run(settings, [decision("finish", reason="x")])
    store = VersionStore(agent.log.dir, user_files)
    store.init()
    journal = versions.StepJournal(store, 7)
    journal.snapshot()  # then the process dies while the tool runs:
    (user_files / "data.csv").unlink()
    apply_undo(store, plan_undo(store), 0)
    assert (user_files / "data.csv").read_bytes().startswith(b"id,name")


def test_read_only_tools_keep_nothing(settings, user_files):
    agent = run(settings, [decision("read_file", path="data.csv"), decision("finish", reason="x")])
    assert not (Path(agent.log.dir) / "files").exists()


def test_only_previous_versions_are_stored(settings, user_files):
    """What a step leaves is hashed, not copied: a file the agent wrote is not duplicated in the run."""
    agent = run(settings, [decision("write_file", path="new.txt", content="written-by-the-agent-42"),
                           decision("finish", reason="x")])
    kept = [p.read_bytes() for p in (Path(agent.log.dir) / "files").rglob("*") if p.is_file()]
    assert kept and not any(b"written-by-the-agent-42" in k for k in kept)
    [event] = [e for e in agent.log.events() if isinstance(e, FilesChanged)]
    assert "+written-by-the-agent-42" in event.changes[0].diff  # the diff still shows it


def test_a_killed_step_after_a_deletion_is_settled_against_the_right_state(settings, user_files):
    from forge.agent.file_history import FileHistory

    agent = run(settings, [decision("remove", path="notes.txt"), decision("finish", reason="x")])
    store = next(c for c in agent.components if isinstance(c, FileHistory)).store(agent)  # the run's own
    assert store is not None
    journal = versions.StepJournal(store, 3)
    journal.snapshot()
    (user_files / "half-written.txt").write_text("partial")  # then the process dies
    fresh = VersionStore.open(agent.log.dir)  # as a later `runs undo` sees it
    assert fresh is not None
    apply_undo(fresh, plan_undo(fresh, 1), 1)
    assert not (user_files / "half-written.txt").exists() and not (user_files / "notes.txt").exists()
