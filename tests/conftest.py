"""Shared fixtures. No test may open a non-loopback connection."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # unix sockets


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise OSError(f"test tried to reach the network ({address!r}); tests must stay on loopback")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def _empty_config_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("xdg-config"))


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, _empty_config_home: str) -> None:
    """The developer's ~/.config/autogpt/.env must not change what tests (and the CLIs they start) see."""
    monkeypatch.setenv("XDG_CONFIG_HOME", _empty_config_home)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings rooted in a temp workspace, ignoring the developer's env and .env."""
    from forge.config import Settings

    for key in list(__import__("os").environ):
        if key.startswith("AUTOGPT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return Settings(workspace=tmp_path / "ws", _env_file=None)
