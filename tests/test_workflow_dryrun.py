"""`autogpt workflow run --dry-run`: pure blocks run, reads are stubbed, writes are previewed and never sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.base import Effect
from forge.blocks.registry import BlockRegistry
from forge.blocks.storage import DatabaseQuery
from forge.blocks.web import HTTPRequest

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
SECRET = "s3cret-value-of-the-api-token"

# A user's block that declares nothing and is not cacheable: a dry run must treat it as a side effect.
BLOCKS_FILE = '''
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from forge.blocks.base import Block


class Launch(Block):
    id = "launch"
    description = "Writes a marker file: an effect the dry run must not have."
    cacheable = False

    class Input(BaseModel):
        marker: str

    class Output(BaseModel):
        done: bool

    async def run(self, input: Any, ctx):
        Path(input.marker).write_text("launched")
        yield "done", True
'''


class Recorder:
    """A loopback HTTP server that records every request it receives."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                recorder.requests.append((self.command, self.path))
                body = json.dumps({"status": "green"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = Recorder()
    yield s
    s.stop()


def cli(tmp_path: Path, server: Recorder, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    env.update(AUTOGPT_WEB_ALLOWLIST=server.url.removeprefix("http://"), SERVICE_API_TOKEN=SECRET)
    blocks = tmp_path / "blocks"
    blocks.mkdir(exist_ok=True)
    (blocks / "mine.py").write_text(BLOCKS_FILE)
    return subprocess.run([AUTOGPT, "workflow", *args, "--blocks-dir", str(blocks), "--workspace",
                           str(tmp_path / "ws")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)


def workflow(tmp_path: Path, server: Recorder, *, llm: bool = True) -> str:
    data = {"name": "notify", "nodes": [
        {"id": "who", "block": "user_input", "config": {"name": "who", "default": "team"}},
        {"id": "lookup", "block": "http_request", "config": {"url": f"{server.url}/status"}},
        {"id": "status", "block": "text_template", "config": {"template": "status {{ status }}"}},
        {"id": "render", "block": "text_template", "config": {"template": "Hello {{ text }}"}},
        {"id": "post", "block": "http_request",
         "config": {"url": f"{server.url}/hook", "method": "POST", "headers": {"Authorization": f"Bearer {SECRET}"}}},
        {"id": "save", "block": "file_write", "config": {"path": "out/note.txt"}},
        {"id": "launch", "block": "launch", "config": {"marker": str(tmp_path / "launched.txt")}},
    ], "edges": [
        {"from": "who", "to": "render", "to_input": "text"},
        {"from": "lookup", "from_output": "json", "to": "status", "to_input": "values"},
        {"from": "render", "to": "post", "to_input": "json_body"},
        {"from": "status", "to": "save"},
    ]}
    if llm:  # never reached for real: the tests below only stub it (the embedded model must not load)
        data["nodes"].append({"id": "summary", "block": "llm_call", "config": {"prompt": "summarise"}})
        data["edges"].append({"from": "summary", "to": "launch", "to_input": "marker"})
        data["nodes"][6]["config"] = {}
    (tmp_path / "wf.json").write_text(json.dumps(data))
    return "wf.json"


def nodes_of(stdout: str) -> dict[str, dict[str, Any]]:
    report = json.loads(stdout)
    assert report["dry_run"] is True
    return {n["node"]: n for n in report["nodes"]}


def test_dry_run_sends_nothing_and_shows_the_real_payloads(tmp_path, server):
    res = cli(tmp_path, server, "run", workflow(tmp_path, server), "--dry-run", "--json", "-i", "who=ops")
    assert res.returncode == 0, res.stderr
    nodes = nodes_of(res.stdout)
    assert server.requests == []  # neither the GET (a read: stubbed) nor the POST went out
    assert not (tmp_path / "launched.txt").exists() and not (tmp_path / "ws" / "workflows" / "files" / "out").exists()
    assert {n: (v["effect"], v["action"]) for n, v in nodes.items()} == {
        "who": ("none", "ran"), "lookup": ("read", "stubbed"), "summary": ("read", "stubbed"),
        "status": ("none", "stubbed"), "render": ("none", "ran"), "post": ("write", "previewed"),
        "save": ("write", "previewed"),
        "launch": ("write", "previewed"),  # undeclared and not cacheable: treated as a side effect
    }
    assert {n["status"] for n in nodes.values()} == {"completed"}
    post = nodes["post"]["preview"]
    assert post["action"] == "POST" and post["destination"] == f"{server.url}/hook"
    # The pure template really ran on the real user input.
    assert post["payload"]["json"] == "Hello ops"
    assert post["payload"]["headers"] == {"Authorization": "[REDACTED]"}
    # A pure node that cannot run on a stub's placeholder is stubbed too, and says why.
    assert "placeholder input" in nodes["status"]["note"] and "undefined" in nodes["status"]["note"]
    assert nodes["save"]["preview"]["payload"] == "<status.text: not run (dry run)>"
    assert nodes["save"]["preview"]["destination"].startswith("out/note.txt")
    assert nodes["launch"]["preview"]["payload"] == {"marker": "<summary.response: not run (dry run)>"}
    assert SECRET not in res.stdout + res.stderr
    assert not (tmp_path / "ws" / "workflows" / "runs").exists() or not any((tmp_path / "ws" / "workflows" /
                                                                             "runs").iterdir())


def test_live_reads_run_reads_for_real_but_still_send_nothing(tmp_path, server):
    res = cli(tmp_path, server, "run", workflow(tmp_path, server, llm=False), "--dry-run", "--live-reads", "--json")
    assert res.returncode == 0, res.stdout
    nodes = nodes_of(res.stdout)
    assert server.requests == [("GET", "/status")]  # the read ran, the POST did not
    assert nodes["lookup"]["action"] == "ran" and nodes["status"]["action"] == "ran"
    assert nodes["save"]["preview"]["payload"] == "status green"
    assert nodes["post"]["preview"]["payload"]["json"] == "Hello team"
    assert not (tmp_path / "launched.txt").exists()


def test_dry_run_text_output_and_errors(tmp_path, server):
    res = cli(tmp_path, server, "run", workflow(tmp_path, server), "--dry-run")
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "Dry run of workflow notify" in out and f"POST {server.url}/hook" in out
    assert "3 side effect(s) previewed, nothing sent; 3 read(s) stubbed" in out
    assert "could not run on placeholder input" in out
    assert SECRET not in res.stdout and server.requests == []
    bad = cli(tmp_path, server, "run", workflow(tmp_path, server), "--dry-run", "-i", "post.methd=GET")
    assert bad.returncode == 2 and "post.methd" in bad.stderr and "Traceback" not in bad.stderr
    lone = cli(tmp_path, server, "run", workflow(tmp_path, server), "--live-reads")
    assert lone.returncode == 2 and "--dry-run" in lone.stderr


def test_effects_follow_the_input():
    assert HTTPRequest.effect_for(HTTPRequest.Input(url="http://x", method="GET")) == Effect.READ
    assert HTTPRequest.effect_for(HTTPRequest.Input(url="http://x", method="DELETE")) == Effect.WRITE
    assert DatabaseQuery.effect_for(DatabaseQuery.Input(query="  select 1")) == Effect.READ
    assert DatabaseQuery.effect_for(DatabaseQuery.Input(query="DELETE FROM t")) == Effect.WRITE
    declared = {b.id: b.declared_effect() for b in BlockRegistry.from_plugins()}
    assert declared["slack_message"] == declared["send_email"] == declared["twitter_post"] == Effect.WRITE
    assert declared["llm_call"] == declared["web_search"] == Effect.READ
    assert declared["text_template"] == declared["file_read"] == Effect.NONE


def test_previews_show_what_would_be_sent_without_secrets(settings, tmp_path):
    from forge.blocks.base import BlockContext
    from forge.blocks.communication import SlackMessage
    from forge.blocks.credentials import CredentialStore
    from forge.blocks.files import FileWrite
    from forge.blocks.social import TwitterPost

    hook = "https://hooks.slack.com/services/T000/B000/very-secret-path"
    store = CredentialStore(tmp_path / "creds.json", environ={})
    store.set("slack", {"webhook_url": hook})
    ctx = BlockContext(workspace=tmp_path / "files", settings=settings, credentials=store)
    (tmp_path / "files").mkdir()
    slack = SlackMessage().preview(SlackMessage.Input(text="deploy done", channel="#ops"), ctx)
    assert slack.action == "POST" and slack.payload == {"text": "deploy done", "channel": "#ops"}
    assert hook not in slack.model_dump_json() and slack.notes == []
    tweet = TwitterPost().preview(TwitterPost.Input(text="x" * 300), ctx)
    assert tweet.destination == "https://api.twitter.com/2/tweets" and tweet.payload == {"text": "x" * 300}
    assert any("over 280" in n for n in tweet.notes) and any("credentials set twitter" in n for n in tweet.notes)
    (tmp_path / "files" / "a.txt").write_text("old")
    write = FileWrite().preview(FileWrite.Input(path="a.txt", content="new"), ctx)
    assert write.payload == "new" and "overwrites the existing file" in write.notes
    escape = FileWrite().preview(FileWrite.Input(path="../../etc/passwd", content="x"), ctx)
    assert escape.notes and "would fail" in escape.notes[0]
    assert (tmp_path / "files" / "a.txt").read_text() == "old"
