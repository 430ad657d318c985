"""`--version`, completion, `doctor`, the user config file, unknown-key warnings, `tools list` and
`--tools-dir`, `memory delete` with agent names, `credentials set` without a terminal, help and width."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forge.models.scripted import decision

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()

TOOL_FILE = '''
from forge.tools import tool


@tool
def shout(text: str, times: int = 1) -> str:
    """Say TEXT loudly.

    Args:
        text: What to say.
        times: How many times.
    """
    return " ".join([text.upper() + "!"] * times)
'''


def cli(tmp_path: Path, *args: str, input: str | None = None, env: dict[str, str | None] | None = None,
        cwd: Path | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    full["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user file unless a test writes one
    for key, value in (env or {}).items():  # None: unset
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    return subprocess.run([AUTOGPT, *args], input=input or "", capture_output=True, text=True, env=full,
                          cwd=cwd or tmp_path, timeout=timeout)


def script(tmp_path: Path, *items: dict) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(list(items)))
    return f"scripted/{path}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --version, completion, help ---------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_names_the_package_python_and_optional_parts(tmp_path: Path, flag: str) -> None:
    out = cli(tmp_path, flag)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("autogpt 0.") and lines[1] == f"Python {sys.version.split()[0]}"
    assert any(line.startswith("llama-cpp-python ") for line in lines)
    importtime = subprocess.run([sys.executable, "-X", "importtime", "-m", "autogpt_cli.main", flag],
                                capture_output=True, text=True, timeout=60)
    assert "llama_cpp" not in importtime.stderr and "litellm" not in importtime.stderr


def test_show_completion_prints_a_bash_completion_script(tmp_path: Path) -> None:
    out = cli(tmp_path, "--show-completion", "bash")
    assert out.returncode == 0, out.stderr
    assert "complete -o default -F _autogpt_completion autogpt" in out.stdout
    assert "_AUTOGPT_COMPLETE=complete_bash" in out.stdout
    # and the script's protocol answers: `autogpt mem<TAB>` completes to memory
    done = cli(tmp_path, env={"COMP_WORDS": "autogpt mem", "COMP_CWORD": "1", "_AUTOGPT_COMPLETE": "complete_bash"})
    assert done.stdout.split() == ["memory"]


def test_help_shows_no_type_for_plain_flags_and_piped_output_is_not_cut_at_80(tmp_path: Path) -> None:
    out = cli(tmp_path, "run", "--help")
    assert out.returncode == 0
    assert "<bool>" not in out.stdout
    assert "--continuous" in out.stdout and "<int range>" in out.stdout  # options that take values keep theirs
    assert "--max-iterations,--continuous-limit" in out.stdout  # not cut to "--max-iterations,--co…"
    listed = cli(tmp_path, "tools", "list")
    row = next(line for line in listed.stdout.splitlines() if "write_file" in line)
    assert "path: string, content: string" in row and "built-in" in row  # one row, not folded at 80 columns


# doctor ------------------------------------------------------------------------------------------
def test_doctor_without_bubblewrap_names_the_fix_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autogpt_cli import doctor
    from autogpt_cli.main import app

    for key in [k for k in os.environ if k.startswith("AUTOGPT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(doctor, "default_which", lambda program: None)  # a machine without bwrap
    result = CliRunner().invoke(app, ["doctor", "--workspace", str(tmp_path / "ws"), "--json"])
    assert result.exit_code == 1, result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["bubblewrap"]["status"] == "fail"
    assert "apt-get install bubblewrap" in checks["bubblewrap"]["fix"] and "./run setup" in checks["bubblewrap"]["fix"]
    assert checks["workspace"]["status"] == "ok"
    assert not (tmp_path / "ws").exists()  # checking creates nothing

    table = CliRunner().invoke(app, ["doctor", "--workspace", str(tmp_path / "ws")])
    assert table.exit_code == 1
    line = next(line for line in table.stdout.splitlines() if "bubblewrap" in line)
    assert "fail" in line and "apt-get install" in line


@pytest.mark.skipif(not HAS_BWRAP, reason="needs bubblewrap")
def test_doctor_runs_a_real_sandbox_and_reports_each_part(tmp_path: Path) -> None:
    out = cli(tmp_path, "doctor", "--json", "--workspace", str(tmp_path / "ws"), "--model", "scripted/x.json")
    doc = json.loads(out.stdout)
    checks = {c["name"]: c for c in doc["checks"]}
    assert checks["bubblewrap"]["status"] == "ok" and "sandboxed python ran" in checks["bubblewrap"]["detail"]
    assert {"embedded model", "llama-cpp", "chromium", "workspace", "memory"} <= set(checks)
    assert checks["embedded model"]["status"] in ("ok", "warn")  # not needed by a scripted model
    assert out.returncode == (1 if any(c["status"] == "fail" for c in doc["checks"]) else 0)


def test_doctor_checks_the_models_key_without_showing_it(tmp_path: Path) -> None:
    missing = cli(tmp_path, "doctor", "--json", "--model", "openai/gpt-4o-mini", env={"OPENAI_API_KEY": None})
    key = next(c for c in json.loads(missing.stdout)["checks"] if c["name"] == "model key")
    assert missing.returncode == 1 and key["status"] == "fail" and "OPENAI_API_KEY" in key["detail"]
    secret = "sk-doctor-secret-5566"
    given = cli(tmp_path, "doctor", "--model", "openai/gpt-4o-mini", env={"OPENAI_API_KEY": secret})
    assert "model key" in given.stdout and secret not in given.stdout + given.stderr
    line = next(line for line in given.stdout.splitlines() if "model key" in line)
    assert " ok " in line


def test_doctor_says_when_ollama_is_down(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    out = cli(tmp_path, "doctor", "--json", "--model", "ollama/qwen2.5:3b", "--api-base", url)
    ollama = next(c for c in json.loads(out.stdout)["checks"] if c["name"] == "ollama")
    assert out.returncode == 1 and ollama["detail"] == f"no server at {url}" and "ollama serve" in ollama["fix"]


def test_doctor_reports_a_memory_lock_left_by_a_killed_writer(tmp_path: Path) -> None:
    memory = tmp_path / "ws" / "agents" / "party-planner" / "memory"
    memory.mkdir(parents=True)
    (memory / "writer.lock").write_text("999999\n")
    out = cli(tmp_path, "doctor", "--json", "--workspace", str(tmp_path / "ws"), "--model", "scripted/x.json")
    lock = next(c for c in json.loads(out.stdout)["checks"] if c["name"] == "memory lock party-planner")
    assert lock["status"] == "warn" and "999999" in lock["detail"] and "killed" in lock["detail"]


# user config file and unknown keys -----------------------------------------------------------------
def test_settings_precedence_option_env_dotenv_user_file_default(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from autogpt_cli.settings import build_settings
    from autogpt_cli.user_config import user_env_file

    for key in [k for k in os.environ if k.startswith("AUTOGPT_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = user_env_file()
    assert user == tmp_path / "xdg" / "autogpt" / ".env"
    assert build_settings().max_iterations == 25  # default
    user.parent.mkdir(parents=True)
    user.write_text("AUTOGPT_MAX_ITERATIONS=11\nAUTOGPT_AI_ROLE=from the user file\n")
    assert build_settings().max_iterations == 11
    (tmp_path / ".env").write_text("AUTOGPT_MAX_ITERATIONS=12\n")
    settings = build_settings()
    assert settings.max_iterations == 12 and settings.ai_role == "from the user file"
    monkeypatch.setenv("AUTOGPT_MAX_ITERATIONS", "13")
    assert build_settings().max_iterations == 13
    assert build_settings(max_iterations=14).max_iterations == 14


def test_user_config_file_reaches_the_cli_and_providers(tmp_path: Path) -> None:
    config = tmp_path / "config" / "autogpt"
    config.mkdir(parents=True)
    (config / ".env").write_text("AUTOGPT_MODEL=openai/gpt-4o-mini\nOPENAI_API_KEY=sk-user-file-7788\n")
    out = cli(tmp_path, "doctor", "--json", env={"OPENAI_API_KEY": None})
    doc = json.loads(out.stdout)
    assert doc["model"] == "openai/gpt-4o-mini"
    key = next(c for c in doc["checks"] if c["name"] == "model key")
    assert key["status"] == "ok" and "sk-user-file-7788" not in out.stdout  # the key came from the user file


def test_unknown_autogpt_keys_are_reported_once_with_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTOGPT_MODLE=openai/x\nAUTOGPT_MAX_ITERATONS=3\n")
    config = tmp_path / "config" / "autogpt"
    config.mkdir(parents=True)
    (config / ".env").write_text("AUTOGPT_WORKSPCE=/tmp/x\nAUTOGPT_ZZZQQQ=1\n")
    out = cli(tmp_path, "--version", env={"AUTOGPT_MODLE": "y", "AUTOGPT_CREDENTIALS_ACME": '{"token": "t"}'})
    lines = out.stderr.splitlines()
    assert out.returncode == 0
    modle = [line for line in lines if "AUTOGPT_MODLE" in line]
    assert modle == ["warning: unknown setting AUTOGPT_MODLE (in environment) is ignored; did you mean AUTOGPT_MODEL?"]
    assert any("AUTOGPT_MAX_ITERATONS (in .env)" in line and "did you mean AUTOGPT_MAX_ITERATIONS?" in line
               for line in lines)
    assert any("AUTOGPT_WORKSPCE" in line and str(config / ".env") in line and "AUTOGPT_WORKSPACE?" in line
               for line in lines)
    assert any("AUTOGPT_ZZZQQQ" in line and "did you mean" not in line for line in lines)
    assert not any("CREDENTIALS" in line for line in lines) and len(lines) == 4


# tools list and --tools-dir --------------------------------------------------------------------------
def test_tools_list_shows_arguments_and_sources_with_a_tools_dir(tmp_path: Path) -> None:
    folder = tmp_path / "my_tools"
    folder.mkdir()
    (folder / "shout.py").write_text(TOOL_FILE)
    out = cli(tmp_path, "tools", "list", "--json", "--tools-dir", str(folder))
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["write_file"]["arguments"] == "path: string, content: string"
    assert rows["write_file"]["source"] == "built-in"
    assert rows["shout"]["arguments"] == "text: string, times?: integer"
    assert rows["shout"]["source"] == f"file {folder / 'shout.py'}"
    assert rows["shout"]["schema"]["properties"]["text"]["description"] == "What to say."


@pytest.mark.parametrize(
    "content, message",
    [
        ("def broken(:\n", "cannot load tool file {path}: SyntaxError"),
        ("raise RuntimeError('boom')\n", "cannot load tool file {path}: RuntimeError: boom; fix the file"),
        ("x = 1\n", "tool file {path} defines no tools; decorate functions with @tool"),
    ],
)
def test_a_broken_tool_file_is_one_line_exit_2(tmp_path: Path, content: str, message: str) -> None:
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "bad.py").write_text(content)
    model = script(tmp_path, decision("finish", reason="never reached"))
    run = ["run", "x", "-c", "--no-memory", "--model", model, "--workspace", str(tmp_path / "ws")]
    for args in (["tools", "list", "--json"], run):
        out = cli(tmp_path, *args, "--tools-dir", str(folder))
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith("error: " + message.format(path=folder / "bad.py")), out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_missing_tools_dir_names_the_option(tmp_path: Path) -> None:
    out = cli(tmp_path, "tools", "list", "--tools-dir", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: tools folder {tmp_path / 'nope'} does not exist; fix --tools-dir"


def test_run_with_tools_dir_calls_the_file_tool(tmp_path: Path) -> None:
    folder = tmp_path / "my_tools"
    folder.mkdir()
    (folder / "shout.py").write_text(TOOL_FILE)
    model = script(tmp_path, decision("shout", text="hi", times=2), decision("finish", reason="done"))
    out = cli(tmp_path, "run", "say hi", "-c", "--json", "--no-memory", "--model", model,
              "--workspace", str(tmp_path / "ws"), "--tools-dir", str(folder))
    assert out.returncode == 0, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines() if '"tool_result"' in line]
    assert results[0]["tool"] == "shout" and results[0]["ok"] is True and "HI! HI!" in results[0]["output"]


# memory: one name, one slug; delete ------------------------------------------------------------------
def test_memory_takes_the_display_name_or_the_slug_and_deletes_by_id(tmp_path: Path) -> None:
    ws = ["--workspace", str(tmp_path / "ws")]
    model = script(tmp_path, decision("finish", reason="planned"))
    ran = cli(tmp_path, "run", "plan a party", "-c", "--json", "--ai-name", "Party Planner", "--model", model, *ws)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "ws" / "agents" / "party-planner" / "memory").is_dir()
    by_name = cli(tmp_path, "memory", "list", "--json", "--agent", "Party Planner", *ws)
    assert by_name.returncode == 0, by_name.stderr
    stored = json.loads(by_name.stdout)
    assert stored, "the run's memories are found by the name given to run"
    by_slug = json.loads(cli(tmp_path, "memory", "list", "--json", "--ai-name", "party-planner", *ws).stdout)
    assert [m["id"] for m in by_slug] == [m["id"] for m in stored]

    added = cli(tmp_path, "memory", "add", "The cake is chocolate", "--ai-name", "Party Planner", *ws)
    assert added.returncode == 0, added.stderr
    rows = json.loads(cli(tmp_path, "memory", "list", "--json", "--agent", "party-planner", *ws).stdout)
    cake = next(m for m in rows if m["text"] == "The cake is chocolate")
    table = cli(tmp_path, "memory", "list", "--agent", "Party Planner", *ws).stdout
    assert cake["id"][:8] in table  # the id column `memory delete` takes

    gone = cli(tmp_path, "memory", "delete", cake["id"][:8], "nosuchid", "--agent", "Party Planner", *ws)
    assert gone.returncode == 1
    assert f"Deleted 1 memories of agent 'party-planner' ({len(rows) - 1} left)." in gone.stdout
    assert "error: no memory 'nosuchid'" in gone.stderr
    after = json.loads(cli(tmp_path, "memory", "list", "--json", "--agent", "party-planner", *ws).stdout)
    assert [m["id"] for m in after] == [m["id"] for m in rows if m["id"] != cake["id"]]


# credentials without a terminal ----------------------------------------------------------------------
def test_credentials_set_reads_a_piped_secret(tmp_path: Path) -> None:
    ws = ["--workspace", str(tmp_path / "ws")]
    out = cli(tmp_path, "credentials", "set", "slack", "token=", *ws, input="xoxb-piped-123\n")
    assert out.returncode == 0, out.stderr
    assert "Warning" not in out.stderr and "xoxb-piped-123" not in out.stdout + out.stderr
    stored = json.loads((tmp_path / "ws" / "credentials.json").read_text())
    assert stored["slack"] == {"token": "xoxb-piped-123"}

    empty = cli(tmp_path, "credentials", "set", "twitter", *ws, input="")
    assert empty.returncode == 2 and "GetPassWarning" not in empty.stderr
    assert empty.stderr.startswith("error: no value for token: stdin is not a terminal and nothing was piped")
    assert "token=VALUE" in empty.stderr and len(empty.stderr.strip().splitlines()) == 1


def test_credentials_set_refuses_a_misspelt_provider(tmp_path: Path) -> None:
    out = cli(tmp_path, "credentials", "set", "twiter", "token=x", "--workspace", str(tmp_path / "ws"))
    assert out.returncode == 2
    assert "unknown provider 'twiter'; did you mean twitter?" in out.stderr
    assert not (tmp_path / "ws" / "credentials.json").exists()
