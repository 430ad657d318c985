"""Wall time of `autogpt --help` (target < 0.3 s): median of repeated cold process starts.

    python benchmark/perf/bench_help.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 15


def main() -> None:
    exe = shutil.which("autogpt") or str(Path(sys.executable).parent / "autogpt")
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    print(f"autogpt --help: median {statistics.median(times):.3f} s, min {min(times):.3f} s, "
          f"max {max(times):.3f} s over {RUNS} runs (target < 0.3 s)")


if __name__ == "__main__":
    main()
