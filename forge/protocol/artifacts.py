"""Files of a task's workspace as artifacts: uploads placed in it, files the agent wrote found in it.

Every path from a client goes through forge's workspace confinement (`resolve_in_workspace`), the
same check the agent's file tools use, so `..`, absolute paths and symlinks leading out are refused.
An artifact's `relative_path` is the file's path in the workspace, its name included (what
agbenchmark expects when it downloads artifacts into folders).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from forge.errors import ToolError
from forge.security.permissions import private_dir
from forge.tools.workspace import open_regular_file, resolve_in_workspace

MAX_SCANNED_FILES = 10_000  # a workspace with more files is not scanned further for artifacts
Snapshot = dict[str, tuple[int, int]]  # relative path -> (mtime_ns, size)


class ArtifactPathError(ValueError):
    """A client-supplied path or file name that cannot be placed in the workspace."""


def upload_path(relative_path: str | None, file_name: str) -> str:
    """Where an upload goes, as AutoGPT's server places it: `relative_path` is its folder, unless it
    already ends with the file's name."""
    name = PurePosixPath((file_name or "").replace("\\", "/")).name
    if not name or name in (".", ".."):
        raise ArtifactPathError("the uploaded file has no usable name; send it with a filename")
    folder = (relative_path or "").strip()
    if not folder:
        return name
    if PurePosixPath(folder).name == name:
        return folder
    return f"{folder.rstrip('/')}/{name}"


def confined(root: Path, relative: str, *, must_exist: bool = False) -> Path:
    try:
        return resolve_in_workspace(root, relative, must_exist=must_exist)
    except ToolError as e:
        raise ArtifactPathError(str(e)) from None


def store_upload(root: Path, relative: str, source: BinaryIO, workspace_root: Path) -> tuple[str, float]:
    """Copy an upload into the workspace atomically. Returns its relative path and mtime."""
    private_dir(root, root=workspace_root)
    target = confined(root, relative)
    if target.is_dir():
        raise ArtifactPathError(f"{relative!r} is a folder in the workspace; give a file path")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ArtifactPathError(f"cannot place {relative!r}: a parent of it is a file") from None
    target = confined(root, relative)  # again, now that the folders exist
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".upload")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    rel = target.relative_to(root.resolve()).as_posix()
    return rel, target.stat().st_mtime


def snapshot(root: Path) -> Snapshot:
    """Regular files under the workspace (symlinks are not followed nor listed)."""
    out: Snapshot = {}
    if not root.is_dir():
        return out
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out[os.path.relpath(path, base).replace(os.sep, "/")] = (st.st_mtime_ns, st.st_size)
            if len(out) >= MAX_SCANNED_FILES:
                return out
        dirnames.sort()
    return out


def changed_files(before: Snapshot, after: Snapshot) -> list[tuple[str, float]]:
    """Files new or modified between two snapshots, with their mtime (seconds)."""
    return [(rel, sig[0] / 1e9) for rel, sig in sorted(after.items()) if before.get(rel) != sig]


def read_chunks(root: Path, relative: str) -> tuple[BinaryIO, int]:
    """Open an artifact for download (a regular file inside the workspace); returns it and its size."""
    target = confined(root, relative, must_exist=True)
    try:
        f = open_regular_file(target, relative)
    except ToolError as e:
        raise ArtifactPathError(str(e)) from None
    return f, os.fstat(f.fileno()).st_size


def iter_file(f: BinaryIO, chunk: int = 1 << 16) -> Iterator[bytes]:
    with f:
        while data := f.read(chunk):
            yield data
