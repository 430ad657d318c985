"""`./run agent create/start/stop/list` through the real `run` script, servers on 127.0.0.1 only.

Agents and pid records go to temporary folders (RUN_AGENTS_DIR, RUN_STATE_DIR), never the checkout.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "run"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """The environment `./run agent` runs in: temp folders, none of the developer's AUTOGPT_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    environ.update(RUN_AGENTS_DIR=str(tmp_path / "agents"), RUN_STATE_DIR=str(tmp_path / "state"),
                   LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1")
    monkeypatch.chdir(tmp_path)  # .env files of the checkout are not read either
    return environ


@pytest.fixture
def manager(env, monkeypatch):
    """The agent_manager package, in this process, reading the same temp folders."""
    monkeypatch.syspath_prepend(str(ROOT))
    for key in ("RUN_AGENTS_DIR", "RUN_STATE_DIR"):
        monkeypatch.setenv(key, env[key])
    from agent_manager import servers

    return servers


def run_agent(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN), "agent", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=env["RUN_AGENTS_DIR"].rsplit("/", 1)[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listed(env: dict[str, str]) -> dict[str, dict]:
    out = run_agent(env, "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["name"]: row for row in json.loads(out.stdout)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def serve_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line holds `marker` (e.g. a test's unique port)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "serve" in cmd and marker in cmd and alive(int(entry.name)):
                pids.append(int(entry.name))
    return pids


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def step(client: httpx.Client, task_id: str, text: str | None = None) -> dict:
    body = {} if text is None else {"input": text}
    resp = client.post(f"/ap/v1/agent/tasks/{task_id}/steps", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


# create -------------------------------------------------------------------------------------------
def test_create_makes_a_project_whose_own_test_passes(env):
    result = run_agent(env, "create", "demo_bot")
    assert result.returncode == 0, result.stderr
    folder = Path(env["RUN_AGENTS_DIR"]) / "demo_bot"
    for rel in ("pyproject.toml", "README.md", ".env.example", ".gitignore", "demo_bot/__init__.py",
                "demo_bot/agent.py", "demo_bot/prompts/system.txt", "tests/test_agent.py"):
        assert (folder / rel).is_file(), rel
    code = (folder / "demo_bot" / "agent.py").read_text()
    assert "class DemoBotAgent(AutoGPTAgent):" in code and "@tool" in code
    assert "{{" not in "".join(p.read_text() for p in folder.rglob("*") if p.is_file())  # fully rendered
    assert 'dependencies = ["autogpt-cli"]' in (folder / "pyproject.toml").read_text()

    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "2 passed" in test.stdout


@pytest.mark.parametrize(
    ("name", "says"),
    [("9lives", "not a valid Python identifier"), ("my-agent", "not a valid Python identifier"),
     ("class", "not a valid Python identifier"), ("agént", "not a valid Python identifier"),
     ("autogpt", "built-in agent"), ("json", "would hide the Python module"), ("forge", "would hide")],
)
def test_create_refuses_bad_names(env, name, says):
    result = run_agent(env, "create", name)
    assert result.returncode == 2
    assert says in one_line_error(result)
    assert not (Path(env["RUN_AGENTS_DIR"]) / name).exists()


def test_create_never_overwrites(env):
    assert run_agent(env, "create", "keeper").returncode == 0
    mine = Path(env["RUN_AGENTS_DIR"]) / "keeper" / "keeper" / "agent.py"
    mine.write_text("# my own work\n")
    result = run_agent(env, "create", "keeper")
    assert result.returncode == 2
    assert "already exists" in one_line_error(result)
    assert mine.read_text() == "# my own work\n"
    # An empty folder of that name is not taken over either.
    (Path(env["RUN_AGENTS_DIR"]) / "empty_one").mkdir()
    assert run_agent(env, "create", "empty_one").returncode == 2
    assert list((Path(env["RUN_AGENTS_DIR"]) / "empty_one").iterdir()) == []


# start / list / stop --------------------------------------------------------------------------------
def test_start_serves_a_task_then_list_and_stop(env, tmp_path):
    """The created agent over HTTP with a scripted model: its own tool runs; two agents at once."""
    assert run_agent(env, "create", "counter").returncode == 0
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        {"thoughts": {"text": "measure it"}, "tool": "word_stats", "tool_args": {"path": "notes.txt"}},
        {"thoughts": {"text": "done"}, "tool": "finish", "tool_args": {"reason": "notes.txt has 4 words"}},
    ]))
    port, port2 = free_port(), free_port()
    started = run_agent(env, "start", "counter", "--port", str(port), "--no-setup", "--model",
                        f"scripted/{script.name}")  # relative to the caller's folder, as a user types it
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"http://127.0.0.1:{port}/ap/v1" in started.stdout
    builtin = run_agent(env, "start", "autogpt", "--port", str(port2), "--no-setup", "--model", f"scripted/{script}",
                        "--workspace", str(tmp_path / "builtin-ws"))
    try:
        assert builtin.returncode == 0, builtin.stdout + builtin.stderr
        rows = listed(env)
        assert rows["counter"]["status"] == "running" and rows["counter"]["port"] == port
        assert rows["autogpt"]["status"] == "running" and rows["autogpt"]["port"] == port2
        pid = rows["counter"]["pid"]
        assert alive(pid) and rows["counter"]["uptime_s"] >= 0
        table = run_agent(env, "list")
        assert "counter" in table.stdout and "running" in table.stdout and str(port) in table.stdout

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            task = client.post("/ap/v1/agent/tasks", json={"input": "How many words are in notes.txt?"}).json()
            tid = task["task_id"]
            notes = {"file": ("notes.txt", b"one two three\nfour\n")}
            up = client.post(f"/ap/v1/agent/tasks/{tid}/artifacts", files=notes, data={"relative_path": ""})
            assert up.status_code == 200, up.text
            first = step(client, tid)  # proposes word_stats
            assert first["additional_output"]["use_tool"]["name"] == "word_stats"
            second = step(client, tid, "y")  # runs it (the agent's own tool), proposes finish
            assert "2 lines, 4 words" in second["output"]
            third = step(client, tid, "y")
            assert third["is_last"] is True
        with httpx.Client(base_url=f"http://127.0.0.1:{port2}", timeout=30) as client:
            assert client.get("/heartbeat").status_code == 200

        stopped = run_agent(env, "stop", "counter")
        assert stopped.returncode == 0 and f"stopped counter (pid {pid}" in stopped.stdout
        assert not alive(pid)
        rows = listed(env)
        assert rows["counter"]["status"] == "stopped" and rows["counter"]["pid"] is None
        assert rows["autogpt"]["status"] == "running"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/heartbeat", timeout=2)
    finally:
        run_agent(env, "stop")  # all
    assert listed(env)["autogpt"]["status"] == "stopped"
    assert serve_processes(f"--port {port2}") == [] and serve_processes(f"--port {port}") == []


def test_start_installs_the_agent_into_the_venv(env):
    """Without --no-setup the agent is pip-installed (editable, no dependency resolution) before it starts."""
    name = f"setup_probe_{os.getpid()}"
    assert run_agent(env, "create", name).returncode == 0
    port = free_port()
    try:
        started = run_agent(env, "start", name, "--port", str(port), "--model", "scripted/none.json")
        # The scripted file is missing: the server refuses to start, after the install happened.
        assert started.returncode == 1
        assert "script file" in started.stderr and "not found" in started.stderr
        show = subprocess.run([sys.executable, "-m", "pip", "show", "-f", name], capture_output=True, text=True)
        assert show.returncode == 0 and "Editable project location: " + env["RUN_AGENTS_DIR"] in show.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", name], capture_output=True)


def test_port_in_use_is_one_line_error(env):
    assert run_agent(env, "create", "blocked").returncode == 0
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_agent(env, "start", "blocked", "--port", str(port), "--no-setup")
        assert result.returncode == 1
        assert f"port {port} is already in use (by another program); choose another with --port" in (
            one_line_error(result))
    assert listed(env)["blocked"]["status"] == "stopped"
    assert serve_processes(f"--port {port}") == []


def test_server_that_fails_to_bind_is_reported(env, manager, monkeypatch):
    """The port is taken between the check and the server's bind: the server's failure names the port."""
    from agent_manager import AgentCommandError

    assert run_agent(env, "create", "racer").returncode == 0
    monkeypatch.setattr(manager, "port_in_use", lambda port: False)  # the check saw it free
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(AgentCommandError, match=f"port {port} is already in use"):
            manager.start_agent(manager.Paths.for_root(ROOT), "racer", port=port, setup=False)
    assert not (Path(env["RUN_STATE_DIR"]) / "racer.json").exists()


def test_start_that_never_answers_gives_up_with_the_log(env):
    assert run_agent(env, "create", "sleepy").returncode == 0
    agent_py = Path(env["RUN_AGENTS_DIR"]) / "sleepy" / "sleepy" / "agent.py"
    agent_py.write_text("import sys, time\nprint('sleepy is loading forever', flush=True)\ntime.sleep(600)\n")
    port = free_port()
    t0 = time.monotonic()
    # Long enough for the server to reach the agent's import on a loaded machine (2 cores, others' tests).
    result = run_agent(env, "start", "sleepy", "--port", str(port), "--no-setup", "--timeout", "15")
    assert result.returncode == 1
    assert 15 <= time.monotonic() - t0 < 60
    assert "did not answer" in result.stderr and "sleepy is loading forever" in result.stderr  # the log's tail
    assert serve_processes(f"--port {port}") == []  # it stopped what it started
    assert listed(env)["sleepy"]["status"] == "stopped"


def test_server_that_crashes_at_start_shows_its_log(env):
    assert run_agent(env, "create", "broken").returncode == 0
    (Path(env["RUN_AGENTS_DIR"]) / "broken" / "broken" / "agent.py").write_text("raise RuntimeError('oops')\n")
    result = run_agent(env, "start", "broken", "--port", str(free_port()), "--no-setup")
    assert result.returncode == 1
    assert "exited (code" in result.stderr and "oops" in result.stderr


def test_unknown_agent_and_running_twice(env, tmp_path):
    result = run_agent(env, "start", "nobody", "--port", str(free_port()), "--no-setup")
    assert result.returncode == 2 and "./run agent create nobody" in one_line_error(result)
    assert "nobody is not running" in run_agent(env, "stop", "nobody").stdout


# pid records -----------------------------------------------------------------------------------------
def test_stale_pid_file_is_shown_stopped_and_cleaned(env):
    assert run_agent(env, "create", "ghost").returncode == 0
    gone = subprocess.Popen(["true"])
    gone.wait()
    state = Path(env["RUN_STATE_DIR"])
    state.mkdir(parents=True)
    (state / "ghost.json").write_text(json.dumps({"name": "ghost", "pid": gone.pid, "pgid": gone.pid, "port": 1,
                                                  "started": time.time(), "proc_start": 1, "cmdline": ["x"]}))
    (state / "orphan.json").write_text("{not json")  # a damaged record counts as stale too
    rows = listed(env)
    assert rows["ghost"]["status"] == "stopped" and rows["orphan"]["status"] == "stopped"
    assert not (state / "ghost.json").exists() and not (state / "orphan.json").exists()
    assert "orphan" not in listed(env)


def _proc_start(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


@pytest.mark.parametrize("forged", ["cmdline", "start_time"])
def test_stop_never_kills_a_foreign_pid(env, manager, forged):
    """A record pointing at a process we did not start (another command line, or the same command line
    but a different start time: the pid was reused) must not get a signal."""
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        # is_ours compares /proc's command line: wait until it reads as started (a loaded background run of
        # the suite once saw a mismatch on the check just below).
        deadline = time.monotonic() + 10
        while Path(f"/proc/{victim.pid}/cmdline").read_bytes() != b"sleep\x0060\x00" and time.monotonic() < deadline:
            time.sleep(0.01)
        state = Path(env["RUN_STATE_DIR"])
        state.mkdir(parents=True)
        real_cmd = ["sleep", "60"]
        rec = {"name": "impostor", "pid": victim.pid, "pgid": victim.pid, "port": 8000, "started": time.time(),
               "proc_start": _proc_start(victim.pid), "cmdline": real_cmd, "boot_id": manager.boot_id()}
        assert manager.is_ours(rec)  # as recorded, it would pass: only the forged field differs
        if forged == "cmdline":
            rec["cmdline"] = [str(ROOT / ".venv/bin/autogpt"), "serve", "--port", "8000"]
        else:
            rec["proc_start"] = _proc_start(victim.pid) - 1
        (state / "impostor.json").write_text(json.dumps(rec))
        result = run_agent(env, "stop", "impostor", "--grace", "1")
        assert result.returncode == 0
        assert "left it alone" in result.stdout
        time.sleep(0.3)
        assert victim.poll() is None and alive(victim.pid)
        assert not (state / "impostor.json").exists()
        # Stopping everything leaves it alone too.
        (state / "impostor.json").write_text(json.dumps(rec))
        run_agent(env, "stop", "--grace", "1")
        assert victim.poll() is None
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait()


def test_stop_kills_a_server_that_ignores_sigterm(env, manager):
    """Grace period over: SIGKILL, to the whole process group."""
    stubborn = subprocess.Popen(
        [sys.executable, "-c", "import signal, subprocess, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
         "subprocess.Popen(['sleep', '60']); print('up', flush=True); time.sleep(60)"],
        start_new_session=True, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "up\n"
        ident = manager.proc_identity(stubborn.pid)
        assert ident is not None
        paths = manager.Paths.for_root(ROOT)
        manager.write_record(paths, "stubborn", {"name": "stubborn", "pid": stubborn.pid, "pgid": stubborn.pid,
                                                 "port": 1, "started": time.time(), "proc_start": ident[0],
                                                 "cmdline": ident[1], "boot_id": manager.boot_id()})
        t0 = time.monotonic()
        assert "stopped stubborn" in manager.stop_agent(paths, "stubborn", grace=1)
        assert 1 <= time.monotonic() - t0 < 8
        stubborn.wait(timeout=5)
        assert stubborn.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while group_members(stubborn.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_members(stubborn.pid) == []  # its sleep child went with it
    finally:
        if stubborn.poll() is None:
            os.killpg(stubborn.pid, signal.SIGKILL)
            stubborn.wait()
