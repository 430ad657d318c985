"""What the sandbox's hardening costs per run: the set-uid strip over a 10k-file workspace, the
memory guard (cgroup create + remove), and a whole trivial run in each memory mechanism, with
bubblewrap and without (`none`: the gate, limits and supervision alone). Last, how a sandboxed
process gets its limits: the /bin/sh gate limited from outside (what sandbox.py does) against the
`preexec_fn` it replaced, whose fork copies the whole parent (an agent holds hundreds of MB).

    python benchmark/perf/bench_sandbox_overhead.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from forge.config import Settings
from forge.security.permissions import strip_setid
from forge.tools import sandbox
from forge.tools.sandbox import run_python
from forge.tools.sandbox_memory import MECHANISMS, MemoryGuard, open_guard, unavailable

FILES, PER_DIR, RUNS = 10_000, 100, 15


def median_ms(fn, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def spawn_with_gate(limits: sandbox.Limits) -> None:
    proc = subprocess.Popen([*sandbox.GATE, "/bin/true"], stdin=subprocess.PIPE, start_new_session=True)
    assert proc.stdin is not None
    sandbox._apply_limits(proc.pid, limits, MemoryGuard(limits.memory_mb))
    os.write(proc.stdin.fileno(), b"\n")
    proc.stdin.close()
    proc.wait()


def spawn_with_preexec_fn(limits: sandbox.Limits) -> None:
    rlimits = sandbox._rlimits(limits)

    def apply() -> None:
        os.nice(sandbox.NICE_INCREMENT)
        for which, values in rlimits:
            resource.setrlimit(which, values)

    subprocess.Popen(["/bin/true"], stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=apply).wait()


def spawn_costs() -> None:
    limits = sandbox.Limits(timeout=30, memory_mb=512, max_processes=64, output_chars=10_000)
    for ballast_mb in (0, 400):
        ballast = bytearray(ballast_mb << 20)
        for i in range(0, len(ballast), 4096):
            ballast[i] = 1  # resident, as an agent's memory is
        gate = median_ms(lambda: spawn_with_gate(limits), runs=100)
        pre = median_ms(lambda: spawn_with_preexec_fn(limits), runs=100)
        print(f"start a limited process, parent +{ballast_mb} MB resident: gate {gate:.1f} ms, preexec_fn {pre:.1f} ms")
        del ballast


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp) / "ws"
        for i in range(FILES):
            folder = ws / f"d{i // PER_DIR:03d}"
            if i % PER_DIR == 0:
                folder.mkdir(parents=True)
            (folder / f"f{i}.txt").write_text("x")
        strip_setid(ws)  # warm the inode cache: runs follow the code that just wrote these files
        clean = median_ms(lambda: strip_setid(ws))
        marked = [ws / f"d{i:03d}" / f"f{i * PER_DIR}.txt" for i in range(FILES // PER_DIR)]

        def strip_marked() -> None:
            for path in marked:
                os.chmod(path, 0o4755)
            assert strip_setid(ws) == len(marked)

        dirty = median_ms(strip_marked)
        print(f"strip_setid, {FILES} files in {FILES // PER_DIR} folders: {clean:.1f} ms (nothing to fix), "
              f"{dirty:.1f} ms ({len(marked)} set-uid files fixed, chmods included)")

        for mechanism in MECHANISMS[1:]:
            why = unavailable(mechanism)
            if why:
                print(f"{mechanism}: unavailable here ({why})")
                continue
            guard_ms = median_ms(lambda m=mechanism: open_guard(m, 512, 64).close())
            runs = {}
            for mode in ("bwrap", "none"):
                settings = Settings(_env_file=None, sandbox=mode, code_memory_mechanism=mechanism)
                small = Path(tmp) / f"small-{mechanism}-{mode}"
                runs[mode] = median_ms(lambda s=settings, w=small: run_python(w, s, code="pass"))
            print(f"{mechanism}: guard create+remove {guard_ms:.2f} ms; a trivial run {runs['bwrap']:.0f} ms "
                  f"with bwrap, {runs['none']:.0f} ms without")
    spawn_costs()


if __name__ == "__main__":
    main()
