"""File modes that keep the agent's data to its owner.

- `private_dir`: every folder of the data root (workspace, agent folders, runs, workflows) is
  created 0700 and tightened to 0700 when found broader. The folders hold only our data: runs,
  memories, credentials, and files that sandboxed code wrote, which other users have no reason
  to read or run.
- `strip_setid`: after each sandbox run, no file the code left may keep a set-uid or set-gid
  bit (it would run with the rights of the user running the agent).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from forge.errors import WorkspaceError

PRIVATE_MODE = 0o700
SETID_BITS = stat.S_ISUID | stat.S_ISGID


def private_dir(path: Path | str, root: Path | str | None = None) -> Path:
    """Create `path` (and missing parents) 0700; tighten it, and, when it lies inside `root`, every
    folder from `root` down to it, to owner-only when broader. Returns `path`."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        for folder in reversed(missing):
            try:
                os.mkdir(folder, PRIVATE_MODE)
                os.chmod(folder, PRIVATE_MODE)  # exactly, whatever the umask
            except FileExistsError:
                pass  # made meanwhile by another process: tightened below
        chain = [path]
        if root is not None:
            top, here = Path(os.path.abspath(root)), Path(os.path.abspath(path))
            if here.is_relative_to(top):
                chain = [top, *(top / p for p in _prefixes(here.relative_to(top)))]
        for folder in dict.fromkeys(chain):
            _tighten(folder)
    except OSError as e:
        raise WorkspaceError(
            f"{e.filename or path} is not writable or not yours to make private ({e.strerror}); "
            "choose a folder you own with --workspace DIR"
        ) from None
    return path


def _prefixes(rel: Path) -> list[Path]:
    parts = rel.parts
    return [Path(*parts[: i + 1]) for i in range(len(parts))]


def _tighten(folder: Path) -> None:
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & ~PRIVATE_MODE:  # group/other bits, or set-id/sticky bits
        os.chmod(folder, mode & PRIVATE_MODE)


def strip_setid(root: Path | str) -> int:
    """Clear S_ISUID/S_ISGID on everything under `root`, never following a symlink; returns how
    many entries were fixed.

    Walks with directory file descriptors (`os.fwalk`), so a folder swapped for a symlink while we
    walk is not entered, and changes modes through an O_PATH descriptor of the entry itself, so a
    file swapped for a symlink is left alone instead of changing the link's target.
    """
    fixed = 0
    as_root = os.geteuid() == 0
    for _, dirs, files, dirfd in os.fwalk(root, follow_symlinks=False):
        try:
            mode = os.fstat(dirfd).st_mode
            if mode & SETID_BITS:
                os.fchmod(dirfd, stat.S_IMODE(mode) & ~SETID_BITS)
                fixed += 1
        except OSError:
            pass  # not ours (someone else's folder inside the workspace): nothing we made
        if not as_root:  # a folder the code made unreadable would hide what it holds: reopen it to us
            for name in dirs:
                _let_owner_in(name, dirfd)
        for name in files:
            try:
                if os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode & SETID_BITS:
                    fixed += _strip_entry(name, dirfd)
            except OSError:
                continue  # gone meanwhile, or not ours to change
    return fixed


def _let_owner_in(name: str, dirfd: int) -> None:
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=dirfd)
    except OSError:
        return
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode) and mode & 0o500 != 0o500:
            os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(mode) | 0o700)
    except OSError:
        pass  # not ours: the walk skips it, and nobody else can enter it either
    finally:
        os.close(fd)


def _strip_entry(name: str, dirfd: int) -> int:
    fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=dirfd)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode) or not mode & SETID_BITS:
            return 0
        os.chmod(f"/proc/self/fd/{fd}", stat.S_IMODE(mode) & ~SETID_BITS)  # the inode fd refers to
        return 1
    finally:
        os.close(fd)
