"""A seccomp program (classic BPF) that keeps sandboxed code from making set-uid/set-gid files.

Why: inside bubblewrap the code runs as uid 65534, but that uid maps to the user running the
agent (root in the usual set-up), so a file it creates in the workspace belongs to that user on
the host. A set-uid bit on such a file would hand the user's rights to whoever runs it outside.
bwrap loads this program (`--seccomp FD`) with no_new_privs right before it starts the payload;
it holds for every process the payload starts.

What it refuses:
  - EPERM: chmod, fchmod, fchmodat, fchmodat2, open, openat, creat, mkdir, mkdirat, mknod and
    mknodat whose mode has S_ISUID or S_ISGID. An open's mode is checked whatever its flags: only
    O_CREAT and O_TMPFILE use it, and libc passes 0 otherwise.
  - ENOSYS (callers fall back to the calls above): openat2, whose mode sits in a struct a filter
    cannot read, and io_uring_setup, since io_uring's opens never pass through seccomp.
  - ENOSYS: every call made through another ABI (i386 `int 0x80`, x32), whose numbers differ.
Only the low 32 bits of a mode are read: the kernel truncates modes to 16 bits (umode_t).

Hand-written rather than through libseccomp: the program is under 30 instructions, and libseccomp's
Python bindings are not on PyPI (pyseccomp, a ctypes wrapper, is unmaintained since 2021) while
the libseccomp Debian 12 ships (2.5.4) predates fchmodat2. The tests run every refused call, by
raw syscall number, inside the sandbox.
"""

from __future__ import annotations

import errno
import platform
import stat
import struct
import sys
from dataclasses import dataclass

# Instruction codes and return values (linux/filter.h, linux/seccomp.h).
_LD_W_ABS = 0x20  # A = 32-bit word at offset k of struct seccomp_data
_JEQ, _JGE, _JSET = 0x15, 0x35, 0x45  # jump if A == k, A >= k, A & k
_RET = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000  # | errno
SETID_BITS = stat.S_ISUID | stat.S_ISGID

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
_NR_OFFSET, _ARCH_OFFSET, _ARGS_OFFSET = 0, 4, 16

# Which argument holds the mode, per call.
MODE_ARGUMENT = {
    "chmod": 1, "fchmod": 1, "fchmodat": 2, "fchmodat2": 2, "open": 2, "openat": 3, "creat": 1,
    "mkdir": 1, "mkdirat": 2, "mknod": 1, "mknodat": 2,
}
NOT_IMPLEMENTED = ("openat2", "io_uring_setup")


@dataclass(frozen=True)
class Arch:
    audit: int  # AUDIT_ARCH_* as seen in seccomp_data.arch
    syscalls: dict[str, int]
    abi_bit: int | None = None  # numbers with this bit belong to another ABI (x32 on x86_64)


ARCHES = {
    "x86_64": Arch(
        audit=0xC000003E,
        syscalls={
            "open": 2, "creat": 85, "mkdir": 83, "chmod": 90, "fchmod": 91, "mknod": 133, "openat": 257,
            "mkdirat": 258, "mknodat": 259, "fchmodat": 268, "io_uring_setup": 425, "openat2": 437,
            "fchmodat2": 452,
        },
        abi_bit=0x40000000,
    ),
    # The generic syscall table: only the *at variants exist.
    "aarch64": Arch(
        audit=0xC00000B7,
        syscalls={
            "mknodat": 33, "mkdirat": 34, "fchmod": 52, "fchmodat": 53, "openat": 56, "io_uring_setup": 425,
            "openat2": 437, "fchmodat2": 452,
        },
    ),
}


def host_arch() -> Arch | None:
    """The table for this machine, or None where no program is written for it (no filter then)."""
    return ARCHES.get(platform.machine())


def no_setid_program(arch: Arch) -> bytes:
    """The filter as bytes of `struct sock_filter`, ready for `bwrap --seccomp FD`."""
    low_word = 0 if sys.byteorder == "little" else 4
    by_argument: dict[int, list[int]] = {}
    for name, arg in MODE_ARGUMENT.items():
        if name in arch.syscalls:
            by_argument.setdefault(arg, []).append(arch.syscalls[name])

    # (code, jump-if-true label, jump-if-false label, k); a label of None means the next instruction.
    program: list[tuple[int, str | None, str | None, int]] = []
    labels: dict[str, int] = {}

    def op(code: int, k: int, jt: str | None = None, jf: str | None = None) -> None:
        program.append((code, jt, jf, k))

    op(_LD_W_ABS, _ARCH_OFFSET)
    op(_JEQ, arch.audit, jf="enosys")
    op(_LD_W_ABS, _NR_OFFSET)
    if arch.abi_bit is not None:
        op(_JGE, arch.abi_bit, jt="enosys")
    for arg, numbers in sorted(by_argument.items()):
        for nr in sorted(numbers):
            op(_JEQ, nr, jt=f"mode{arg}")
    for name in NOT_IMPLEMENTED:
        if name in arch.syscalls:
            op(_JEQ, arch.syscalls[name], jt="enosys")
    op(_RET, RET_ALLOW)
    for arg in sorted(by_argument):
        labels[f"mode{arg}"] = len(program)
        op(_LD_W_ABS, _ARGS_OFFSET + 8 * arg + low_word)
        op(_JSET, SETID_BITS, jt="eperm", jf="allow")
    labels["eperm"] = len(program)
    op(_RET, RET_ERRNO | errno.EPERM)
    labels["enosys"] = len(program)
    op(_RET, RET_ERRNO | errno.ENOSYS)
    labels["allow"] = len(program)
    op(_RET, RET_ALLOW)

    def offset(at: int, label: str | None) -> int:
        if label is None:
            return 0
        jump = labels[label] - at - 1
        if not 0 <= jump <= 255:  # classic BPF jumps only forward, by a byte
            raise ValueError(f"seccomp jump to {label} out of range ({jump})")
        return jump

    return b"".join(
        struct.pack("=HBBI", code, offset(i, jt), offset(i, jf), k) for i, (code, jt, jf, k) in enumerate(program)
    )
