"""The code sandbox: isolation, limits, secrets. Everything here stays on this machine.

The process-bomb tests use a *bounded* bomb (100 sleeping children at most) so that a broken
sandbox cannot take the test machine down.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from forge.config import Settings
from forge.errors import ToolError
from forge.tools import builtin, sandbox
from forge.tools.base import ToolContext
from forge.tools.sandbox import run_python

HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
needs_bwrap = [pytest.mark.sandbox, pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")]
BOTH = ["none", pytest.param("bwrap", marks=needs_bwrap)]


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def make_settings(mode: str = "bwrap", **overrides: object) -> Settings:
    values: dict[str, object] = {"sandbox": mode, "code_timeout": 10, "code_max_processes": 32}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry.name))
            except OSError:
                pass
    return found


# Basics ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", BOTH)
def test_runs_code_in_the_workspace(ws: Path, mode: str) -> None:
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)"
    result = run_python(ws, make_settings(mode), code=code)
    assert result.exit_code == 0 and result.ok
    assert "out\n" in result.output and "err\n" in result.output
    assert result.observation().startswith("exit code 0\n")


@pytest.mark.parametrize("mode", BOTH)
def test_exit_code_and_traceback_are_reported(ws: Path, mode: str) -> None:
    result = run_python(ws, make_settings(mode), code="import sys\nprint('bye')\nsys.exit(3)")
    assert result.exit_code == 3 and not result.ok
    assert result.observation() == "exit code 3\nbye\n"
    crash = run_python(ws, make_settings(mode), code="1/0")
    assert crash.exit_code == 1 and "ZeroDivisionError" in crash.output


@pytest.mark.parametrize("mode", BOTH)
def test_api_keys_never_reach_the_child(ws: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123456")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-987654")
    result = run_python(ws, make_settings(mode), code="import os\nprint(dict(os.environ))")
    assert result.exit_code == 0 and "HOME" in result.output  # the environment really was printed
    for needle in ("sk-test-secret-123456", "OPENAI_API_KEY", "sk-ant-test-987654", "ANTHROPIC_API_KEY"):
        assert needle not in result.output


@pytest.mark.parametrize("mode", BOTH)
def test_wall_clock_timeout_kills_the_code(ws: Path, mode: str) -> None:
    started = time.monotonic()
    result = run_python(ws, make_settings(mode, code_timeout=1), code="print('started')\nwhile True: pass")
    assert time.monotonic() - started < 5
    assert result.timed_out and result.exit_code is None
    assert result.observation().startswith("killed: exceeded the 1s time limit\nstarted")


@pytest.mark.parametrize(
    ("mode", "new_session"),
    [
        ("none", False),
        pytest.param("bwrap", False, marks=needs_bwrap),
        # Only the pid namespace catches a child that left the session; none mode cannot (documented).
        pytest.param("bwrap", True, marks=needs_bwrap),
    ],
)
def test_timeout_also_kills_children_left_behind(ws: Path, mode: str, new_session: bool) -> None:
    marker = f"orphan-{uuid.uuid4().hex}"
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(60)', '{marker}'],"
        f" start_new_session={new_session})\n"
        "time.sleep(60)\n"
    )
    result = run_python(ws, make_settings(mode, code_timeout=1), code=code)
    assert result.timed_out
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


@pytest.mark.parametrize("mode", BOTH)
def test_memory_bomb_hits_the_memory_limit(ws: Path, mode: str) -> None:
    settings = make_settings(mode, code_memory_mb=256)
    result = run_python(ws, settings, code="x = bytearray(2 * 1024**3)")
    assert result.exit_code == 1 and "MemoryError" in result.output
    assert "256 MB memory limit" in result.observation()
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024**2))"
    growing = run_python(ws, settings, code=code)
    assert growing.exit_code != 0 and "MemoryError" in growing.output


@pytest.mark.parametrize("mode", BOTH)
def test_output_is_capped_keeping_head_and_tail(ws: Path, mode: str) -> None:
    code = "print('START')\nfor i in range(20000):\n    print('x' * 50)\nprint('END')"
    result = run_python(ws, make_settings(mode, code_output_chars=1000), code=code)
    assert result.truncated and len(result.output) < 1100
    assert result.output.startswith("START") and result.output.rstrip().endswith("END")
    assert "bytes of output omitted" in result.output


def test_output_fits_the_agents_observation_limit(ws: Path) -> None:
    code = "print('START')\nfor i in range(5000):\n    print(i)\nraise ValueError('the real problem')"
    settings = make_settings("none", code_output_chars=10_000, max_observation_chars=2000)
    out = run_python(ws, settings, code=code).observation()
    assert len(out) <= 2000  # the agent would otherwise cut the end, where the traceback is
    assert "START" in out and "ValueError: the real problem" in out


def test_missing_bwrap_names_the_fix(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox, "BWRAP_FALLBACK", str(ws / "no-bwrap-here"))
    with pytest.raises(ToolError, match=r"apt-get install bubblewrap.*AUTOGPT_SANDBOX=none"):
        run_python(ws, make_settings("bwrap"), code="print(1)")


# Isolation (bwrap only) ------------------------------------------------------------------------
@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
class TestIsolation:
    def test_no_network_even_to_the_hosts_loopback(self, ws: Path) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        try:
            code = (
                "import socket\n"
                "try:\n"
                f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                "    print('CONNECTED')\n"
                "except OSError as e:\n"
                "    print('FAILED', type(e).__name__)\n"
            )
            result = run_python(ws, make_settings(), code=code)
            assert "FAILED" in result.output and "CONNECTED" not in result.output
            with pytest.raises(socket.timeout):
                listener.accept()  # nothing ever arrived
        finally:
            listener.close()

    def test_cannot_write_outside_the_workspace(self, ws: Path, tmp_path: Path) -> None:
        host_tmp = Path("/tmp") / f"sandbox-escape-{uuid.uuid4().hex}"
        beside = tmp_path / "beside-the-workspace.txt"
        targets = [host_tmp, beside, Path("/usr/escape.txt"), Path("/etc/escape.txt"), ws / "abs-inside.txt"]
        code = "\n".join(
            f"try:\n    open({str(p)!r}, 'w').write('escaped')\n    print('wrote', {str(p)!r})\n"
            f"except OSError as e:\n    print('refused', {str(p)!r}, type(e).__name__)"
            for p in targets
        )
        result = run_python(ws, make_settings(), code=code + "\nopen('inside.txt', 'w').write('ok')")
        # /tmp inside is the sandbox's own tmpfs: writing there works but never reaches the host.
        assert f"wrote {host_tmp}" in result.output, result.output
        for path in targets[1:]:
            assert f"refused {path}" in result.output, result.output
        for path in targets:
            assert not path.exists()
        assert (ws / "inside.txt").read_text() == "ok"  # the workspace itself is writable


    def test_cannot_read_host_files_outside_the_sandbox(self, ws: Path, tmp_path: Path) -> None:
        secret = tmp_path / "host-secret.txt"
        secret.write_text("HOST SECRET")
        code = (
            "import os\n"
            f"for p in [{str(secret)!r}, '/root', '/etc/shadow', '/work']:\n"
            "    print(p, os.path.exists(p))\n"
        )
        result = run_python(ws, make_settings(), code=code)
        assert "HOST SECRET" not in result.output
        assert result.output.count("False") == 4, result.output

    def test_runs_as_nobody_with_workspace_as_home(self, ws: Path) -> None:
        code = "import os\nprint(os.getuid(), os.getgid(), os.getcwd(), os.environ['HOME'])"
        result = run_python(ws, make_settings(), code=code)
        assert result.output.strip() == "65534 65534 /workspace /workspace"

    def test_process_bomb_is_contained(self, ws: Path) -> None:
        marker = f"bomb-{uuid.uuid4().hex}"
        code = (
            "import os, time\n"
            "made = 0\n"
            "for i in range(100):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError as e:\n"
            "        print('fork refused:', e, flush=True)\n"
            "        break\n"
            "    if pid == 0:\n"
            "        os.execv('/usr/bin/python3',\n"
            f"                 ['python3', '-c', 'import time; time.sleep(30)', '{marker}'])\n"
            "    made += 1\n"
            "print('made', made, flush=True)\n"
            "time.sleep(30)\n"
        )
        started = time.monotonic()
        result = run_python(ws, make_settings(code_max_processes=16, code_timeout=20), code=code)
        assert time.monotonic() - started < 10
        # As root the watchdog kills it; otherwise RLIMIT_NPROC inside the namespace refuses the fork.
        killed = result.killed_reason is not None and "16-process limit" in result.killed_reason
        refused = "fork refused" in result.output
        assert killed or refused, result.observation()
        deadline = time.monotonic() + 3
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(marker) == []

    def test_runs_a_workspace_file_that_imports_a_sibling_module(self, ws: Path) -> None:
        (ws / "pkg").mkdir()
        (ws / "pkg" / "helper.py").write_text("def greet():\n    return 'hello from helper'\n")
        (ws / "pkg" / "main.py").write_text("import helper\nprint(helper.greet())\n")
        ctx = ToolContext(workspace=ws, settings=make_settings())
        assert builtin.execute_python(ctx, {"file": "pkg/main.py"}) == "exit code 0\nhello from helper\n"

    def test_input_gets_eof_instead_of_hanging(self, ws: Path) -> None:
        ctx = ToolContext(workspace=ws, settings=make_settings(code_timeout=5))
        with pytest.raises(ToolError) as failed:  # a non-zero exit fails the step
            builtin.execute_python(ctx, {"code": "input('name? ')"})
        assert str(failed.value).startswith("exit code 1") and "EOFError" in str(failed.value)

    def test_large_code_is_fed_completely(self, ws: Path) -> None:
        code = "total = 0\n" + "total += 1\n" * 20000 + "print(total)"  # ~220 kB, past any pipe buffer
        result = run_python(ws, make_settings(), code=code)
        assert result.output.strip() == "20000"

    def test_secrets_in_output_are_redacted(self, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-123456")
        (ws / "config.txt").write_text("key=sk-test-secret-123456\n")
        ctx = ToolContext(workspace=ws, settings=make_settings())
        out = builtin.execute_python(ctx, {"code": "print(open('config.txt').read())"})
        assert "sk-test-secret-123456" not in out and "key=[REDACTED]" in out


# Cancellation and `python` ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", BOTH)
def test_cancel_kills_the_process_tree_before_returning(ws: Path, mode: str) -> None:
    marker = f"cancelled-{uuid.uuid4().hex}"
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['/usr/bin/python3', '-c', 'import time; time.sleep(60)', '{marker}'])\n"
        "print('running', flush=True)\n"
        "time.sleep(60)\n"
    )
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    result = run_python(ws, make_settings(mode, code_timeout=30), code=code, cancel=cancel)
    assert time.monotonic() - started < 4
    assert result.killed_reason == "cancelled by the caller" and "running" in result.output
    assert processes_with(marker) == []  # already gone when run_python returned: no waiting here


@pytest.mark.parametrize("mode", BOTH)
def test_python_names_python3_for_shell_commands(ws: Path, mode: str) -> None:
    ctx = ToolContext(workspace=ws, settings=make_settings(mode))
    out = builtin.execute_shell(ctx, {"command": "python -c 'import sys; print(sys.version_info[0])'"})
    assert out == "exit code 0\n3\n"
    if mode == "bwrap":  # inside, programs the code starts find it too
        code = "import subprocess\nprint(subprocess.run(['python', '-c', 'print(42)'], capture_output=True).stdout)"
        assert builtin.execute_python(ctx, {"code": code}) == "exit code 0\nb'42\\n'\n"
