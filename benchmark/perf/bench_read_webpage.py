"""Page-read latency of `fetch_page` on a local page: the browser path and the plain-HTTP path.

    python benchmark/perf/bench_read_webpage.py [RUNS]

The page (127.0.0.1, ephemeral port, allowlisted for the run) has a script that renders text, a
stylesheet, three images and a fetch() of a JSON file: the usual mix of subresources.
"""

from __future__ import annotations

import functools
import statistics
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = """<!doctype html><html><head><title>Bench</title><link rel="stylesheet" href="/style.css">
<script>addEventListener('DOMContentLoaded', async () => {
  const data = await (await fetch('/data.json')).json();
  document.getElementById('dyn').textContent = 'Fetched: ' + data.word;
});</script></head><body><article><h1>Benchmark page</h1>
<p>A paragraph of ordinary text that the extractor keeps as the main content of this page.</p>
<img src="/a.png"><img src="/b.png"><img src="/c.png"><p id="dyn"></p></article></body></html>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    from forge.config import Settings
    from forge.tools.web import fetch_page

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "index.html").write_text(PAGE)
        (Path(root) / "style.css").write_text("body { font-family: sans-serif }")
        (Path(root) / "data.json").write_text('{"word": "otter"}')
        for name in ("a", "b", "c"):
            (Path(root) / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20_000)
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=root))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        url = f"http://127.0.0.1:{port}/index.html"
        extra: dict[str, Any] = {}
        if "web_allowlist" in Settings.model_fields:
            extra["web_allowlist"] = [f"127.0.0.1:{port}"]
        for label, browser in (("browser", "/usr/bin/chromium"), ("http", "/nonexistent")):
            settings = Settings(_env_file=None, browser_path=browser, **extra)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                page = fetch_page(url, settings)
                times.append(time.perf_counter() - t0)
            assert "ordinary text" in page.text, page
            rendered = "Fetched: otter" in page.text
            print(f"{label:8} via={page.via:7} median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
                  f"max {max(times):.2f} s over {runs} runs (script output read: {rendered})")
        server.shutdown()


if __name__ == "__main__":
    main()
