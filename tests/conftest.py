"""Shared fixtures: every test session gets its own data folder and local tracking store."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mlflow_server(folder: Path, port: int) -> subprocess.Popen:
    """A real ``mlflow server`` on 127.0.0.1:``port`` with its store and artifacts in ``folder``."""
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen(
        [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         "--artifacts-destination", str(folder / "server-artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    end = time.time() + 60
    while time.time() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("mlflow server did not start")


def stop_process_group(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a process started with ``start_new_session=True`` and everything it started, then wait."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(30)


class Server:
    """A lab server started with ``python -m ui.launch`` (what ``make run`` uses) on its own data folder."""

    def __init__(self, data: Path, port: int | None = None, env: dict[str, str] | None = None,
                 address: str | None = "127.0.0.1") -> None:
        """``env``: more environment, e.g. ``MLFLOW_TRACKING_URI`` for a tracking server instead of the local store;
        ``address=None`` leaves the address to the lab's own configuration."""
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # its own torch hub cache: no pretrained weights from the developer's machine, nothing downloaded into it
        environ = {**os.environ, "DLL_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1", "TORCH_HOME": str(data / "torch")}
        environ.pop("MLFLOW_TRACKING_URI", None)
        environ.update(env or {})
        self._log = open(data / "streamlit.log", "a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ui.launch", "--server.headless", "true", "--server.port", str(self.port),
             *(["--server.address", address] if address else []), "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=environ, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1).read() == b"ok":
                    return
            except OSError:
                time.sleep(0.3)
        self.stop(signal.SIGKILL)
        pytest.fail("the Streamlit server did not start: " + (data / "streamlit.log").read_text()[-2000:])

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.data / 'mlflow.db'}"

    def worker_pids(self) -> list[int]:
        """The server's worker processes (where its trainings run)."""
        return child_pids(self.proc.pid)

    def rss_mb(self) -> float:
        """Resident memory of the server process and its worker processes, in MB (from /proc)."""
        return sum(rss_mb(pid) for pid in [self.proc.pid, *self.worker_pids()])

    def stop(self, sig: int = signal.SIGTERM, workers: bool = False) -> None:
        """End the server: SIGTERM shuts it down, SIGKILL is a crash (nothing is cleaned up). Its worker
        processes end by themselves once the app is gone (closing the run of a job they had); with
        ``workers`` they get ``sig`` too (a crash of everything). Waits until they are gone."""
        pids = self.worker_pids()
        if workers:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        stop_process_group(self.proc, sig)
        self._log.close()
        for pid in pids:
            wait_gone(pid)


def child_pids(pid: int) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(proc.name))
    return out


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_gone(pid: int, timeout: float = 30) -> None:
    """Wait until process ``pid`` has exited (a zombie counts as gone); SIGKILL it after ``timeout``."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def preloaded_runner(monkeypatch: pytest.MonkeyPatch):
    """``make(*modules)``: a job runner whose worker processes import ``modules`` before their first job
    (fakes for what the job does: a monkeypatch in the test process never reaches the worker), put in
    place of the process's runner for this test."""
    import core.jobs

    made: list = []

    def make(*modules: str):
        runner = core.jobs.LocalRunner(preload=modules)
        made.append(runner)
        monkeypatch.setattr(core.jobs, "get_runner", lambda: runner)
        monkeypatch.setattr(core.jobs, "local_runner", lambda: runner)
        return runner

    yield make
    for runner in made:
        runner.close()
