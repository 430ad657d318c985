"""The integrations store: credentials blocks need (SMTP, Slack, Discord, OpenAI, ...).

A provider's credentials are a small dict of fields (`{"token": "..."}`,
`{"host": ..., "username": ..., "password": ...}`). They come from, first match wins:

1. `AUTOGPT_CREDENTIALS_<PROVIDER>`: a JSON object, or a bare string meaning `{"token": value}`;
2. the provider's well-known env vars (`SLACK_BOT_TOKEN`, `OPENAI_API_KEY`, ...; see WELL_KNOWN);
3. `<workspace>/credentials.json`, written with mode 0600 by `autogpt credentials set`, and
   refused if anyone but the owner can read it.

Every value is a secret: `secret_values()` feeds the run log's redaction.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forge.errors import ConfigError
from forge.security.permissions import private_dir

FILE_NAME = "credentials.json"

# provider -> {field: env var}. Only fields present in the environment are used.
WELL_KNOWN: dict[str, dict[str, str]] = {
    "openai": {"api_key": "OPENAI_API_KEY"},
    "anthropic": {"api_key": "ANTHROPIC_API_KEY"},
    "gemini": {"api_key": "GEMINI_API_KEY"},
    "slack": {"token": "SLACK_BOT_TOKEN", "webhook_url": "SLACK_WEBHOOK_URL"},
    "discord": {"webhook_url": "DISCORD_WEBHOOK_URL"},
    "smtp": {
        "host": "SMTP_HOST", "port": "SMTP_PORT", "username": "SMTP_USERNAME",
        "password": "SMTP_PASSWORD", "sender": "SMTP_FROM",
    },
    "redis": {"url": "REDIS_URL"},
    "twitter": {"token": "TWITTER_BEARER_TOKEN"},
    "linkedin": {"token": "LINKEDIN_ACCESS_TOKEN", "author": "LINKEDIN_AUTHOR_URN"},
}


class CredentialsMissingError(ConfigError):
    """A block needs credentials for a provider and none are configured."""

    def __init__(self, provider: str, fields: tuple[str, ...] = ()):
        self.provider = provider
        env = WELL_KNOWN.get(provider, {})
        hint = f" or set {' / '.join(env.values())}" if env else ""
        example = " ".join(f"{f}=..." for f in (fields or tuple(env) or ("token",)))
        super().__init__(
            f"missing credentials for {provider}: run `autogpt credentials set {provider} {example}`{hint}"
        )


class CredentialStore:
    def __init__(self, path: Path | None, environ: Mapping[str, str] | None = None):
        self.path = path
        self._environ = os.environ if environ is None else environ

    @classmethod
    def for_workspace(cls, workspace: Path, environ: Mapping[str, str] | None = None) -> CredentialStore:
        return cls(Path(workspace) / FILE_NAME, environ)

    # Reading --------------------------------------------------------------------------------
    def _file(self) -> dict[str, dict[str, str]]:
        if self.path is None or not self.path.exists():
            return {}
        mode = self.path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{self.path} is readable by others; fix with `chmod 600 {self.path}`")
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read {self.path} ({e}); fix or remove the file") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} must hold a JSON object; fix or remove the file")
        return data

    def _from_env(self, provider: str) -> dict[str, str] | None:
        raw = self._environ.get(f"AUTOGPT_CREDENTIALS_{provider.upper()}")
        if raw:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else {"token": str(value)}
        fields = {f: self._environ[var] for f, var in WELL_KNOWN.get(provider, {}).items() if self._environ.get(var)}
        return fields or None

    def get(self, provider: str) -> dict[str, str] | None:
        provider = provider.lower()
        return self._from_env(provider) or self._file().get(provider) or None

    def require(self, provider: str, *fields: str) -> dict[str, str]:
        """The provider's credentials, with at least one of `fields` when given; else a clear error."""
        creds = self.get(provider)
        if not creds or (fields and not any(creds.get(f) for f in fields)):
            raise CredentialsMissingError(provider, fields)
        return creds

    def providers(self) -> dict[str, str]:
        """provider -> where its credentials come from ("env" or "file"); values never leave."""
        out = {p: "file" for p in self._file()}
        for p in set(WELL_KNOWN) | set(out):
            if self._from_env(p):
                out[p] = "env"
        for key in self._environ:
            if key.startswith("AUTOGPT_CREDENTIALS_"):
                out[key.removeprefix("AUTOGPT_CREDENTIALS_").lower()] = "env"
        return dict(sorted(out.items()))

    def secret_values(self) -> list[str]:
        """Every credential value, for redaction. Raises ConfigError when the file exists but cannot
        be read: going on without its values would write them unredacted."""
        values: set[str] = set()
        stored = self._file()
        for fields in stored.values():
            if isinstance(fields, dict):
                values.update(str(v) for v in fields.values())
        for p in set(WELL_KNOWN) | set(stored):
            values.update((self._from_env(p) or {}).values())
        # Host names and ports are not secrets; short values would redact ordinary words.
        return sorted((v for v in values if len(v) >= 6), key=len, reverse=True)

    # Writing --------------------------------------------------------------------------------
    def _write(self, data: dict[str, Any]) -> None:
        if self.path is None:
            raise ConfigError("no credentials file configured; pass --workspace DIR")
        private_dir(self.path.parent)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def set(self, provider: str, fields: Mapping[str, str]) -> None:
        if not fields:
            raise ConfigError(
                f"no fields given for {provider}; use e.g. `autogpt credentials set {provider} token=...`"
            )
        data = self._file()
        data[provider.lower()] = {**data.get(provider.lower(), {}), **dict(fields)}
        self._write(data)

    def remove(self, provider: str) -> bool:
        data = self._file()
        if data.pop(provider.lower(), None) is None:
            return False
        self._write(data)
        return True
