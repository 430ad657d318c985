"""Fake Hugging Face Hub and fake Ollama servers on 127.0.0.1 for the local-model tests."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

COMMIT = "a" * 40


@dataclass
class HubFile:
    path: Path
    sha256: str  # what the Hub advertises (X-Linked-Etag); a wrong one simulates corruption
    size: int


@dataclass
class FakeHub:
    """`/{repo}/resolve/{rev}/{file}` (HEAD, GET with Range) and `/api/models/{repo}`, as huggingface_hub calls them.

    cut_next: the next N GETs send the full Content-Length but only half the bytes, then close.
    fail_after_cut: after a cut, further GETs get 503 until this is cleared (the pull then fails)."""

    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    licences: dict[str, str] = field(default_factory=dict)
    gated: set[str] = field(default_factory=set)
    cut_next: int = 0
    fail_after_cut: bool = False
    throttle: float = 0.0  # seconds to wait after each MB sent (to interrupt a download half way)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    bytes_sent: int = 0
    _cut_happened: bool = False

    def add(self, repo: str, filename: str, path: Path, sha256: str | None = None) -> None:
        digest = sha256 or hashlib.sha256(path.read_bytes()).hexdigest()
        self.files[(repo, filename)] = HubFile(path, digest, path.stat().st_size)

    def start(self) -> str:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _resolve(self) -> None:
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                m = re.match(r"^/(.+?/.+?)/resolve/([^/]+)/(.+)$", self.path.split("?")[0])
                if m is None:
                    return self._json(404, {"error": "not found"})
                repo, _rev, filename = m.groups()
                if repo in hub.gated:
                    return self._json(403, {"error": "gated"}, {"X-Error-Code": "GatedRepo",
                                                                "X-Error-Message": "Access to model is restricted"})
                if not any(r == repo for r, _ in hub.files):
                    return self._json(404, {"error": "no repo"}, {"X-Error-Code": "RepoNotFound"})
                f = hub.files.get((repo, filename))
                if f is None:
                    return self._json(404, {"error": "no file"}, {"X-Error-Code": "EntryNotFound"})
                head = {"ETag": '"0123456789abcdef0123456789abcdef01234567"', "X-Linked-Etag": f'"{f.sha256}"',
                        "X-Linked-Size": str(f.size), "X-Repo-Commit": COMMIT, "Accept-Ranges": "bytes"}
                if self.command == "HEAD":
                    self.send_response(200)
                    for k, v in {**head, "Content-Length": str(f.size)}.items():
                        self.send_header(k, v)
                    self.end_headers()
                    return None
                if hub.fail_after_cut and hub._cut_happened:
                    return self._json(503, {"error": "unavailable"})
                start = 0
                rng = re.match(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if rng:
                    start = int(rng.group(1))
                data = f.path.read_bytes()[start:]
                self.send_response(206 if start else 200)
                for k, v in head.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
                self.end_headers()
                if hub.cut_next > 0:
                    hub.cut_next -= 1
                    hub._cut_happened = True
                    half = data[: len(data) // 2]
                    self.wfile.write(half)
                    hub.bytes_sent += len(half)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                step = 1 << 20
                for i in range(0, len(data), step):
                    try:
                        self.wfile.write(data[i : i + step])
                    except OSError:  # the client went away
                        return None
                    hub.bytes_sent += len(data[i : i + step])
                    if hub.throttle:
                        time.sleep(hub.throttle)
                return None

            do_HEAD = _resolve

            def do_GET(self) -> None:
                m = re.match(r"^/api/models/(.+?/[^/]+)(/revision/.*)?$", self.path.split("?")[0])
                if m is None:
                    return self._resolve()
                repo = m.group(1)
                hub.requests.append(("GET", self.path, None))
                licence = hub.licences.get(repo)
                return self._json(200, {"id": repo, "sha": COMMIT, "gated": False, "private": False,
                                        "cardData": {"license": licence} if licence else {},
                                        "tags": [f"license:{licence}"] if licence else []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class FakeOllama:
    """`/api/tags`, `/api/show`, `/api/chat` and `/api/generate` of an Ollama server; records request bodies."""

    models: list[str] = field(default_factory=lambda: ["qwen2.5:3b"])
    reply: str = "{}"
    context_length: int = 32768
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    return self._send(200, {"models": [
                        {"name": n, "model": n, "size": 1_900_000_000, "modified_at": "2025-01-01T00:00:00Z",
                         "details": {"family": "qwen2", "parameter_size": "3.1B", "quantization_level": "Q4_K_M"}}
                        for n in fake.models]})
                return self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.bodies.append((self.path, body))
                if self.path == "/api/show":
                    if body.get("model") not in fake.models:
                        return self._send(404, {"error": f"model '{body.get('model')}' not found"})
                    return self._send(200, {
                        "template": "{{ .System }}\n{{ .Prompt }}", "license": "Apache License\nVersion 2.0",
                        "details": {"family": "qwen2", "parameter_size": "3.1B", "quantization_level": "Q4_K_M"},
                        "model_info": {"general.architecture": "qwen2", "qwen2.context_length": fake.context_length}})
                usage = {"prompt_eval_count": 20, "eval_count": 10, "done": True, "done_reason": "stop",
                         "model": body.get("model"), "created_at": "2025-01-01T00:00:00Z"}
                if self.path == "/api/chat":
                    return self._send(200, {"message": {"role": "assistant", "content": fake.reply}, **usage})
                if self.path == "/api/generate":
                    return self._send(200, {"response": fake.reply, **usage})
                return self._send(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
