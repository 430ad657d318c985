"""Pulled models: GGUF files fetched from the Hugging Face Hub into a local folder, run as `local/NAME`.

    store = ModelStore(Path("workspace/models"))
    store.pull(resolve_ref("qwen2.5:1.5b"))          # resumable, verified against the Hub's sha256
    store.pulled(); store.find("qwen2.5:1.5b"); store.remove("qwen2.5:1.5b")

Layout: one folder per model holding its GGUF file(s) and `manifest.json`, written last: a model is
pulled once its manifest exists. A download in progress lives in `.partial/` beside it.

The bytes travel through huggingface_hub (its URLs, auth headers, error types, and `http_get`, which
retries a dropped connection with a Range request). We do not call `hf_hub_download` itself: since
1.x it writes to a per-process temporary file and deletes it when the download fails, so an
interrupted pull of a 4.7 GB model would start again from zero. Here the partial file is kept,
named after the Hub's etag (the file's sha256), and the next pull resumes it; a finished file is
hashed and refused, partial file deleted, unless it matches.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from forge.errors import AutoGPTError, ConfigError, DownloadError, ModelNotFoundError
from forge.models.catalog import HubRef, Recommended, check_name
from forge.models.gguf_file import read_gguf_info

MANIFEST = "manifest.json"
PARTIAL = ".partial"
DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


class ProgressBar(Protocol):
    def update(self, n: int) -> None: ...
    def close(self) -> None: ...


# (description, total bytes or None, bytes already there) -> a bar; the CLI draws it with rich.
ProgressFactory = Callable[[str, int | None, int], ProgressBar]


class PulledFile(BaseModel):
    name: str
    size: int
    sha256: str | None = None  # None when the Hub gave no sha256 (a file outside Git LFS)


class PulledModel(BaseModel):
    """One entry of the store, as `manifest.json` holds it."""

    name: str
    repo: str
    revision: str | None = None  # the commit the files came from
    files: list[PulledFile]
    licence: str | None = None
    pulled_at: str = ""
    architecture: str | None = None
    parameters: str | None = None
    quantisation: str | None = None
    context_length: int | None = None
    folder: Path = Field(default=Path(), exclude=True)

    @property
    def path(self) -> Path:
        """The file llama.cpp opens (the first part of a split model)."""
        return self.folder / self.files[0].name

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


class RemoteFile(BaseModel):
    name: str
    url: str
    size: int | None
    etag: str  # the sha256 of the content for Git LFS files
    commit: str | None


class PullPlan(BaseModel):
    """What a pull is about to fetch, shown to the user before the first byte."""

    ref_name: str
    repo: str
    files: list[RemoteFile]
    licence: str | None
    gated: bool = False
    note: str = ""
    ram_gb: float | None = None
    resume_bytes: int = 0  # already on disk from an interrupted pull
    up_to_date: bool = False

    @property
    def size_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


class PartialPull(BaseModel):
    name: str
    folder: Path
    bytes: int


def folder_name(name: str) -> str:
    """`qwen2.5:1.5b` -> `qwen2.5-1.5b`: a model name as a portable folder name."""
    return re.sub(r"[^\w.+-]", "-", name)


def sha_file(path: Path, algorithm: str = "sha256", on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.new(algorithm)
    if algorithm == "sha1":  # a Git blob id: the file is outside Git LFS
        digest.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


class ModelStore:
    def __init__(self, root: Path):
        self.root = root

    # Reading -----------------------------------------------------------------------------------
    def _manifest(self, folder: Path) -> PulledModel | None:
        try:
            model = PulledModel.model_validate_json((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        model.folder = folder
        return model

    def pulled(self) -> list[PulledModel]:
        if not self.root.is_dir():
            return []
        found = (self._manifest(folder) for folder in sorted(self.root.iterdir()) if folder.is_dir())
        return [m for m in found if m is not None]

    def partial(self) -> list[PartialPull]:
        """Pulls that were interrupted (no manifest yet): `pull` resumes them, `remove` deletes them."""
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not (folder / MANIFEST).exists():
                size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                out.append(PartialPull(name=_pending_name(folder), folder=folder, bytes=size))
        return out

    def find(self, name: str) -> PulledModel | None:
        folder = self.root / folder_name(name)
        model = self._manifest(folder) if folder.is_dir() else None
        if model is not None and model.name == name:
            return model
        return next((m for m in self.pulled() if m.name == name), None)

    def remove(self, name: str) -> int:
        """Delete a pulled model (or an interrupted pull); returns the bytes freed."""
        model = self.find(name)
        folder = model.folder if model else next((p.folder for p in self.partial() if p.name == name), None)
        if folder is None:
            raise ModelNotFoundError(f"no pulled model {name!r}; `autogpt models list` shows what is pulled")
        freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        with _locked(folder, name):
            shutil.rmtree(folder)
        return freed

    # Pulling -----------------------------------------------------------------------------------
    def plan(self, ref: HubRef, *, endpoint: str | None = None, token: str | None = None) -> PullPlan:
        """Ask the Hub what the files are (size, sha256, commit) without downloading them."""
        check_name(ref.name)
        _hub_online()
        from huggingface_hub import get_hf_file_metadata, hf_hub_url

        endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        files: list[RemoteFile] = []
        revision = ref.revision
        for filename in ref.files:
            url = hf_hub_url(ref.repo, filename, revision=revision, endpoint=endpoint)
            try:
                meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
            except Exception as e:
                raise _hub_error(e, ref, filename, endpoint) from None
            if not meta.etag or not meta.location:
                raise DownloadError(f"{endpoint} gave no etag for {ref.repo}/{filename}; is it a Hugging Face Hub?")
            files.append(
                RemoteFile(name=filename, url=meta.location, size=meta.size, etag=meta.etag, commit=meta.commit_hash)
            )
            revision = meta.commit_hash or revision  # every part from the same commit
        r = ref.recommended
        licence, gated = (r.licence, False) if r else _licence_of(ref.repo, endpoint, token)
        existing = self.find(ref.name)
        if existing is not None and existing.repo != ref.repo:
            raise ConfigError(
                f"a model named {ref.name!r} is already pulled from {existing.repo}; "
                f"`autogpt models rm {ref.name}` first, or pull with --name OTHER"
            )
        folder = self.root / folder_name(ref.name)
        other = self._manifest(folder) if folder.is_dir() else None
        if other is not None and other.name != ref.name:
            raise ConfigError(f"{ref.name!r} would share the folder of pulled model {other.name!r}; "
                              "pull it with --name OTHER")
        up_to_date = existing is not None and _same_files(existing, files)
        resume = sum(_partial_path(folder, f).stat().st_size for f in files if _partial_path(folder, f).exists())
        return PullPlan(
            ref_name=ref.name, repo=ref.repo, files=files, licence=licence, gated=gated,
            note=r.note if r else "", ram_gb=_ram_gb(r, files), resume_bytes=resume, up_to_date=up_to_date,
        )

    def pull(
        self,
        ref: HubRef,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        progress: ProgressFactory | None = None,
        on_plan: Callable[[PullPlan], None] | None = None,
    ) -> PulledModel:
        """Download, verify and register `ref`. Resumes an interrupted pull of the same files."""
        plan = self.plan(ref, endpoint=endpoint, token=token)
        if on_plan is not None:
            on_plan(plan)
        existing = self.find(ref.name)
        if plan.up_to_date and existing is not None:
            return existing
        folder = self.root / folder_name(ref.name)
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder, ref.name):
            (folder / MANIFEST).unlink(missing_ok=True)  # not pulled until every file is verified again
            try:
                _check_space(folder, plan.size_bytes - plan.resume_bytes)
                for remote in plan.files:
                    _download(folder, remote, token=token, progress=progress, ref=ref)
            finally:
                _tidy(folder)
            shutil.rmtree(folder / PARTIAL, ignore_errors=True)
            shutil.rmtree(folder / ".cache", ignore_errors=True)
            info = read_gguf_info(folder / plan.files[0].name)
            model = PulledModel(
                name=ref.name,
                repo=ref.repo,
                revision=plan.files[0].commit,
                files=[
                    PulledFile(name=f.name, size=f.size or 0, sha256=f.etag if _SHA256.match(f.etag) else None)
                    for f in plan.files
                ],
                licence=plan.licence or info.licence,
                pulled_at=datetime.now(UTC).isoformat(timespec="seconds"),
                architecture=info.architecture,
                parameters=info.summary()["parameters"] or (ref.recommended.parameters if ref.recommended else None),
                quantisation=info.quantisation,
                context_length=info.context_length,
                folder=folder,
            )
            tmp = folder / f"{MANIFEST}.tmp"
            tmp.write_text(json.dumps(model.model_dump(mode="json"), indent=2) + "\n")
            tmp.replace(folder / MANIFEST)
            keep = {f.name for f in plan.files}
            for stale in folder.glob("*.gguf"):  # a previous version's files, renamed since
                if stale.name not in keep:
                    stale.unlink()
        return model


def _tidy(folder: Path) -> None:
    """After a pull: no partial-download marker without a partial file, no empty model folder."""
    partial = folder / PARTIAL
    if partial.is_dir() and not any(partial.glob("*.part")):
        shutil.rmtree(partial, ignore_errors=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _pending_name(folder: Path) -> str:
    marker = folder / PARTIAL / "name"
    try:
        return marker.read_text().strip() or folder.name
    except OSError:
        return folder.name


def _partial_path(folder: Path, remote: RemoteFile) -> Path:
    # Named after the etag: bytes of an older version of the file are never resumed onto a newer one.
    return folder / PARTIAL / f"{remote.name.replace('/', '__')}.{remote.etag[:16]}.part"


def _same_files(model: PulledModel, files: list[RemoteFile]) -> bool:
    have = {f.name: f for f in model.files}
    for remote in files:
        local = have.get(remote.name)
        path = model.folder / remote.name
        if local is None or local.sha256 != remote.etag or not path.is_file() or path.stat().st_size != local.size:
            return False
    return True


def _download(
    folder: Path, remote: RemoteFile, *, token: str | None, progress: ProgressFactory | None, ref: HubRef
) -> None:
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    part = _partial_path(folder, remote)
    part.parent.mkdir(parents=True, exist_ok=True)
    (part.parent / "name").write_text(ref.name)
    for stale in part.parent.glob(f"{remote.name.replace('/', '__')}.*.part"):
        if stale != part:
            stale.unlink()
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:  # not a prefix of this file
        part.unlink()
        have = 0
    tqdm_class = _tqdm_adapter(progress) if progress is not None else _silent_tqdm()
    headers = build_hf_headers(token=token)
    try:
        with open(part, "ab") as f:
            http_get(remote.url, f, resume_size=have, headers=headers, expected_size=remote.size,
                     displayed_filename=remote.name, tqdm_class=tqdm_class)
    except Exception as e:
        raise _hub_error(e, ref, remote.name, None, keep=part) from None
    _verify(part, remote, progress)
    dest = folder / remote.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    part.replace(dest)


def _verify(part: Path, remote: RemoteFile, progress: ProgressFactory | None) -> None:
    """The Hub's etag is the file's sha256 (Git LFS) or its Git blob sha1; anything else is refused."""
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        part.unlink()
        raise DownloadError(f"{remote.name}: got {size} bytes, the Hub announced {remote.size}; partial file "
                            "removed, pull again")
    algorithm = "sha256" if _SHA256.match(remote.etag) else "sha1" if _SHA1.match(remote.etag) else None
    if algorithm is None:
        part.unlink()
        raise DownloadError(f"{remote.name}: the Hub gave no checksum (etag {remote.etag!r}), so it cannot be "
                            "verified; refused")
    bar = progress(f"verify {remote.name}", size, 0) if progress is not None else None
    try:
        actual = sha_file(part, algorithm, bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    if actual != remote.etag:
        part.unlink()
        raise DownloadError(
            f"{remote.name} failed verification ({algorithm} {actual[:12]}..., the Hub says {remote.etag[:12]}...); "
            "the partial file was removed: pull again"
        )


def _hub_error(
    exc: Exception, ref: HubRef, filename: str, endpoint: str | None, keep: Path | None = None
) -> AutoGPTError:
    """huggingface_hub's and httpx's exceptions -> one line naming the fix."""
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, AutoGPTError):
        return exc
    page = f"{endpoint or DEFAULT_ENDPOINT}/{ref.repo}"
    resume = f"; run the same pull again to resume ({keep.stat().st_size} bytes kept)" if keep and keep.exists() else ""
    if isinstance(exc, GatedRepoError):
        return DownloadError(
            f"{ref.repo} is gated: the Hub wants its licence accepted first. Open {page} while logged in, "
            "accept it, then set HF_TOKEN to a token of that account (or run `hf auth login`) and pull again"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return DownloadError(f"no model repository {ref.repo!r} on the Hub (or it is private: set HF_TOKEN)")
    if isinstance(exc, RevisionNotFoundError):
        return DownloadError(f"{ref.repo} has no revision {ref.revision!r}")
    if isinstance(exc, EntryNotFoundError):
        return DownloadError(
            f"{ref.repo} has no file {filename!r} (publishers rename files: see {page}/tree/main, then pull "
            f"{ref.repo}:FILE.gguf)"
        )
    if isinstance(exc, OfflineModeIsEnabled):
        return ConfigError("HF_HUB_OFFLINE is set: unset it (or set HF_HUB_OFFLINE=0) to pull models")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return DownloadError(f"the Hub refused {ref.repo}/{filename} (HTTP {status}){resume}")
    if isinstance(exc, OSError | ConnectionError) or type(exc).__module__.startswith("httpx"):
        where = endpoint or "the Hub"
        return DownloadError(f"cannot download {ref.repo}/{filename} from {where}: {exc}{resume}")
    return DownloadError(f"pulling {ref.repo}/{filename} failed: {type(exc).__name__}: {exc}{resume}")


def _hub_online() -> None:
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise ConfigError("HF_HUB_OFFLINE is set: unset it (or set HF_HUB_OFFLINE=0) to pull models")


def _licence_of(repo: str, endpoint: str, token: str | None) -> tuple[str | None, bool]:
    """The repo's licence and whether it is gated, from its model card; (None, False) if unknown."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=endpoint, token=token).model_info(repo, timeout=10)
    except Exception:
        return None, False
    card = info.card_data
    licence = getattr(card, "license", None) if card is not None else None
    if licence is None:
        licence = next((t.split(":", 1)[1] for t in info.tags or [] if t.startswith("license:")), None)
    return (str(licence) if licence else None), bool(info.gated)


def _ram_gb(recommended: Recommended | None, files: list[RemoteFile]) -> float | None:
    if recommended is not None:
        return recommended.ram_gb
    size = sum(f.size or 0 for f in files)
    # Weights plus ~25% for the KV cache and scratch at an 8k context (measured ratios vary by model).
    return round(size * 1.25 / 1e9 + 0.5, 1) if size else None


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > 0 and free < needed + (64 << 20):
        raise DownloadError(
            f"not enough disk space in {folder}: the download needs {needed / 1e9:.1f} GB, {free / 1e9:.1f} GB "
            "is free; free some space or set AUTOGPT_MODELS_DIR to another disk"
        )


@contextlib.contextmanager
def _locked(folder: Path, name: str) -> Iterator[None]:
    """One pull (or rm) of a model at a time: two writers would append to the same partial file."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}.lock"
    with open(lock_path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"another pull of {name!r} is running; wait for it to finish") from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)  # still held: a waiting pull gets the error above


def _tqdm_adapter(progress: ProgressFactory) -> Any:
    """huggingface_hub draws progress with a tqdm-like class; this one forwards to our factory."""

    class _Bar:
        def __init__(self, *, total: int | None = None, initial: int = 0, desc: str = "", **_: Any):
            self._bar = progress(desc, total, initial)

        def update(self, n: int = 1) -> None:
            self._bar.update(n)

        def close(self) -> None:
            self._bar.close()

        def __enter__(self) -> _Bar:
            return self

        def __exit__(self, *exc: Any) -> None:
            self.close()

    return _Bar


def _silent_tqdm() -> Any:
    return _tqdm_adapter(lambda desc, total, initial: _NoBar())


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
