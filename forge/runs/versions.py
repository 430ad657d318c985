"""Previous versions of the files an agent run changes, kept in the run's folder so they can be restored.

    <run_dir>/files/root.json           the folder the run's tools worked in (its workspace or --workdir)
    <run_dir>/files/blobs/ab/abcd...    file contents, named by their sha256 (each content stored once)
    <run_dir>/files/steps/00003.json    step 3's changes: path, previous sha (or absent), new sha (or absent)
    <run_dir>/files/index.json          (size, mtime_ns, inode, ctime_ns) -> sha of each file last seen

Before a step that may change files, `StepJournal` keeps what is about to change: the file tools name
the exact file (`keep`); for code and shell, whose effects are unknown, the whole folder is scanned
(`snapshot`), hashing and copying only the files whose stat changed since the last scan (the index).
A pending record is written before the tool runs, so a step killed midway can still be undone;
`finish` writes the step's manifest with its changes and a diff of each for display.

Caps keep a big folder affordable: files over MAX_FILE_BYTES, folders named in SKIPPED_DIRS and
files past MAX_FILES are not kept; a change to a file that was not kept is reported as a warning.
Blobs are the files' bytes as they were (no redaction): the run folder is private (0700).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from forge.errors import RunError
from forge.events.models import FileChange
from forge.runs.log import write_json_atomic
from forge.security.permissions import private_dir

FILES_DIR = "files"
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 20_000
MAX_SCAN_NEW_BYTES = 512 * 1024 * 1024  # new content copied by one scan
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".mypy_cache"})
DIFF_MAX_LINES = 120  # per file
DIFF_MAX_BYTES = 1024 * 1024  # larger texts are not diffed, only reported


@dataclass
class Version:
    """A file as seen at one moment. `sha` is None when its content was not kept (too large, unreadable)."""

    sha: str | None
    size: int
    mode: int
    sig: tuple[int, int, int, int]  # size, mtime_ns, inode, ctime_ns
    stored: bool = False  # its content is in the blobs (else only hashed)

    def to_json(self) -> list[Any]:
        return [self.sha, self.size, self.mode, *self.sig, self.stored]

    @classmethod
    def from_json(cls, data: list[Any]) -> Version:
        sig = (int(data[3]), int(data[4]), int(data[5]), int(data[6]))
        return cls(data[0], int(data[1]), int(data[2]), sig, bool(data[7]) if len(data) > 7 else True)


def _sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


class VersionStore:
    """The blobs, index and step manifests of one run, for the folder `root`."""

    def __init__(self, run_dir: Path, root: Path, *, exclude: Iterable[Path] = ()):
        self.dir = run_dir / FILES_DIR
        self.root = root.resolve()
        self.exclude = [p.resolve() for p in exclude]
        self._index: dict[str, Version] | None = None
        self._on_disk: dict[str, Version] = {}
        self._ready = False

    @classmethod
    def open(cls, run_dir: Path) -> VersionStore | None:
        """The store of a stored run, or None when the run kept no file versions."""
        try:
            data = json.loads((run_dir / FILES_DIR / "root.json").read_text(encoding="utf-8"))
            return cls(run_dir, Path(data["root"]), exclude=[Path(p) for p in data.get("exclude", [])])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def init(self) -> None:
        """Create the store's folders and record its root (on the first write: a run whose steps
        change nothing gets no files/ folder)."""
        if self._ready or (self.dir / "root.json").exists():
            self._ready = True
            return
        private_dir(self.dir / "steps")
        private_dir(self.dir / "blobs")
        write_json_atomic(self.dir / "root.json", {"root": str(self.root), "exclude": [str(p) for p in self.exclude]})
        self._ready = True

    # Blobs ---------------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return self.dir / "blobs" / sha[:2] / sha

    def read_blob(self, sha: str) -> bytes:
        return self.blob_path(sha).read_bytes()

    def keep(self, path: Path, *, store: bool = True) -> Version | None:
        """Store the current content of `path` (a regular file, not a symlink; only hash it when not
        `store`); None if it does not exist. The copy and the hash come from one read, so they agree.

        Only previous versions need storing: a version a step left is hashed (to notice later edits)
        and stored by the next scan or `keep` that finds it, should another step change it."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError:  # a symlink, a folder, unreadable: exists, but nothing to keep
            try:
                st = os.lstat(path)
            except OSError:
                return None
            return Version(None, st.st_size, stat.S_IMODE(st.st_mode), _sig(st))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            version = Version(None, st.st_size, stat.S_IMODE(st.st_mode), _sig(st))
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE_BYTES:
                return version
            version.sha, version.stored = (self._store(f), True) if store else (_hash(f), False)
        return version

    def _store(self, f: Any) -> str:
        self.init()
        blobs = self.dir / "blobs"
        tmp_fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".blob.", suffix=".tmp")
        try:
            digest = hashlib.sha256()
            with os.fdopen(tmp_fd, "wb") as out:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            sha = digest.hexdigest()
            target = self.blob_path(sha)
            if target.exists():
                os.unlink(tmp)
            else:
                target.parent.mkdir(exist_ok=True, mode=0o700)
                os.replace(tmp, target)
            return sha
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # Scanning the folder ---------------------------------------------------------------------
    def _load_index(self) -> dict[str, Version]:
        if self._index is None:
            self._index = self._on_disk = self.saved_index()
        return self._index

    def saved_index(self) -> dict[str, Version]:
        try:
            raw = json.loads((self.dir / "index.json").read_text(encoding="utf-8"))
            return {k: Version.from_json(v) for k, v in raw.items()}
        except (OSError, ValueError, TypeError, IndexError):
            return {}

    def _walk(self) -> Iterator[tuple[str, str, os.stat_result]]:
        """(relative path, path, lstat) of every regular file; symlinks are neither followed nor kept.
        Plain strings and scandir: this runs before and after every code step."""
        root = str(self.root)
        excluded = {str(p) for p in self.exclude}
        stack = [root]
        while stack:
            try:
                with os.scandir(stack.pop()) as it:
                    entries = list(it)
            except OSError:
                continue
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in SKIPPED_DIRS and e.path not in excluded:
                        stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    yield e.path[len(root) + 1:], e.path, st

    def snapshot(self, *, store: bool = True) -> tuple[dict[str, Version], list[str]]:
        """Every regular file of the folder with its version, keeping (`store`) or hashing the content
        of files new or changed since the last scan; and warnings about what could not be kept."""
        index = self._load_index()
        seen: dict[str, Version] = {}
        warnings: list[str] = []
        new_bytes = 0
        for count, (rel, full, st) in enumerate(self._walk()):
            if count >= MAX_FILES:
                warnings.append(f"more than {MAX_FILES} files in the folder: the rest are not kept")
                break
            old = index.get(rel)
            if old is not None and old.sig == _sig(st) and (old.stored or old.sha is None or not store):
                seen[rel] = old
                continue
            if st.st_size > MAX_FILE_BYTES or new_bytes + st.st_size > MAX_SCAN_NEW_BYTES:
                seen[rel] = Version(None, st.st_size, stat.S_IMODE(st.st_mode), _sig(st))
                continue
            version = self.keep(Path(full), store=store)
            if version is not None:
                new_bytes += version.size
                seen[rel] = version
        # On disk, the index is always a state before a step (a killed step's pending record points at
        # it); what a step left stays in memory until the next snapshot finds it unchanged.
        if store and seen != self._on_disk:
            self.init()
            write_json_atomic(self.dir / "index.json", {k: v.to_json() for k, v in seen.items()})
            self._on_disk = seen
        self._index = seen
        return seen, warnings

    def current(self, rel: str) -> Version | None:
        """The file as it is now, hashed, not stored."""
        return self.keep(self.root / rel, store=False)

    # Steps -------------------------------------------------------------------------------------
    def step_path(self, step: int, suffix: str = "") -> Path:
        return self.dir / "steps" / f"{step:05d}{suffix}.json"

    def manifests(self) -> list[dict[str, Any]]:
        """Every step's record in step order; a step killed before it finished is completed now
        (its changes found by comparing the folder with what was kept before it ran)."""
        folder = self.dir / "steps"
        if not folder.is_dir():
            return []
        out = []
        for p in sorted(folder.glob("*.json")):
            if p.name.endswith(".pending.json"):
                continue
            try:
                out.append(json.loads(p.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        for p in sorted(folder.glob("*.pending.json")):
            step = int(p.name.split(".")[0])
            if not self.step_path(step).exists():
                StepJournal.recover(self, step).finish()
                if self.step_path(step).exists():
                    out.append(json.loads(self.step_path(step).read_text(encoding="utf-8")))
        return sorted(out, key=lambda m: int(m.get("step", 0)))


@dataclass
class StepJournal:
    """What one step is about to change. `keep(path)` before a file tool changes `path`; `snapshot()`
    before code runs; `finish()` after the tool, whatever its result."""

    store: VersionStore
    step: int
    before: dict[str, Version | None] = field(default_factory=dict)
    tree: bool = False
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def recover(cls, store: VersionStore, step: int) -> StepJournal:
        data = json.loads(store.step_path(step, ".pending").read_text(encoding="utf-8"))
        before: dict[str, Version | None] = dict(store.saved_index()) if data.get("tree") else {}
        before.update({k: (Version.from_json(v) if v is not None else None) for k, v in data["before"].items()})
        return cls(store, step, before, tree=bool(data.get("tree")))

    def keep(self, path: Path) -> None:
        """Keep `path` as it is now, unless this step kept it already."""
        rel = path.resolve().relative_to(self.store.root).as_posix()
        if rel not in self.before:
            self.before[rel] = self.store.keep(path)
            self._write_pending()

    def snapshot(self) -> None:
        state, self.warnings = self.store.snapshot()
        self.before.update(state)
        self.tree = True
        self._write_pending()  # the folder's state is the saved index: the record only points at it

    def _write_pending(self) -> None:
        self.store.init()
        write_json_atomic(
            self.store.step_path(self.step, ".pending"),
            {"step": self.step, "tree": self.tree,
             "before": {} if self.tree else {k: (v.to_json() if v else None) for k, v in self.before.items()}},
        )

    def finish(self) -> tuple[list[FileChange], list[str]]:
        """Record what changed (the manifest), and return the changes with diffs, and warnings."""
        if not self.before and not self.tree:
            return [], []
        if self.tree:
            after_state, more = self.store.snapshot(store=False)
            self.warnings += more
            after: dict[str, Version | None] = dict(after_state)
            for rel in self.before:
                after.setdefault(rel, None)
        else:
            after = {rel: self.store.current(rel) for rel in self.before}
        records: list[dict[str, Any]] = []
        changes: list[FileChange] = []
        for rel in sorted(after):
            old, new = self.before.get(rel), after[rel]
            if not _differs(old, new):
                continue
            records.append({
                "path": rel,
                "before": old.sha if old else None, "existed": old is not None,
                "mode": old.mode if old else None,
                "after": new.sha if new else None, "exists": new is not None,
            })
            if old is not None and old.sha is None:
                self.warnings.append(
                    f"{rel} changed but its previous version was too large to keep "
                    f"(over {MAX_FILE_BYTES // (1024 * 1024)} MB) or unreadable: it cannot be undone"
                )
            changes.append(self._describe(rel, old, new))
        if records:
            write_json_atomic(self.store.step_path(self.step), {"step": self.step, "changes": records})
        self.store.step_path(self.step, ".pending").unlink(missing_ok=True)
        return changes, list(dict.fromkeys(self.warnings))  # the before and after scans may say the same

    def _describe(self, rel: str, old: Version | None, new: Version | None) -> FileChange:
        kind: Literal["created", "modified", "deleted"] = (
            "created" if old is None else "deleted" if new is None else "modified"
        )
        change = FileChange(path=rel, change=kind, kept=old is None or old.sha is not None)
        texts = [self._text(v, rel) for v in (old, new)]
        if any(t is False for t in texts):
            change.binary = True
            return change
        if any(t is None for t in texts):
            return change  # too large to diff
        a, b = (t if isinstance(t, str) else "" for t in texts)
        lines = list(difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True),
            fromfile=f"a/{rel}" if old else "/dev/null", tofile=f"b/{rel}" if new else "/dev/null",
        ))
        change.added = sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++"))
        change.removed = sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))
        if len(lines) > DIFF_MAX_LINES:
            change.diff_truncated = len(lines) - DIFF_MAX_LINES
            lines = lines[:DIFF_MAX_LINES]
        change.diff = "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)
        return change

    def _text(self, v: Version | None, rel: str) -> str | bool | None:
        """The version's text; "" when absent, False when binary, None when not kept or too large to diff.
        A stored version is read from the blobs, the version a step just left from the file."""
        if v is None:
            return ""
        if v.sha is None or v.size > DIFF_MAX_BYTES:
            return None
        try:
            data = self.store.read_blob(v.sha) if v.stored else (self.store.root / rel).read_bytes()
        except OSError:
            return None
        if b"\x00" in data[:8192]:
            return False
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return False


def _hash(f: Any) -> str:
    digest = hashlib.sha256()
    while chunk := f.read(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _differs(old: Version | None, new: Version | None) -> bool:
    if old is None or new is None:
        return old is not new
    if old.sha is not None and new.sha is not None:
        return old.sha != new.sha
    return old.sig[:2] != new.sig[:2]  # not kept: size or mtime tells


# Undo --------------------------------------------------------------------------------------------
@dataclass
class UndoAction:
    path: str
    action: str  # "restore", "recreate" or "delete"
    target: str | None  # the sha to put back; None: remove the file
    mode: int | None
    left: str | None  # what the run left (sha), None: absent
    left_exists: bool
    current: Version | None = None
    problem: str | None = None  # why it cannot be restored, or was changed since
    lost: bool = False  # its previous version was not kept: --force skips it


def plan_undo(store: VersionStore, after_step: int = 0) -> list[UndoAction]:
    """What restoring the folder to how it was after `after_step` (0: before the run) takes."""
    first: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    for manifest in store.manifests():
        if int(manifest.get("step", 0)) <= after_step or manifest.get("undone"):
            continue
        for change in manifest.get("changes", []):
            first.setdefault(change["path"], change)
            last[change["path"]] = change
    actions = []
    for rel, change in sorted(first.items()):
        end = last[rel]
        if change["existed"]:
            kind = "recreate" if not (store.root / rel).exists() else "restore"
            action = UndoAction(rel, kind, change["before"], change["mode"], end["after"], end["exists"])
            if change["before"] is None:
                action.problem, action.lost = "its previous version was not kept (too large or unreadable)", True
        else:
            action = UndoAction(rel, "delete", None, None, end["after"], end["exists"])
        action.current = store.current(rel)
        if action.problem is None:
            now_exists = action.current is not None
            if now_exists != action.left_exists or (now_exists and action.current.sha != action.left):  # type: ignore[union-attr]
                action.problem = "changed since the run left it"
        actions.append(action)
    return [a for a in actions if not _already_there(a)]


def _already_there(a: UndoAction) -> bool:
    if a.target is None:
        return a.current is None and a.action == "delete"
    return a.current is not None and a.current.sha == a.target


def apply_undo(store: VersionStore, actions: list[UndoAction], after_step: int, *, force: bool = False) -> None:
    """Restore each file byte for byte (atomically), recreate deleted ones, remove created ones; mark the
    undone steps so a second undo does not redo them."""
    problems = [a for a in actions if a.problem is not None]
    if problems and not force:
        raise RunError(f"cannot undo {problems[0].path}: {problems[0].problem}; use --force to overwrite it anyway")
    for a in actions:
        if a.lost:
            continue
        target = store.root / a.path
        if not target.resolve().is_relative_to(store.root):
            raise RunError(f"{a.path} now leads outside {store.root} (a symlink); move it away, then undo again")
        if a.target is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".undo")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(store.read_blob(a.target))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, a.mode if a.mode is not None else 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    for manifest in store.manifests():
        step = int(manifest.get("step", 0))
        if step > after_step and not manifest.get("undone"):
            write_json_atomic(store.step_path(step), {**manifest, "undone": True})
