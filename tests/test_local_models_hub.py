"""`autogpt models pull|list|info|rm` against a fake Hugging Face Hub on 127.0.0.1, and `--model local/NAME`.

The fake Hub serves the embedded model's GGUF (SmolLM2-135M) under other names. Each CLI call is a real
`autogpt` subprocess with HF_ENDPOINT pointing at the fake; nothing leaves loopback.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_servers import FakeHub

from forge.errors import ConfigError, ModelNotFoundError
from forge.models import LLMOptions, get_model
from forge.models.catalog import RECOMMENDED, default_name, resolve_ref, split_parts
from forge.models.gguf_file import GGUFError, read_gguf_info
from forge.models.local import local_model_path

AUTOGPT = str(Path(sys.executable).parent / "autogpt")
ALIAS = "qwen2.5:1.5b"
ALIAS_REPO, ALIAS_FILE = RECOMMENDED[ALIAS].repo, RECOMMENDED[ALIAS].files[0]
GGUF = local_model_path("smollm2")
SHA = hashlib.sha256(GGUF.read_bytes()).hexdigest()
SIZE = GGUF.stat().st_size


@pytest.fixture
def hub():
    fake = FakeHub()
    fake.add(ALIAS_REPO, ALIAS_FILE, GGUF)
    fake.add("test-org/Tiny-GGUF", "tiny-q4_1.gguf", GGUF)
    fake.licences["test-org/Tiny-GGUF"] = "mit"
    fake.url = fake.start()
    yield fake
    fake.stop()


def cli(tmp_path: Path, hub: FakeHub | None, *args: str, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGPT_", "HF_"))}
    full.update({"HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
                 "OLLAMA_HOST": "127.0.0.1:9", "COLUMNS": "200"})  # port 9: nothing answers, list stays local
    if hub is not None:
        full["HF_ENDPOINT"] = hub.url
    full.update(env or {})
    return subprocess.run([AUTOGPT, *args, "--workspace", str(tmp_path / "ws")], capture_output=True, text=True,
                          env=full, cwd=tmp_path, timeout=timeout)


def listed(tmp_path: Path, hub: FakeHub) -> dict[str, dict]:
    out = cli(tmp_path, hub, "models", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["model"]: row for row in json.loads(out.stdout)}


def model_dir(tmp_path: Path) -> Path:
    return tmp_path / "ws" / "models" / "qwen2.5-1.5b"


def resumed_at(range_header: str | None) -> int:
    assert range_header is not None and range_header.startswith("bytes=") and range_header.endswith("-")
    return int(range_header[len("bytes="):-1])


def gets(hub: FakeHub) -> list[tuple[str, str, str | None]]:
    return [r for r in hub.requests if r[0] == "GET" and "/resolve/" in r[1]]


# Pull, list, info, rm ---------------------------------------------------------------------------


def test_pull_list_info_rm(tmp_path: Path, hub: FakeHub) -> None:
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 0, out.stderr
    # The licence and the size are shown before the download starts.
    assert "licence: Apache-2.0" in out.stderr and out.stderr.index("licence") < out.stderr.index("verify")
    assert f"--model local/{ALIAS}" in out.stdout
    pulled = model_dir(tmp_path) / ALIAS_FILE
    assert hashlib.sha256(pulled.read_bytes()).hexdigest() == SHA
    manifest = json.loads((model_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["name"] == ALIAS and manifest["files"] == [{"name": ALIAS_FILE, "size": SIZE, "sha256": SHA}]
    assert not (model_dir(tmp_path) / ".partial").exists()

    rows = listed(tmp_path, hub)
    assert rows["local/smollm2"]["source"] == "embedded"
    assert rows[f"local/{ALIAS}"] | {"path": None} == {
        "model": f"local/{ALIAS}", "source": f"hf.co/{ALIAS_REPO}", "size_bytes": SIZE, "licence": "Apache-2.0",
        "status": "ready", "path": None,
    }
    assert not any(m.startswith("ollama/") for m in rows)  # no server at OLLAMA_HOST: silently none

    out = cli(tmp_path, hub, "models", "info", f"local/{ALIAS}", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert (info["context_length"], info["quantisation"], info["architecture"], info["parameters"]) == (
        8192, "Q4_1", "llama", "135M")
    assert info["chat_template"].startswith("{% for message in messages %}")
    assert info["path"] == str(pulled) and info["licence"] == "Apache-2.0"
    out = cli(tmp_path, hub, "models", "info", ALIAS)  # the table shows the template's first lines
    assert out.returncode == 0 and "Q4_1" in out.stdout and "im_start" in out.stdout

    before = len(gets(hub))
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 0 and "already pulled and up to date" in out.stderr
    assert len(gets(hub)) == before  # nothing downloaded again

    out = cli(tmp_path, hub, "models", "rm", ALIAS, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"removed": ALIAS, "freed_bytes": SIZE + len(
        json.dumps(manifest, indent=2)) + 1}
    assert not model_dir(tmp_path).exists() and f"local/{ALIAS}" not in listed(tmp_path, hub)
    out = cli(tmp_path, hub, "models", "rm", ALIAS)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "no pulled model" in out.stderr


def test_pull_by_repo_and_file_shows_the_hub_licence(tmp_path: Path, hub: FakeHub) -> None:
    out = cli(tmp_path, hub, "models", "pull", "hf.co/test-org/Tiny-GGUF/tiny-q4_1.gguf", "--name", "tiny")
    assert out.returncode == 0, out.stderr
    assert "licence: mit" in out.stderr
    assert listed(tmp_path, hub)["local/tiny"]["licence"] == "mit"


def test_a_cut_connection_is_resumed_with_a_range_request(tmp_path: Path, hub: FakeHub) -> None:
    hub.cut_next = 1
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 0, out.stderr
    ranges = [r[2] for r in gets(hub)]
    kept = resumed_at(ranges[1])  # what had reached the file (the library writes whole 10 MB chunks)
    assert ranges[0] is None and len(ranges) == 2 and 0 < kept <= SIZE // 2
    assert hub.bytes_sent == SIZE // 2 + (SIZE - kept)  # no restart from zero
    assert hashlib.sha256((model_dir(tmp_path) / ALIAS_FILE).read_bytes()).hexdigest() == SHA


def test_an_interrupted_pull_resumes_on_the_next_pull(tmp_path: Path, hub: FakeHub) -> None:
    hub.cut_next, hub.fail_after_cut = 1, True  # half the file, then the Hub stops answering
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 11, out.stderr
    assert "run the same pull again to resume" in out.stderr and "Traceback" not in out.stderr
    parts = list((model_dir(tmp_path) / ".partial").glob("*.part"))
    assert len(parts) == 1 and 0 < (kept := parts[0].stat().st_size) <= SIZE // 2
    assert "partial" in listed(tmp_path, hub)[f"local/{ALIAS}"]["status"]

    hub.fail_after_cut = False
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 0, out.stderr
    assert "resuming" in out.stderr
    assert gets(hub)[-1][2] == f"bytes={kept}-"
    assert hub.bytes_sent == SIZE // 2 + (SIZE - kept)
    assert hashlib.sha256((model_dir(tmp_path) / ALIAS_FILE).read_bytes()).hexdigest() == SHA
    assert listed(tmp_path, hub)[f"local/{ALIAS}"]["status"] == "ready"


def test_ctrl_c_keeps_the_partial_file_and_the_next_pull_resumes_it(tmp_path: Path, hub: FakeHub) -> None:
    hub.throttle = 0.05  # ~20 MB/s: time to interrupt half way
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGPT_", "HF_"))}
    env.update({"HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": hub.url, "OLLAMA_HOST": "127.0.0.1:9"})
    proc = subprocess.Popen([AUTOGPT, "models", "pull", ALIAS, "--workspace", str(tmp_path / "ws")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    partial = model_dir(tmp_path) / ".partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(p.stat().st_size for p in partial.glob("*.part")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"`autogpt models pull {ALIAS}` resumes where it stopped" in stderr and "Traceback" not in stderr
    (part,) = partial.glob("*.part")
    kept = part.stat().st_size
    assert 0 < kept < SIZE

    hub.throttle = 0.0
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 0, out.stderr
    assert gets(hub)[-1][2] == f"bytes={kept}-"
    assert hashlib.sha256((model_dir(tmp_path) / ALIAS_FILE).read_bytes()).hexdigest() == SHA


def test_a_checksum_mismatch_is_refused_and_the_partial_file_removed(tmp_path: Path, hub: FakeHub) -> None:
    hub.add(ALIAS_REPO, ALIAS_FILE, GGUF, sha256="0" * 64)
    out = cli(tmp_path, hub, "models", "pull", ALIAS)
    assert out.returncode == 11
    assert "failed verification" in out.stderr and "partial file was removed" in out.stderr
    assert not model_dir(tmp_path).exists()  # neither the file, nor a partial one, nor a manifest
    assert f"local/{ALIAS}" not in listed(tmp_path, hub)


@pytest.mark.parametrize(
    "setup, ref, code, message",
    [
        (lambda h: h.gated.add(ALIAS_REPO), ALIAS, 11, "is gated: the Hub wants its licence accepted first"),
        (None, "test-org/Tiny-GGUF:nope.gguf", 11, "has no file 'nope.gguf'"),
        (None, "nobody/Nothing-GGUF:x.gguf", 11, "no model repository 'nobody/Nothing-GGUF'"),
        (None, "just-a-name", 2, "cannot pull 'just-a-name'"),
    ],
)
def test_pull_errors_are_one_line(tmp_path: Path, hub: FakeHub, setup, ref: str, code: int, message: str) -> None:
    if setup:
        setup(hub)
    out = cli(tmp_path, hub, "models", "pull", ref)
    assert out.returncode == code, out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in out.stderr


def test_a_users_hf_hub_offline_is_respected(tmp_path: Path, hub: FakeHub) -> None:
    out = cli(tmp_path, hub, "models", "pull", ALIAS, env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 2 and "HF_HUB_OFFLINE is set" in out.stderr
    assert hub.requests == []


def test_run_with_a_pulled_model(tmp_path: Path, hub: FakeHub) -> None:
    """The one test here that loads llama.cpp: a single short cycle with the pulled (135M) model."""
    assert cli(tmp_path, hub, "models", "pull", ALIAS).returncode == 0
    out = cli(tmp_path, None, "run", "Write hi to hi.txt", "--model", f"local/{ALIAS}", "--continuous",
              "--max-iterations", "1", "--no-memory", "--json", timeout=300)
    events = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert events[0]["type"] == "run_started" and events[0]["model"] == f"local/{ALIAS}", out.stderr
    decisions = [e for e in events if e["type"] == "decision"]
    assert len(decisions) == 1 and "invalid_decision" not in [e["type"] for e in events]  # grammar-constrained
    assert decisions[0]["usage"]["completion_tokens"] > 0
    assert out.returncode in (0, 3), out.stderr


# `local/NAME` resolution (no model loaded) ------------------------------------------------------


def test_local_path_runs_any_gguf_file(tmp_path: Path) -> None:
    model = get_model(f"local/{GGUF}", LLMOptions(local_n_ctx=16384))
    assert model.name == f"local/{GGUF}" and model.context_window == 8192  # capped at the file's own length
    with pytest.raises(ModelNotFoundError, match="no model file"):
        get_model(f"local/{tmp_path}/missing.gguf", LLMOptions())


def test_unknown_local_names_point_at_models_pull(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"not pulled yet; run `autogpt models pull qwen2.5:3b`"):
        get_model("local/qwen2.5:3b", LLMOptions(models_dir=tmp_path))
    with pytest.raises(ModelNotFoundError, match=r"`autogpt models pull NAME` gets one"):
        get_model("local/whatever", LLMOptions(models_dir=tmp_path))


def test_pulled_model_context_comes_from_its_metadata(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "x.gguf").symlink_to(GGUF)
    manifest = {"name": "mine", "repo": "o/r", "files": [{"name": "x.gguf", "size": SIZE}], "context_length": 4096}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert get_model("local/mine", LLMOptions(models_dir=tmp_path, local_n_ctx=8192)).context_window == 4096
    assert get_model("local/mine", LLMOptions(models_dir=tmp_path, local_n_ctx=2048)).context_window == 2048


def test_gpu_layers_follow_llama_cpp_unless_set() -> None:
    import llama_cpp

    from forge.models.local import gpu_layers

    assert gpu_layers(LLMOptions()) == (-1 if llama_cpp.llama_supports_gpu_offload() else 0)
    assert gpu_layers(LLMOptions(local_gpu_layers=12)) == 12


# References and GGUF headers --------------------------------------------------------------------


def test_references() -> None:
    assert resolve_ref(ALIAS).repo == ALIAS_REPO and resolve_ref(ALIAS).name == ALIAS
    ref = resolve_ref("bartowski/Qwen2.5-7B-Instruct-GGUF:Qwen2.5-7B-Instruct-Q4_K_M.gguf")
    assert (ref.repo, ref.files, ref.name) == (
        "bartowski/Qwen2.5-7B-Instruct-GGUF", ("Qwen2.5-7B-Instruct-Q4_K_M.gguf",), "qwen2.5-7b-instruct-q4_k_m")
    for link in ("hf.co/o/r-GGUF/f.gguf", "https://huggingface.co/o/r-GGUF/resolve/main/f.gguf?download=true",
                 "https://huggingface.co/o/r-GGUF/blob/main/f.gguf"):
        assert (resolve_ref(link).repo, resolve_ref(link).files) == ("o/r-GGUF", ("f.gguf",)), link
    assert resolve_ref("hf.co/o/r/f.gguf", name="mine").name == "mine"
    assert split_parts("m-q4_k_m-00002-of-00003.gguf") == (
        "m-q4_k_m-00001-of-00003.gguf", "m-q4_k_m-00002-of-00003.gguf", "m-q4_k_m-00003-of-00003.gguf")
    assert default_name("M-Q4_K_M-00001-of-00002.gguf") == "m-q4_k_m"
    assert len(RECOMMENDED["qwen2.5:7b"].files) == 2
    for bad in ("o/r:model.bin", "o:f.gguf", "hf.co/o/r"):
        with pytest.raises(ConfigError, match="cannot pull"):
            resolve_ref(bad)


def test_gguf_header(tmp_path: Path) -> None:
    info = read_gguf_info(GGUF)
    assert info.parameters == 134_515_008 and info.tensor_count == 272 and info.metadata["tokenizer.ggml.tokens"] == {
        "array_of": 49152}
    (tmp_path / "no.gguf").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(GGUFError, match="not a GGUF model file"):
        read_gguf_info(tmp_path / "no.gguf")
    (tmp_path / "cut.gguf").write_bytes(GGUF.read_bytes()[:5000])
    with pytest.raises(GGUFError, match="truncated"):
        read_gguf_info(tmp_path / "cut.gguf")
