"""Confine model-supplied paths to the agent's workspace folder.

Every file tool goes through `resolve_in_workspace`; the check is done on fully resolved paths
(symlinks followed) with `Path.is_relative_to`, never on string prefixes, so `/x/ws-evil` is not
mistaken for a child of `/x/ws`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from forge.errors import ConfigError, PathOutsideWorkspaceError, ToolError
from forge.security.permissions import private_dir

if TYPE_CHECKING:
    from forge.config import Settings

_HINT = "use a path relative to the workspace, e.g. 'notes.txt' or 'data/out.csv'"


def resolve_in_workspace(root: Path, user_path: str, *, must_exist: bool = False) -> Path:
    """Return the absolute, symlink-free path of `user_path` inside `root`.

    Raises PathOutsideWorkspaceError for absolute paths, NUL bytes, `..` escapes and symlinks
    (anywhere in the path) that lead outside; ToolError if `must_exist` and it does not exist.
    """
    if "\x00" in user_path:
        raise PathOutsideWorkspaceError(f"path contains a NUL byte; {_HINT}")
    path = user_path.strip() or "."
    # Refuse absolute paths even when they point inside: the model should not learn host paths.
    if PurePosixPath(path).is_absolute() or os.path.isabs(path):
        raise PathOutsideWorkspaceError(f"absolute path {user_path!r} is not allowed; {_HINT}")

    base = root.resolve()
    try:
        target = (base / path).resolve()
    except (RuntimeError, OSError) as e:  # symlink loop, name too long, ...
        raise ToolError(f"cannot resolve path {user_path!r}: {e}") from None
    if not target.is_relative_to(base):
        lexical = os.path.normpath(os.path.join(base, path))
        how = "goes above the workspace with '..'" if not Path(lexical).is_relative_to(base) else (
            "leads outside the workspace through a symlink"
        )
        raise PathOutsideWorkspaceError(f"path {user_path!r} {how}; {_HINT}")
    if must_exist and not target.exists():
        raise ToolError(f"{user_path!r} does not exist in the workspace; call list_folder to see what does")
    return target


def check_workdir(workdir: Path, data_root: Path) -> Path:
    """The absolute form of a `--workdir` folder, or ConfigError when it would hand the agent too much:
    the filesystem root, the home folder itself, or AutoGPT's own data folder (or a folder in it)."""
    path = Path(os.path.abspath(os.path.expanduser(workdir)))
    if not path.is_dir():
        raise ConfigError(f"--workdir {workdir} is not an existing folder; create it or give another")
    real, data = path.resolve(), Path(os.path.abspath(data_root)).resolve()
    fix = "give a project folder, e.g. --workdir ~/projects/site (or leave --workdir out)"
    if real == Path(real.anchor):
        raise ConfigError(f"--workdir {workdir} is the filesystem root; {fix}")
    if real == Path.home().resolve():
        raise ConfigError(f"--workdir {workdir} is your home folder itself; {fix}")
    if real.is_relative_to(data):
        raise ConfigError(f"--workdir {workdir} is inside AutoGPT's data folder {data_root}; {fix}")
    return path


def bind_workspace(workspace: Path, settings: Settings) -> Path:
    """The resolved folder tools work in. The agent's own folder is created private (0700); a user's
    --workdir is used as it is, never created nor re-moded."""
    if settings.workdir is not None and Path(workspace).resolve() == settings.workdir.resolve():
        if not settings.workdir.is_dir():
            raise ToolError(f"the working folder {settings.workdir} no longer exists")
        return settings.workdir.resolve()
    return private_dir(workspace, root=settings.workspace).resolve()


def hidden_data_folder(workspace: Path, settings: Settings) -> Path | None:
    """AutoGPT's data folder when it lies inside the folder the agent works in (`--workdir .` with
    the default ./workspace): tools must not read or change runs, memories or credentials."""
    data = Path(os.path.abspath(settings.workspace)).resolve()
    root = Path(workspace).resolve()
    return data if data != root and data.is_relative_to(root) else None


def open_regular_file(target: Path, shown: str) -> BinaryIO:
    """Open a confined path for reading, refusing anything but a regular file.

    A FIFO would block the agent forever and a device could stream without end: the file is
    opened non-blocking and without following a last-moment symlink, then checked with fstat."""
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ToolError(f"cannot open {shown!r}: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device or special file"
        raise ToolError(f"{shown!r} is {kind}, not a regular file; only regular files can be read")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def display_path(root: Path, path: Path) -> str:
    """`path` relative to the workspace, as the model should refer to it."""
    rel = path.relative_to(root.resolve())
    return rel.as_posix() if rel.parts else "."


def write_text_file(target: Path, content: str, shown: str, *, append: bool = False) -> None:
    """Write a confined `target` (shown to the model/user as `shown`): replaced atomically through a
    temp file and rename, so a crash never leaves it half-written, keeping its permissions; or
    appended to."""
    if target.is_dir():
        raise ToolError(f"{shown!r} is a folder; give a file path such as '{shown.rstrip('/')}/notes.txt'")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ToolError(f"cannot create {shown!r}: a parent of it is a file, not a folder") from None
    if append:
        with open(target, "a", encoding="utf-8", newline="") as f:
            f.write(content)
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
