"""Which GGUF files `autogpt models pull NAME` fetches: short aliases, and references to any Hub file.

    resolve_ref("qwen2.5:1.5b")                                   # an alias from RECOMMENDED
    resolve_ref("bartowski/Qwen2.5-7B-Instruct-GGUF:Qwen2.5-7B-Instruct-Q4_K_M.gguf")
    resolve_ref("hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf")

The alias table names the files as their publishers name them on the Hugging Face Hub (checked
against the Hub when they were added, not at run time): if a publisher renames a file, pull it by
`REPO_ID:FILE.gguf` instead. Sizes are the Q4_K_M files' own; RAM is what llama.cpp needs to run the
model with an 8k context (weights, KV cache and scratch), rounded up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forge.errors import ConfigError

GiB = 1024**3


@dataclass(frozen=True)
class Recommended:
    name: str
    repo: str
    files: tuple[str, ...]  # a model split in parts lists them all; llama.cpp opens the first
    size_bytes: int  # approximate, for the table shown before a download (the Hub's figure is checked)
    licence: str
    ram_gb: float
    parameters: str
    note: str = ""  # e.g. that the licence must be accepted on the Hub

    @property
    def size_gb(self) -> float:
        return self.size_bytes / 1e9


RECOMMENDED: dict[str, Recommended] = {
    r.name: r
    for r in (
        Recommended(
            "qwen2.5:1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", ("qwen2.5-1.5b-instruct-q4_k_m.gguf",),
            1_120_000_000, "Apache-2.0", 2.0, "1.5B",
        ),
        Recommended(
            "qwen2.5:3b", "Qwen/Qwen2.5-3B-Instruct-GGUF", ("qwen2.5-3b-instruct-q4_k_m.gguf",),
            2_100_000_000, "Qwen Research License (non-commercial)", 3.0, "3.1B",
        ),
        Recommended(
            "qwen2.5:7b", "Qwen/Qwen2.5-7B-Instruct-GGUF",
            ("qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", "qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf"),
            4_680_000_000, "Apache-2.0", 6.0, "7.6B",
        ),
        Recommended(
            "llama3.2:3b", "bartowski/Llama-3.2-3B-Instruct-GGUF", ("Llama-3.2-3B-Instruct-Q4_K_M.gguf",),
            2_020_000_000, "Llama 3.2 Community License", 3.5, "3.2B",
            note="by using it you accept Meta's Llama 3.2 licence (https://www.llama.com/llama3_2/license/)",
        ),
        Recommended(
            "smollm2:1.7b", "bartowski/SmolLM2-1.7B-Instruct-GGUF", ("SmolLM2-1.7B-Instruct-Q4_K_M.gguf",),
            1_060_000_000, "Apache-2.0", 3.0, "1.7B",
        ),
    )
}

_SPLIT = re.compile(r"-\d{5}-of-\d{5}$")
_SPLIT_FILE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_HOSTS = ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "https://hf.co/", "hf.co/")


@dataclass(frozen=True)
class HubRef:
    """What to download, and the name `local/NAME` will know it by."""

    name: str
    repo: str
    files: tuple[str, ...]
    revision: str = "main"
    recommended: Recommended | None = None


def default_name(filename: str) -> str:
    """`Qwen2.5-7B-Instruct-Q4_K_M.gguf` -> `qwen2.5-7b-instruct-q4_k_m` (split suffixes dropped)."""
    stem = filename.rsplit("/", 1)[-1].removesuffix(".gguf")
    return _SPLIT.sub("", stem).lower()


def _usage(text: str) -> ConfigError:
    aliases = ", ".join(RECOMMENDED)
    return ConfigError(
        f"cannot pull {text!r}: give an alias ({aliases}), REPO_ID:FILE.gguf or hf.co/REPO_ID/FILE.gguf"
    )


def resolve_ref(text: str, name: str | None = None) -> HubRef:
    """An alias or a Hub file reference -> HubRef. Raises ConfigError naming the accepted forms."""
    text = text.strip()
    if text in RECOMMENDED:
        r = RECOMMENDED[text]
        return HubRef(name=name or r.name, repo=r.repo, files=r.files, recommended=r)
    rest = next((text[len(h) :] for h in _HUB_HOSTS if text.startswith(h)), None)
    revision = "main"
    if rest is not None:  # hf.co/OWNER/REPO/FILE, or the page and download links a browser shows
        parts = rest.split("/")
        if len(parts) >= 5 and parts[2] in ("resolve", "blob"):
            revision, parts = parts[3], parts[:2] + parts[4:]
        if len(parts) < 3:
            raise _usage(text)
        repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
    elif ":" in text:
        repo, _, filename = text.partition(":")
    else:
        raise _usage(text)
    filename = filename.split("?", 1)[0]
    if not _REPO.match(repo) or not filename.endswith(".gguf"):
        raise _usage(text)
    return HubRef(name=name or default_name(filename), repo=repo, files=split_parts(filename), revision=revision)


def split_parts(filename: str) -> tuple[str, ...]:
    """All parts of a model split by llama.cpp's gguf-split (`...-00001-of-00003.gguf`), given any one."""
    found = _SPLIT_FILE.search(filename)
    if not found:
        return (filename,)
    head, total = filename[: found.start()], int(found.group(2))
    return tuple(f"{head}-{i:05d}-of-{total:05d}.gguf" for i in range(1, total + 1))


def check_name(name: str) -> str:
    """A local model name: what `--model local/NAME` and `autogpt models rm NAME` take."""
    if not re.fullmatch(r"[A-Za-z0-9][\w.:+-]{0,99}", name):
        raise ConfigError(
            f"invalid model name {name!r}: use letters, digits and . _ - : + (e.g. qwen2.5:1.5b)"
        )
    return name
