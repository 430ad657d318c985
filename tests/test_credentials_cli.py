"""`autogpt credentials set|list|remove` through the real CLI in a subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from forge.blocks import communication, social
from forge.blocks.base import BlockContext
from forge.blocks.credentials import WELL_KNOWN, CredentialsMissingError, CredentialStore

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
SECRET = "sk-verysecret-000111"
_CRED_VARS = {var for fields in WELL_KNOWN.values() for var in fields.values()}


def cli(*args: str, ws: Path, input: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AUTOGPT_", "AUTOGPT_CREDENTIALS_")) and k not in _CRED_VARS}
    clean.update(env or {})
    # A new session has no controlling terminal, so the hidden prompt reads stdin instead of /dev/tty.
    return subprocess.run([AUTOGPT, "credentials", *args, "--workspace", str(ws)], input=input,
                          capture_output=True, text=True, env=clean, timeout=60, start_new_session=True)


def test_set_writes_0600_file_and_warns_about_shell_history(tmp_path):
    ws = tmp_path / "ws"
    result = cli("set", "twitter", f"token={SECRET}", ws=ws)
    assert result.returncode == 0, result.stderr
    assert "shell history" in result.stderr
    assert SECRET not in result.stdout + result.stderr
    path = ws / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"twitter": {"token": SECRET}}

    # More fields merge into the provider; visible fields (host) do not trigger the warning.
    result = cli("set", "smtp", "host=smtp.example.com", "port=587", ws=ws)
    assert result.returncode == 0 and "shell history" not in result.stderr
    assert json.loads(path.read_text())["smtp"] == {"host": "smtp.example.com", "port": "587"}


def test_set_without_values_prompts_with_hidden_input(tmp_path):
    ws = tmp_path / "ws"
    result = cli("set", "openai_compat", ws=ws, input=SECRET + "\n")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr  # not echoed back
    assert json.loads((ws / "credentials.json").read_text()) == {"openai_compat": {"token": SECRET}}
    # A known provider is asked for its usual fields; FIELD= prompts for that one field.
    result = cli("set", "discord", ws=ws, input="https://discord.com/api/webhooks/1/abcdef\n")
    assert result.returncode == 0, result.stderr
    result = cli("set", "linkedin", ws=ws, input="li-token-abcdef\nurn:li:person:me\n")
    assert result.returncode == 0, result.stderr
    result = cli("set", "smtp", "host=mail.example.com", "password=", ws=ws, input="pw-typed-hidden\n")
    assert result.returncode == 0, result.stderr
    stored = json.loads((ws / "credentials.json").read_text())
    assert stored["discord"] == {"webhook_url": "https://discord.com/api/webhooks/1/abcdef"}
    assert stored["smtp"] == {"host": "mail.example.com", "password": "pw-typed-hidden"}
    assert stored["linkedin"] == {"token": "li-token-abcdef", "author": "urn:li:person:me"}


def test_list_shows_fields_never_values(tmp_path):
    ws = tmp_path / "ws"
    assert cli("set", "slack", f"webhook_url=https://hooks.slack.com/{SECRET}", ws=ws).returncode == 0
    env = {"TWITTER_BEARER_TOKEN": "tw-" + SECRET, "AUTOGPT_CREDENTIALS_ACME": json.dumps({"key": "acme-" + SECRET})}
    table = cli("list", ws=ws, env=env)
    assert table.returncode == 0, table.stderr
    assert "slack" in table.stdout and "webhook_url" in table.stdout and "twitter" in table.stdout
    rows = json.loads(cli("list", "--json", ws=ws, env=env).stdout)
    assert {"provider": "slack", "source": "file", "fields": ["webhook_url"]} in rows
    assert {"provider": "twitter", "source": "env", "fields": ["token"]} in rows  # env vars are seen
    assert {"provider": "acme", "source": "env", "fields": ["key"]} in rows
    for out in (table.stdout + table.stderr, json.dumps(rows)):
        assert SECRET not in out


def test_group_readable_file_is_refused_with_the_fix(tmp_path):
    ws = tmp_path / "ws"
    assert cli("set", "twitter", "token=abcdefgh", ws=ws).returncode == 0
    path = ws / "credentials.json"
    path.chmod(0o644)
    for args in (("list",), ("set", "twitter", "token=x1234567"), ("remove", "twitter")):
        result = cli(*args, ws=ws)
        assert result.returncode == 2, (args, result.stderr)
        assert f"chmod 600 {path}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_remove(tmp_path):
    ws = tmp_path / "ws"
    cli("set", "twitter", "token=abcdefgh", ws=ws)
    cli("set", "linkedin", "token=abcdefgh", "author=urn:li:person:1", ws=ws)
    result = cli("remove", "twitter", ws=ws)
    assert result.returncode == 0, result.stderr
    assert list(json.loads((ws / "credentials.json").read_text())) == ["linkedin"]
    result = cli("remove", "twitter", ws=ws)
    assert result.returncode == 2 and "no stored credentials for twitter" in result.stderr
    result = cli("remove", "discord", ws=ws, env={"DISCORD_WEBHOOK_URL": "https://d/x/y"})
    assert result.returncode == 2 and "DISCORD_WEBHOOK_URL" in result.stderr


def test_bad_arguments_are_one_line_exit_2(tmp_path):
    ws = tmp_path / "ws"
    for args, message in [
        (("set", "twitter", "token"), "expected FIELD=VALUE"),
        (("set", "bad name!", "token=x"), "invalid provider name"),
    ]:
        result = cli(*args, ws=ws)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_blocks_read_what_the_cli_stored(tmp_path, settings, monkeypatch):
    ws = tmp_path / "ws"
    ctx = BlockContext(workspace=ws / "files", settings=settings,
                       credentials=CredentialStore.for_workspace(ws, environ={}))

    async def post() -> dict:
        block = social.TwitterPost()
        return dict([kv async for kv in block.run(block.Input(text="hi", api_base="http://x.test"), ctx)])

    with pytest.raises(CredentialsMissingError) as e:
        asyncio.run(post())
    assert "twitter" in str(e.value) and "autogpt credentials set twitter" in str(e.value)

    assert cli("set", "twitter", f"token={SECRET}", ws=ws).returncode == 0
    seen: list[str] = []

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(201, json={"data": {"id": "99"}})

    monkeypatch.setattr(communication, "_transport", httpx.MockTransport(reply))
    assert asyncio.run(post())["id"] == "99"
    assert seen == [f"Bearer {SECRET}"]


def test_set_with_closed_stdin_is_a_one_line_error(tmp_path):
    ws = tmp_path / "ws"
    result = cli("set", "twitter", ws=ws, input="")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: no value for token: stdin is not a terminal and nothing was piped")
    assert "`echo $SECRET | autogpt credentials set twitter token=`" in result.stderr
    assert "Aborted" not in result.stderr and "Warning" not in result.stderr
    assert not (ws / "credentials.json").exists()


def test_unreadable_credentials_stop_runs_instead_of_running_unredacted(tmp_path):
    ws = tmp_path / "ws"
    assert cli("set", "twitter", f"token={SECRET}", ws=ws).returncode == 0
    path = ws / "credentials.json"
    path.chmod(0o644)  # now refused as readable by others: its values would not be known for redaction
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"tool": "finish", "tool_args": {"reason": SECRET}}]))
    run = subprocess.run([AUTOGPT, "run", f"post {SECRET}", "-c", "--no-memory", "--model", f"scripted/{script}",
                          "--workspace", str(ws)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 2 and "credentials.json is readable by others" in run.stderr
    assert not (ws / "runs").exists() or not any((ws / "runs").iterdir())
    flow = tmp_path / "flow.json"
    flow.write_text(json.dumps({"name": "f", "nodes": [{"id": "a", "block_id": "display_result",
                                                         "config": {"value": SECRET}}], "edges": []}))
    wf = subprocess.run([AUTOGPT, "workflow", "run", str(flow), "--json", "--workspace", str(ws)],
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert wf.returncode == 2 and "readable by others" in wf.stderr
    assert SECRET not in wf.stdout + wf.stderr
