"""Confine model-supplied paths to the agent's workspace folder.

Every file tool goes through `resolve_in_workspace`; the check is done on fully resolved paths
(symlinks followed) with `Path.is_relative_to`, never on string prefixes, so `/x/ws-evil` is not
mistaken for a child of `/x/ws`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from forge.errors import PathOutsideWorkspaceError, ToolError

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


def display_path(root: Path, path: Path) -> str:
    """`path` relative to the workspace, as the model should refer to it."""
    rel = path.relative_to(root.resolve())
    return rel.as_posix() if rel.parts else "."
