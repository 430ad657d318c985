"""The data root and every folder the agent keeps data in are owner-only (0700), through the CLI."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from forge.errors import WorkspaceError
from forge.models.scripted import decision
from forge.security import permissions
from forge.security.permissions import private_dir

AUTOGPT = str(Path(sys.executable).parent / "autogpt")


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    import subprocess

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    full_env.update(env or {})
    result = subprocess.run([AUTOGPT, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_missing_folders_are_created_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        private_dir(tmp_path / "data" / "agents" / "a" / "workspace")
    finally:
        os.umask(old)
    for folder in ("data", "data/agents", "data/agents/a", "data/agents/a/workspace"):
        assert mode(tmp_path / folder) == 0o700, folder


def test_broader_folders_are_tightened_from_the_root_down(tmp_path: Path) -> None:
    root = tmp_path / "data"
    deep = root / "agents" / "a" / "workspace"
    deep.mkdir(parents=True)
    for folder, m in ((root, 0o755), (root / "agents", 0o2775), (root / "agents" / "a", 0o777), (deep, 0o750)):
        os.chmod(folder, m)
    os.chmod(tmp_path, 0o755)
    private_dir(deep, root=root)
    assert [mode(f) for f in (root, root / "agents", root / "agents" / "a", deep)] == [0o700] * 4
    assert mode(tmp_path) == 0o755  # above the root: not ours to change
    os.chmod(root, 0o500)  # narrower than 0700 is left alone (only group/other and special bits go)
    private_dir(deep, root=root)
    assert mode(root) == 0o500
    os.chmod(root, 0o700)


def test_a_folder_that_cannot_be_tightened_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)

    def refuse(path: object, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(permissions.os, "chmod", refuse)
    with pytest.raises(WorkspaceError, match=r"shared is not writable or not yours.*--workspace DIR"):
        private_dir(shared)


def test_cli_agent_run_workflow_run_and_credentials_keep_every_folder_0700(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o755)  # found broader: tightened
    model = tmp_path / "script.json"
    model.write_text(json.dumps([decision("write_file", path="a.txt", content="1"), decision("finish", reason="ok")]))
    cli("run", "write", "-c", "--json", "--model", f"scripted/{model}", "--workspace", str(data), cwd=tmp_path)
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"name": "f", "nodes": [
        {"id": "w", "block": "file_write", "config": {"path": "out.txt", "content": "x"}}]}))
    cli("workflow", "run", str(flow), "--workspace", str(data), "--cache", cwd=tmp_path)
    cli("credentials", "set", "slack", "token=xoxb-test-123456", "--workspace", str(data), cwd=tmp_path)

    agent_runs = list((data / "runs").iterdir())
    flow_runs = list((data / "workflows" / "runs").iterdir())
    cache = data / "workflows" / "cache"
    agent = data / "agents" / "autogpt"
    folders = [data, data / "agents", agent, agent / "workspace", agent / "memory", data / "runs", *agent_runs,
               data / "workflows", data / "workflows" / "runs", *flow_runs, data / "workflows" / "files",
               *(p for p in cache.rglob("*") if p.is_dir())]
    assert len(agent_runs) == 1 and len(flow_runs) == 1 and (data / "workflows" / "files" / "out.txt").exists()
    assert {str(f.relative_to(tmp_path)): oct(mode(f)) for f in folders if mode(f) != 0o700} == {}
    assert mode(data / "credentials.json") == 0o600
