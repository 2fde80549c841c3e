"""Shared fixtures: every test session gets its own data folder and local tracking store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Point the lab's data folder (and so its SQLite tracking store) at a temp dir."""
    path = tmp_path_factory.mktemp("dll-data")
    old = {k: os.environ.get(k) for k in ("DLL_DATA_DIR", "MLFLOW_TRACKING_URI")}
    os.environ["DLL_DATA_DIR"] = str(path)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield path
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def fresh_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder (and empty tracking store) of this test's own."""
    monkeypatch.setenv("DLL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


class NetworkAttempts:
    """Counts (and refuses) every attempt to open a network connection."""

    def __init__(self) -> None:
        self.count = 0

    def refuse(self, *args, **kwargs):
        self.count += 1
        raise OSError("network disabled in tests")


def go_offline(mp: pytest.MonkeyPatch, torch_home: Path) -> NetworkAttempts:
    """No network, and an empty torch hub cache at ``torch_home`` (where pretrained weights would be)."""
    attempts = NetworkAttempts()
    mp.setenv("TORCH_HOME", str(torch_home))
    mp.delenv("TORCH_HUB", raising=False)
    import socket

    for name in ("getaddrinfo", "create_connection"):
        mp.setattr(socket, name, attempts.refuse)
    mp.setattr(socket.socket, "connect", attempts.refuse)
    return attempts


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> NetworkAttempts:
    """This test's own empty torch hub cache and no network; ``.count`` tells how often it was tried."""
    return go_offline(monkeypatch, tmp_path / "torch")


UNPICKLED: list[str] = []  # what a PickledPayload's code appends when something unpickles it


def _side_effect() -> list[str]:
    UNPICKLED.append("code ran")
    return UNPICKLED


class PickledPayload:
    """An object whose unpickling runs code: a file holding one must be read with ``weights_only=True``."""

    def __reduce__(self):
        return (_side_effect, ())
