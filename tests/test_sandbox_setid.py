"""Set-uid/set-gid files planted by sandboxed code: every layer, attacked the way code would.

Layers: the seccomp filter refuses the calls (checked inside the sandbox), the post-run strip
clears what got through (checked in `none` mode, where there is no filter), the data folders are
0700 (tests/test_private_dirs.py), and end to end a second host user cannot gain root from what
the sandbox left. Each attack counts as held when the host file carries no set-id bit.
"""

from __future__ import annotations

import asyncio
import errno
import os
import platform
import pwd
import shutil
import stat
import struct
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from forge.blocks.code import CodeExecute, ShellCommand
from forge.blocks.registry import BlockRegistry
from forge.config import Settings
from forge.security import seccomp
from forge.security.permissions import strip_setid
from forge.tools import builtin
from forge.tools.base import ToolContext
from forge.tools.sandbox import run_python
from forge.workflow.model import parse_workflow
from forge.workflow.runs import run_workflow

HAS_BWRAP = shutil.which("bwrap") is not None or Path("/usr/bin/bwrap").exists()
needs_bwrap = [pytest.mark.sandbox, pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")]
SETID = stat.S_ISUID | stat.S_ISGID
ARCH = seccomp.host_arch()


def make_settings(mode: str = "bwrap", **overrides: object) -> Settings:
    values: dict[str, object] = {"sandbox": mode, "code_timeout": 15, "code_max_processes": 32}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def setid_bits(path: Path) -> int:
    return os.lstat(path).st_mode & SETID


def planted(ws: Path) -> list[str]:
    """Every entry under `ws` that carries a set-uid or set-gid bit."""
    found = []
    for dirpath, dirnames, filenames in os.walk(ws):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            if not path.is_symlink() and setid_bits(path):
                found.append(str(path.relative_to(ws)))
    return found


# The filter itself, run by a classic-BPF interpreter (arches this machine cannot execute too) ----
def run_filter(program: bytes, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    data = struct.pack("=iIQ6Q", nr, arch, 0, *(list(args) + [0] * (6 - len(args))))
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x06:
            return k
        elif code in (0x15, 0x35, 0x45):
            hit = acc == k if code == 0x15 else acc >= k if code == 0x35 else bool(acc & k)
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected BPF instruction {code:#x}")
        pc += 1


EPERM = seccomp.RET_ERRNO | errno.EPERM
ENOSYS = seccomp.RET_ERRNO | errno.ENOSYS


@pytest.mark.parametrize("name", sorted(seccomp.ARCHES))
def test_filter_refuses_every_setid_mode_and_nothing_else(name: str) -> None:
    arch = seccomp.ARCHES[name]
    program = seccomp.no_setid_program(arch)
    calls = 0
    for call, arg in seccomp.MODE_ARGUMENT.items():
        if call not in arch.syscalls:
            continue
        nr = arch.syscalls[call]
        for mode, expected in [(0o4755, EPERM), (0o2755, EPERM), (0o6777, EPERM), (0o755, seccomp.RET_ALLOW),
                               (0o1777, seccomp.RET_ALLOW), (0xFFFF_0000_0000_0000 | 0o755, seccomp.RET_ALLOW),
                               (0xFFFF_0000_0001_0800 | 0o4000, EPERM)]:
            args = [0] * 6
            args[arg] = mode
            assert run_filter(program, arch.audit, nr, tuple(args)) == expected, (call, oct(mode))
            calls += 1
    assert calls >= 7 * 6
    for call in seccomp.NOT_IMPLEMENTED:
        assert run_filter(program, arch.audit, arch.syscalls[call]) == ENOSYS
    for nr in (0, 1, 59, 63, 220, 231):  # read/write/execve/... on x86_64, others on aarch64: untouched
        if nr not in arch.syscalls.values():
            assert run_filter(program, arch.audit, nr, (0o4755,) * 6) == seccomp.RET_ALLOW
    # Another ABI (i386 through int 0x80, or 32-bit arm) has other numbers: refused whole.
    assert run_filter(program, 0x40000003, 15, (0, 0o4755)) == ENOSYS
    if arch.abi_bit:  # x32 calls arrive with the native arch and a flag in the number
        assert run_filter(program, arch.audit, arch.abi_bit | 90, (0, 0o4755)) == ENOSYS


# Inside the sandbox: every call, by raw syscall number -------------------------------------------
RAW_ATTACKS = """
import ctypes, os, shutil, struct
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
NR = {nr!r}
shutil.copy('/usr/bin/id', 'base')
def call(label, name, *args):
    if name not in NR:
        return
    ctypes.set_errno(0)
    res = libc.syscall(ctypes.c_long(NR[name]), *args)
    print('ATTEMPT', label, res, ctypes.get_errno(), flush=True)
    if res >= 0 and name in ('open', 'openat', 'creat', 'fchmod'):
        os.close(res) if name != 'fchmod' else None
def copy(name):
    shutil.copy('base', name)
    return name.encode()
fd = os.open(copy('by-fchmod'), os.O_RDONLY)
call('by-fchmod', 'fchmod', fd, 0o4755)
call('by-chmod', 'chmod', copy('by-chmod'), 0o4755)
call('by-chmod-high-bits', 'chmod', copy('by-chmod-high-bits'), ctypes.c_ulong(0xFFFF0000 | 0o4755))
call('by-fchmodat', 'fchmodat', AT_FDCWD, copy('by-fchmodat'), 0o2755)
call('by-fchmodat2', 'fchmodat2', AT_FDCWD, copy('by-fchmodat2'), 0o4755, 0)
call('by-open', 'open', b'by-open', os.O_CREAT | os.O_WRONLY, 0o4755)
call('by-openat', 'openat', AT_FDCWD, b'by-openat', os.O_CREAT | os.O_WRONLY, 0o4755)
call('by-creat', 'creat', b'by-creat', 0o6755)
call('by-mkdir', 'mkdir', b'by-mkdir', 0o2755)
call('by-mkdirat', 'mkdirat', AT_FDCWD, b'by-mkdirat', 0o2755)
call('by-mknod', 'mknod', b'by-mknod', stat_reg := 0o100000 | 0o4755, 0)
call('by-mknodat', 'mknodat', AT_FDCWD, b'by-mknodat', 0o100000 | 0o4755, 0)
how = ctypes.create_string_buffer(struct.pack('QQQ', os.O_CREAT | os.O_WRONLY, 0o4755, 0))
call('by-openat2', 'openat2', AT_FDCWD, b'by-openat2', how, 24)
call('by-io_uring_setup', 'io_uring_setup', 8, ctypes.create_string_buffer(120))
"""


@pytest.mark.skipif(ARCH is None or platform.machine() != "x86_64", reason="raw syscall table is x86_64's")
@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_every_setid_call_is_refused_inside_the_sandbox(tmp_path: Path) -> None:
    assert ARCH is not None
    ws = tmp_path / "ws"
    result = run_python(ws, make_settings(), code=RAW_ATTACKS.format(nr=ARCH.syscalls))
    attempts = {line.split()[1]: line.split()[2:] for line in result.output.splitlines() if line.startswith("ATTEMPT")}
    assert len(attempts) == 14, result.output
    for label, (res, err) in attempts.items():
        want = errno.ENOSYS if label in ("by-openat2", "by-io_uring_setup") else errno.EPERM
        assert (int(res), int(err)) == (-1, want), (label, result.output)
    assert planted(ws) == []
    print(f"\nraw syscalls: tried {len(attempts)}, refused {len(attempts)}")


# The review's attack and its variants, written as a model would write them -------------------------
PY_ATTACKS = {
    "chmod-4755": "shutil.copy('/usr/bin/id', 'id-suid'); os.chmod('id-suid', 0o4755)",
    "chmod-2755": "shutil.copy('/usr/bin/id', 'id-sgid'); os.chmod('id-sgid', 0o2755)",
    "os-open-04755": "fd = os.open('id-open', os.O_CREAT | os.O_WRONLY, 0o4755); "
                     "os.write(fd, open('/usr/bin/id', 'rb').read()); os.close(fd)",
    "mkdir-setgid": "os.mkdir('sgid-dir', 0o2775)",
    "chmod-setgid-dir": "os.mkdir('plain-dir'); os.chmod('plain-dir', 0o2775)",
    "tar-extract": "import io, tarfile\n"
                   "buf = io.BytesIO()\n"
                   "with tarfile.open(fileobj=buf, mode='w') as t:\n"
                   "    t.add('/usr/bin/id', arcname='id-tar')\n"
                   "    t.getmember('id-tar').mode = 0o4755\n"
                   "data = buf.getvalue()\n"
                   "tar = tarfile.open(fileobj=io.BytesIO(data))\n"
                   "[setattr(m, 'mode', 0o4755) for m in tar.getmembers()]\n"
                   "tar.extractall('.')",
    "chmod-command": "subprocess.run(['chmod', 'u+s,g+s', shutil.copy('/usr/bin/id', 'id-cmd')])",
    "cp-preserve-setuid-binary": "subprocess.run(['cp', '-p', '/usr/bin/passwd', 'passwd-copy'])",
    "install-mode": "subprocess.run(['install', '-m', '4755', '/usr/bin/id', 'id-install'])",
}


def _attack_script() -> str:
    parts = ["import os, shutil, subprocess"]
    for name, code in PY_ATTACKS.items():
        body = "\n".join("    " + line for line in code.splitlines())
        parts.append(f"try:\n{body}\n    print('DONE {name}', flush=True)\n"
                     f"except Exception as e:\n    print('REFUSED {name}', type(e).__name__, e, flush=True)")
    return "\n".join(parts)


@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_review_attacks_leave_no_setid_file(tmp_path: Path, mode: str) -> None:
    ws = tmp_path / "ws"
    ctx = ToolContext(workspace=ws, settings=make_settings(mode))
    out = builtin.execute_python(ctx, {"code": _attack_script()})
    reported = [line for line in out.splitlines() if line.startswith(("DONE", "REFUSED"))]
    assert len(reported) == len(PY_ATTACKS), out
    assert (ws / "id-suid").exists() and (ws / "passwd-copy").exists()  # the attacks really ran
    refused = {line.split()[1] for line in reported if line.startswith("REFUSED")}
    if mode == "bwrap":  # the filter refused them (the strip alone would hide a filter that let one through)
        assert {"chmod-4755", "chmod-2755", "os-open-04755", "mkdir-setgid", "chmod-setgid-dir"} <= refused, out
    else:
        assert refused == set() and (ws / "sgid-dir").is_dir(), out  # no filter: everything ran
    assert planted(ws) == [], out
    print(f"\n{mode}: python attacks tried {len(PY_ATTACKS)}, held {len(PY_ATTACKS)}")


def test_strip_catches_what_none_mode_lets_through(tmp_path: Path) -> None:
    """`none` has no filter: the chmod succeeds inside, and the strip clears it on the host."""
    ws = tmp_path / "ws"
    code = ("import os, shutil\nshutil.copy('/usr/bin/id', 'id')\nos.chmod('id', 0o4755)\n"
            "print(oct(os.stat('id').st_mode))")
    result = run_python(ws, make_settings("none"), code=code)
    assert "0o104755" in result.output  # it really was set-uid while the code ran
    assert setid_bits(ws / "id") == 0 and stat.S_IMODE(os.stat(ws / "id").st_mode) == 0o755


@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_strip_runs_after_a_timeout_kill(tmp_path: Path, mode: str) -> None:
    ws = tmp_path / "ws"
    code = ("import os, shutil, time\nshutil.copy('/usr/bin/id', 'id')\n"
            "try:\n    os.chmod('id', 0o4755)\nexcept OSError:\n    pass\n"
            "os.mkdir('d')\nprint('ready', flush=True)\nwhile True:\n    time.sleep(1)")
    result = run_python(ws, make_settings(mode, code_timeout=3), code=code)
    assert result.timed_out and "ready" in result.output
    os.chmod(ws / "d", 0o2755)  # as if set by a process the kill missed: the next run must clear it
    run_python(ws, make_settings(mode), code="pass")
    assert planted(ws) == []


def test_strip_never_follows_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "suid-program"
    target.write_bytes(b"#!/bin/sh\n")
    os.chmod(target, 0o4755)
    os.chmod(outside, 0o2755)
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "link-to-file").symlink_to(target)
    (ws / "link-to-dir").symlink_to(outside)
    (ws / "sub" / "mine").write_bytes(b"x")
    os.chmod(ws / "sub" / "mine", 0o6755)
    os.chmod(ws / "sub", 0o2755)
    assert strip_setid(ws) == 2
    assert planted(ws) == []
    assert stat.S_IMODE(os.stat(ws / "sub" / "mine").st_mode) == 0o755
    assert setid_bits(target) == stat.S_ISUID and setid_bits(outside) == stat.S_ISGID  # untouched


@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_workspace_is_mounted_nosuid_and_nodev_inside(tmp_path: Path) -> None:
    code = "print([l for l in open('/proc/self/mountinfo') if ' /workspace ' in l][0])"
    line = run_python(tmp_path / "ws", make_settings(), code=code).output
    options = line.split()[5].split(",")
    assert "nosuid" in options and "nodev" in options, line


@pytest.mark.sandbox
@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not installed")
def test_file_capabilities_cannot_be_set_either(tmp_path: Path) -> None:
    """A `security.capability` xattr would grant privileges like a set-uid bit does."""
    ws = tmp_path / "ws"
    code = ("import os, shutil, struct\nshutil.copy('/usr/bin/id', 'id')\n"
            "blob = struct.pack('<IIIII', 0x02000001, 1 << 21, 0, 0, 0)  # v2, cap_sys_admin permitted\n"
            "try:\n    os.setxattr('id', 'security.capability', blob)\n    print('SET')\n"
            "except OSError as e:\n    print('REFUSED', e.errno)")
    out = run_python(ws, make_settings(), code=code).output
    assert "REFUSED" in out, out
    try:
        assert os.getxattr(ws / "id", "security.capability") is None
    except OSError as e:
        assert e.errno in (errno.ENODATA, errno.ENOTSUP)


# Workflow nodes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_code_execute_and_shell_command_nodes_leave_no_setid_file(tmp_path: Path, mode: str) -> None:
    # A user who allowed chmod for the shell: the policy is not what stops set-uid files.
    settings = make_settings(
        mode, workspace=tmp_path / "data", shell_allowlist=["chmod", "cp", "mkdir", "install"], shell_denylist=[]
    )
    # The code node plants a copy of id, tries to make it set-uid itself, then names the shell
    # command that tries again (the edge orders the two nodes).
    code = ("import os, shutil\nshutil.copy('/usr/bin/id', 'node-id')\n"
            "try:\n    os.chmod('node-id', 0o4755)\nexcept OSError:\n    pass\n"
            "print('chmod 4755 node-id', end='')")
    commands = ["cp -p /usr/bin/passwd node-passwd", "mkdir -m 2775 node-dir", "install -m 6755 /usr/bin/id node-inst"]
    nodes: list[dict[str, Any]] = [
        {"id": "py", "block": "code_execute", "config": {"code": code}},
        {"id": "chmod", "block": "shell_command"},
        *({"id": f"sh{i}", "block": "shell_command", "config": {"command": c}} for i, c in enumerate(commands)),
    ]
    edges = [{"from": "py", "to": "chmod", "from_output": "stdout", "to_input": "command"}]
    workflow = parse_workflow({"name": "setid", "nodes": nodes, "edges": edges})
    result = asyncio.run(run_workflow(workflow, BlockRegistry([CodeExecute, ShellCommand]), settings))
    assert result.status == "completed", {n: r.error for n, r in result.nodes.items()}
    files = settings.workflows_dir() / "files"
    for name in ("node-id", "node-passwd", "node-inst"):
        assert (files / name).exists(), name  # the nodes really ran
    exit_codes = {nid: out["exit_code"] for nid, out in result.outputs().items()}
    if mode == "bwrap":  # refused inside, not only stripped after
        assert exit_codes["chmod"] != 0 and exit_codes["sh1"] != 0 and exit_codes["sh2"] != 0, exit_codes
    else:
        assert set(exit_codes.values()) == {0} and (files / "node-dir").is_dir(), exit_codes
    assert planted(files) == []
    print(f"\n{mode}: workflow attacks tried {len(nodes)}, held {len(nodes)}")


# End to end: a second host user and what the sandbox left -------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a second host user (useradd)")
@pytest.mark.skipif(not shutil.which("useradd") or not shutil.which("runuser"), reason="needs useradd and runuser")
@pytest.mark.parametrize("mode", ["none", pytest.param("bwrap", marks=needs_bwrap)])
def test_second_host_user_gains_nothing_from_the_workspace(mode: str) -> None:
    user = f"agt{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    # A world-traversable parent, like a project folder or /srv: only our own folders protect the data.
    base = Path(tempfile.mkdtemp(prefix="autogpt-setid-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        settings = make_settings(mode, workspace=base / "workspace")
        ws = settings.agent_workspace()
        builtin.execute_python(ToolContext(workspace=ws, settings=settings), {"code": _attack_script()})
        programs = [ws / name for name in ("id-suid", "id-sgid", "id-open", "id-tar", "id-cmd", "id-install")]
        assert (ws / "id-suid").exists() and (ws / "id-sgid").exists()
        pw = pwd.getpwnam(user)
        # runuser, not setpriv: setpriv keeps root's capabilities until the execve, which then finds the file.
        as_user = ["runuser", "-u", user, "--"]
        tried = held = 0
        # 1. As the agent left them: the 0700 data folders keep the other user out.
        for program in programs:
            run = subprocess.run([*as_user, str(program)], capture_output=True, text=True, timeout=10)
            tried += 1
            held += "euid=" not in run.stdout and "egid=" not in run.stdout
            assert run.returncode != 0 and "Permission denied" in run.stderr, run
        # 2. Folders loosened by hand to the review's 0755: what runs, runs as that user.
        folder = ws
        while True:
            os.chmod(folder, 0o755)
            if folder == settings.workspace:
                break
            folder = folder.parent
        ran = 0
        for program in programs:
            run = subprocess.run([*as_user, str(program)], capture_output=True, text=True, timeout=10)
            tried += 1
            held += "euid=" not in run.stdout and "egid=" not in run.stdout
            assert "euid=" not in run.stdout and "egid=" not in run.stdout, run
            ran += run.returncode == 0 and run.stdout.startswith(f"uid={pw.pw_uid}(")
        assert ran >= 2  # the copies really ran as the other user
        assert held == tried
        print(f"\n{mode}: second-user attempts tried {tried}, held {held} ({ran} programs ran, none as root)")
    finally:
        shutil.rmtree(base, ignore_errors=True)
        subprocess.run(["userdel", user], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the strip as another user (runuser)")
@pytest.mark.skipif(not shutil.which("runuser") or not Path("/usr/bin/python3").exists(), reason="needs runuser")
def test_strip_as_a_plain_user_opens_folders_the_code_locked() -> None:
    """Root reads any folder; a plain user must first give itself back a folder the code chmodded 000."""
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="autogpt-strip-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        ws, locked = base / "ws", base / "ws" / "locked"
        locked.mkdir(parents=True)
        (locked / "program").write_bytes(b"x")
        for path in (ws, locked, locked / "program"):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(locked / "program", 0o4755)  # after chown, which clears it
        os.chmod(locked, 0o000)
        module = Path(__file__).resolve().parents[1] / "forge" / "security" / "permissions.py"
        # The system python, as nobody, loads just this module (forge.errors stubbed): no venv needed.
        script = (
            "import importlib.util, sys, types\n"
            "errors = types.ModuleType('forge.errors'); errors.WorkspaceError = Exception\n"
            "sys.modules.update({'forge': types.ModuleType('forge'), 'forge.errors': errors})\n"
            f"spec = importlib.util.spec_from_file_location('permissions', {str(module)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"print(m.strip_setid({str(ws)!r}))\n"
        )
        run = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", script],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0 and run.stdout.strip() == "1", run
        assert planted(ws) == []
    finally:
        shutil.rmtree(base, ignore_errors=True)
