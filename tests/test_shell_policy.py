"""execute_shell's command policy, and running allowed commands."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forge.config import DEFAULT_SHELL_ALLOWLIST, DEFAULT_SHELL_DENYLIST, Settings
from forge.errors import PolicyViolationError, ToolError
from forge.tools import builtin
from forge.tools.base import ToolContext
from forge.tools.shell_policy import check_command

ALLOW = DEFAULT_SHELL_ALLOWLIST
DENY = DEFAULT_SHELL_DENYLIST
HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
needs_bwrap = [pytest.mark.sandbox, pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")]


def check(command: str) -> list[str]:
    return check_command(command, ALLOW, DENY)


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("ls; rm -rf /", "';'"),
        ("ls && cat notes.txt", "'&&'"),
        ("ls || echo failed", "'\\|\\|'"),
        ("cat notes.txt | grep secret", "no pipes"),
        ("echo $(cat /etc/passwd)", "substitution"),
        ('echo "$(whoami)"', "substitution"),
        ("echo `whoami`", "substitution"),
        ("echo hi > out.txt", "redirection"),
        ("echo hi >> out.txt", "redirection"),
        ("grep x < notes.txt", "redirection"),
        ("ls 2>/dev/null", "redirection"),
        ("sleep 100 &", "background"),
        ("ls\nrm -rf /", "newlines"),
    ],
)
def test_shell_syntax_is_refused(command: str, rule: str) -> None:
    with pytest.raises(PolicyViolationError, match=rule) as info:
        check(command)
    assert "one plain command" in str(info.value)  # says what is allowed instead


@pytest.mark.parametrize("command", ["rm -rf data", "/bin/rm x", "/usr/bin/rm x", "curl http://x", "sudo ls"])
def test_denylisted_commands_are_refused(command: str) -> None:
    with pytest.raises(PolicyViolationError, match="denylisted") as info:
        check(command)
    assert "allowed commands: ls, cat" in str(info.value)


@pytest.mark.parametrize("command", ["vim notes.txt", "bash -c ls", "sh script.sh", "FOO=1 ls"])
def test_commands_outside_the_allowlist_are_refused(command: str) -> None:
    with pytest.raises(PolicyViolationError, match="not in the allowlist") as info:
        check(command)
    assert "allowed commands:" in str(info.value)


@pytest.mark.parametrize("command", ["./ls", "bin/cat x", "/tmp/evil/ls", "../ls"])
def test_programs_must_be_named_not_pathed(command: str) -> None:
    with pytest.raises(PolicyViolationError, match="run by name"):
        check(command)


def test_denylist_wins_over_allowlist() -> None:
    with pytest.raises(PolicyViolationError, match="denylisted"):
        check_command("rm x", ["ls", "rm"], ["rm"])


def test_empty_allowlist_refuses_everything() -> None:
    with pytest.raises(PolicyViolationError, match="allowlist is empty"):
        check_command("ls", [], [])


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("ls -la", ["ls", "-la"]),
        ("/usr/bin/ls data", ["/usr/bin/ls", "data"]),
        ("grep -n ';' notes.txt", ["grep", "-n", ";", "notes.txt"]),  # quoted operators are plain text
        ('echo "a | b && c > d"', ["echo", "a | b && c > d"]),
        ("echo '$(not run)'", ["echo", "$(not run)"]),
        (r"find . -name \*.py", ["find", ".", "-name", "*.py"]),
    ],
)
def test_allowed_commands_become_argv(command: str, argv: list[str]) -> None:
    assert check(command) == argv


def test_bad_quoting_and_empty_commands() -> None:
    with pytest.raises(ToolError, match="quoting"):
        check("echo 'unclosed")
    with pytest.raises(ToolError, match="empty"):
        check("   ")


# Running -------------------------------------------------------------------------------------
def _ctx(ws: Path, sandbox: str) -> ToolContext:
    ws.mkdir(exist_ok=True)
    (ws / "notes.txt").write_text("alpha\nbeta TODO\n")
    return ToolContext(workspace=ws, settings=Settings(_env_file=None, sandbox=sandbox, shell_timeout=10))


@pytest.mark.parametrize(
    "sandbox",
    ["none", pytest.param("bwrap", marks=needs_bwrap)],
)
def test_execute_shell_runs_an_allowed_command_in_the_workspace(tmp_path: Path, sandbox: str) -> None:
    ctx = _ctx(tmp_path / "ws", sandbox)
    out = builtin.execute_shell(ctx, {"command": "grep -n TODO notes.txt"})
    assert out == "exit code 0\n2:beta TODO\n"
    assert "notes.txt" in builtin.execute_shell(ctx, {"command": "ls"})
    # A non-zero exit is the step's failure: the model reads the error, and the history says error.
    with pytest.raises(ToolError) as failed:
        builtin.execute_shell(ctx, {"command": "cat missing.txt"})
    assert str(failed.value).startswith("exit code 1") and "No such file" in str(failed.value)


@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_refused_command_runs_nothing(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "ws", "bwrap")
    with pytest.raises(PolicyViolationError):
        builtin.execute_shell(ctx, {"command": "touch made.txt; ls"})
    with pytest.raises(PolicyViolationError):
        builtin.execute_shell(ctx, {"command": "touch made.txt && ls"})
    assert not (tmp_path / "ws" / "made.txt").exists()
    assert builtin.execute_shell(ctx, {"command": "touch made.txt"}) == "exit code 0; no output"
    assert (tmp_path / "ws" / "made.txt").exists()


@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_unknown_program_is_a_clear_error(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path / "ws", "bwrap")
    ctx.settings.shell_allowlist = ["no-such-program"]
    with pytest.raises(ToolError, match="command not found in the sandbox: 'no-such-program'"):
        builtin.execute_shell(ctx, {"command": "no-such-program --help"})
