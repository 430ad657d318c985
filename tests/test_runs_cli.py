"""`autogpt run --workdir`, `runs show/undo/delete/prune` through the real CLI, with the scripted model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forge.models.scripted import decision

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
HAS_BWRAP = shutil.which("bwrap") is not None
USER_CSV = b"id,name\r\n1,\xc3\xa9mile\r\n2,bob\r\n"


def cli(*args: str, cwd: Path, input: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    env["COLUMNS"] = "200"
    return subprocess.run([AUTOGPT, *args], input=input, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=120)


def run_script(tmp_path: Path, project: Path, *items: dict, extra: tuple[str, ...] = ()) -> str:
    script = tmp_path / f"script-{len(list(tmp_path.glob('script-*')))}.json"
    script.write_text(json.dumps(list(items)))
    result = cli("run", "tidy the folder", "--workdir", str(project), "--workspace", str(tmp_path / "data"),
                 "--model", f"scripted/{script}", "-c", "--no-memory", *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return next(line for line in result.stdout.splitlines() if "AutoGPT run " in line).split()[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    os.chmod(folder, 0o755)
    (folder / "data.csv").write_bytes(USER_CSV)
    (folder / "notes.txt").write_bytes(b"my notes\n")
    return folder


@pytest.mark.skipif(not HAS_BWRAP, reason="needs bubblewrap for execute_python")
def test_the_agent_overwrites_and_deletes_a_users_file_and_undo_restores_both(tmp_path, project):
    run_id = run_script(
        tmp_path, project,
        decision("write_file", path="data.csv", content="Data.csv"),
        decision("execute_python", code="import os; os.remove('notes.txt'); open('made.txt', 'w').write('x')"),
        decision("finish", reason="done"),
    )
    assert (project / "data.csv").read_bytes() == b"Data.csv" and not (project / "notes.txt").exists()
    assert os.stat(project).st_mode & 0o777 == 0o755  # the user's folder is used as it is
    assert not (tmp_path / "data" / "agents").exists() or not any((tmp_path / "data" / "agents").rglob("*.csv"))

    ws = str(tmp_path / "data")
    refused = cli("runs", "undo", run_id, "--workspace", ws, cwd=tmp_path)  # no terminal to ask, no --yes
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert (project / "data.csv").read_bytes() == b"Data.csv"

    undone = cli("runs", "undo", run_id, "--workspace", ws, "--yes", cwd=tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert "restore: data.csv" in undone.stdout and "recreate (deleted by the run): notes.txt" in undone.stdout
    assert "remove (created by the run): made.txt" in undone.stdout
    assert (project / "data.csv").read_bytes() == USER_CSV
    assert (project / "notes.txt").read_bytes() == b"my notes\n"
    assert sorted(p.name for p in project.iterdir()) == ["data.csv", "notes.txt"]


def test_the_display_and_runs_show_carry_the_diff(tmp_path, project):
    script = tmp_path / "s.json"
    script.write_text(json.dumps([decision("write_file", path="data.csv", content="id,name\n1,zoe\n"),
                                  decision("finish", reason="done")]))
    result = cli("run", "fix", "--workdir", str(project), "--workspace", str(tmp_path / "data"),
                 "--model", f"scripted/{script}", "-c", "--no-memory", cwd=tmp_path)
    assert "FILES CHANGED (1):" in result.stdout and "modified: data.csv" in result.stdout
    assert "+1,zoe" in result.stdout and "-2,bob" in result.stdout
    run_id = result.stdout.split("AutoGPT run ")[1].split()[0]

    shown = cli("runs", "show", run_id, "--workspace", str(tmp_path / "data"), cwd=tmp_path)
    assert "path='data.csv'" in shown.stdout and "data.csv (modified)" in shown.stdout
    diff = cli("runs", "show", run_id, "--diff", "--workspace", str(tmp_path / "data"), cwd=tmp_path)
    assert "+1,zoe" in diff.stdout
    as_json = json.loads(cli("runs", "show", run_id, "--json", "--workspace", str(tmp_path / "data"),
                             cwd=tmp_path).stdout)
    assert as_json["steps"][0]["files"][0]["path"] == "data.csv"
    assert as_json["steps"][0]["tool_args"] == {"path": "data.csv", "content": "id,name\n1,zoe\n"}


def test_undo_refuses_a_file_changed_since_unless_forced(tmp_path, project):
    run_id = run_script(tmp_path, project, decision("write_file", path="data.csv", content="agent"),
                        decision("write_file", path="new.txt", content="n"), decision("finish", reason="x"))
    (project / "data.csv").write_text("edited by me afterwards")
    ws = str(tmp_path / "data")
    refused = cli("runs", "undo", run_id, "--workspace", ws, "--yes", cwd=tmp_path)
    assert refused.returncode == 2 and "changed since the run left it" in refused.stdout
    assert "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert (project / "data.csv").read_text() == "edited by me afterwards" and (project / "new.txt").exists()

    partial = cli("runs", "undo", run_id, "--to-step", "1", "--workspace", ws, "--yes", cwd=tmp_path)
    assert partial.returncode == 0 and not (project / "new.txt").exists()
    assert (project / "data.csv").read_text() == "edited by me afterwards"
    forced = cli("runs", "undo", run_id, "--workspace", ws, "--yes", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (project / "data.csv").read_bytes() == USER_CSV


@pytest.mark.parametrize("folder, message", [
    ("/", "filesystem root"),
    ("~", "home folder itself"),
    ("data/runs", "inside AutoGPT's data folder"),
    ("missing", "not an existing folder"),
])
def test_dangerous_or_missing_workdirs_are_refused(tmp_path, folder, message):
    (tmp_path / "data" / "runs").mkdir(parents=True)
    result = cli("run", "x", "--workdir", folder, "--workspace", "data", "--model", "scripted/none.json",
                 cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not HAS_BWRAP, reason="needs bubblewrap for execute_shell")
def test_runs_show_reports_a_failed_command_as_an_error(tmp_path, project):
    run_id = run_script(tmp_path, project, decision("execute_shell", command="ls no-such-file"),
                        decision("finish", reason="x"))
    shown = json.loads(cli("runs", "show", run_id, "--json", "--workspace", str(tmp_path / "data"),
                           cwd=tmp_path).stdout)
    assert shown["steps"][0]["ok"] is False and shown["steps"][1]["ok"] is True
    table = cli("runs", "show", run_id, "--workspace", str(tmp_path / "data"), cwd=tmp_path).stdout
    assert "error: exit code 2" in table and "command='ls no-such-file'" in table


def test_delete_and_prune_never_touch_a_running_run(tmp_path, project):
    ws = tmp_path / "data"
    ids = [run_script(tmp_path, project, decision("finish", reason=str(i))) for i in range(3)]
    state = ws / "runs" / ids[0] / "state.json"
    state.write_text(json.dumps({**json.loads(state.read_text()), "status": "running", "pid": os.getpid()}))

    refused = cli("runs", "delete", ids[0], "--workspace", str(ws), "--yes", cwd=tmp_path)
    assert refused.returncode == 2 and "is running" in refused.stderr and (ws / "runs" / ids[0]).is_dir()
    missing = cli("runs", "delete", "nope", "--workspace", str(ws), "--yes", cwd=tmp_path)
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr

    deleted = cli("runs", "delete", ids[1], "--workspace", str(ws), "--yes", cwd=tmp_path)
    assert deleted.returncode == 0 and not (ws / "runs" / ids[1]).exists()

    assert cli("runs", "prune", "--workspace", str(ws), cwd=tmp_path).returncode == 2  # no criterion
    bad = cli("runs", "prune", "--older-than", "soon", "--workspace", str(ws), cwd=tmp_path)
    assert bad.returncode == 2 and "30d" in bad.stderr
    typo = cli("runs", "prune", "--status", "faild", "--workspace", str(ws), cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'failed'" in typo.stderr and "--status 'faild'" in typo.stderr
    assert cli("runs", "prune", "--older-than", "1d", "--workspace", str(ws), "--yes", cwd=tmp_path).returncode == 0
    assert (ws / "runs" / ids[2]).is_dir()  # younger than a day
    failed = cli("runs", "prune", "--status", "failed", "--workspace", str(ws), "--yes", cwd=tmp_path)
    assert failed.returncode == 0 and "nothing to prune" in failed.stdout  # every run finished
    pruned = cli("runs", "prune", "--status", "finished", "--workspace", str(ws), "--yes", cwd=tmp_path)
    assert pruned.returncode == 0 and ids[2] in pruned.stdout
    assert sorted(p.name for p in (ws / "runs").iterdir()) == [ids[0]]  # the running one stays


def test_a_protocol_task_keeps_versions_too(tmp_path):
    from ap_helpers import Server, write_script

    model = write_script(tmp_path / "ap.json", [decision("write_file", path="notes.txt", content="overwritten"),
                                                 decision("finish", reason="done")])
    srv = Server(tmp_path / "ws", model).start()
    try:
        with srv.client() as c:
            tid = c.post("/agent/tasks", json={"input": "rewrite notes.txt"}).json()["task_id"]
            up = c.post(f"/agent/tasks/{tid}/artifacts", files={"file": ("notes.txt", b"mine\n")})
            assert up.status_code == 200, up.text
            first = c.post(f"/agent/tasks/{tid}/steps", json={}).json()
            c.post(f"/agent/tasks/{tid}/steps", json={"input": "y"})
            assert c.post(f"/agent/tasks/{tid}/steps", json={}).json()["is_last"]
    finally:
        srv.stop()
    notes = tmp_path / "ws" / "agents" / f"task-{tid}" / "workspace" / "notes.txt"
    assert notes.read_bytes() == b"overwritten"
    undone = cli("runs", "undo", first["additional_output"]["run_id"], "--workspace", str(tmp_path / "ws"), "--yes",
                 cwd=tmp_path)
    assert undone.returncode == 0, undone.stderr
    assert notes.read_bytes() == b"mine\n"


def test_a_resumed_workdir_run_goes_on_in_the_same_folder(tmp_path, project):
    script = tmp_path / "r.json"
    script.write_text(json.dumps([decision("list_folder", path="."),  # nothing changed before the stop
                                  decision("write_file", path="two.txt", content="2"),
                                  decision("finish", reason="done")]))
    ws = str(tmp_path / "data")
    first = cli("run", "two files", "--workdir", str(project), "--workspace", ws, "--model", f"scripted/{script}",
                "-c", "--no-memory", "--max-iterations", "1", cwd=tmp_path)
    assert first.returncode == 3 and "data.csv" in first.stdout
    run_id = first.stdout.split("AutoGPT run ")[1].split()[0]
    again = cli("run", "--resume", run_id, "--workspace", ws, "-c", "--no-memory", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (project / "two.txt").read_text() == "2"
