"""The worker process beside the app: ``python -m core.jobs`` (started by :mod:`core.jobs.local`).

It reads jobs and Stop requests from its standard input and answers on its original standard
output (everything the job itself prints goes to standard error instead). A job runs in the
main thread with a :class:`WorkerContext` whose events are buffered and sent every 0.1 s; a
second thread reads the app's messages, so Stop reaches the running job at once. When the app
goes away (standard input closes) the running job is stopped, its run ends KILLED, and the
worker exits.

Messages (pickled, length-prefixed): app -> worker ``("job", id, fn_name, cfg, env)``,
``("stop", id)``, ``("exit",)``; worker -> app ``("ready", pid)``, ``("events", id, [event, ...])``,
``("done", id, ending)``.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

from core.jobs.api import FAILED, Ending, JobContext, resolve, run_job

FLUSH_EVERY_S = 0.1
ENV_PREFIXES = ("DLL_", "MLFLOW_")
ENV_KEYS = ("TORCH_HOME",)


def worker_threads() -> int:
    """Intra-op CPU threads a worker trains with: ``DLL_WORKER_THREADS``, else every core but one. The
    core left over is the app's and the browser's: a training whose threads wait for a core that is
    drawing the live view slows down several-fold (measured in bench/live_view.py), while one thread
    less costs a quiet machine little."""
    value = os.environ.get("DLL_WORKER_THREADS", "")
    if value.strip():
        return max(1, int(value))
    return max(1, (os.cpu_count() or 1) - 1)


def send(stream: BinaryIO, obj: Any, lock: threading.Lock | None = None) -> None:
    """Write one message: 8-byte length, then the pickle."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    frame = struct.pack("<Q", len(data)) + data
    if lock is None:
        stream.write(frame)
        stream.flush()
        return
    with lock:
        stream.write(frame)
        stream.flush()


def recv(stream: BinaryIO) -> Any:
    """Read one message; ``EOFError`` when the other side has gone."""
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


def job_env() -> dict[str, str]:
    """The settings a job takes from the app that submits it: data folder, tracking store, torch cache."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES) or k in ENV_KEYS}


class WorkerContext(JobContext):
    """A job's context in the worker: events are buffered and sent to the app in batches by ``flush``."""

    def __init__(self, job_id: str, out: BinaryIO, lock: threading.Lock) -> None:
        super().__init__()
        self.job_id, self._out, self._lock = job_id, out, lock
        self._buffer: list[tuple] = []
        self._buffer_lock = threading.Lock()

    def _emit(self, event: tuple) -> None:
        with self._buffer_lock:
            self._buffer.append(event)

    def flush(self) -> None:
        with self._buffer_lock:
            events, self._buffer = self._buffer, []
        if events:
            send(self._out, ("events", self.job_id, events), self._lock)


def apply_env(env: dict[str, str]) -> dict[str, str | None]:
    """Set the job's settings; returns what to put back."""
    keys = {k for k in os.environ if k.startswith(ENV_PREFIXES) or k in ENV_KEYS} | set(env)
    before = {k: os.environ.get(k) for k in keys}
    for k in keys:
        if k in env:
            os.environ[k] = env[k]
        else:
            os.environ.pop(k, None)
    return before


def restore_env(before: dict[str, str | None]) -> None:
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def main() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints of a job must not corrupt the messages
    sys.stdout = sys.stderr
    inp = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    lock = threading.Lock()

    import importlib

    import torch

    from core import tracking

    for module in filter(None, os.environ.pop("DLL_WORKER_PRELOAD", "").split(",")):
        importlib.import_module(module)
    torch.set_num_threads(worker_threads())
    threads = torch.get_num_threads()
    jobs: queue.Queue = queue.Queue()
    current: dict[str, Any] = {}
    stopped: set[str] = set()
    gone = threading.Event()

    def listen() -> None:
        """The app's messages: jobs go to the main thread, Stop acts at once; EOF = the app is gone."""
        while True:
            try:
                msg = recv(inp)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            if msg[0] == "job":
                jobs.put(msg)
            elif msg[0] == "stop":
                stopped.add(msg[1])  # also when it arrives before the job has started
                ctx = current.get("ctx")
                if ctx is not None and ctx.job_id == msg[1]:
                    ctx.cancel.cancel()
            elif msg[0] == "exit":
                break
        gone.set()
        ctx = current.get("ctx")
        if ctx is not None:
            ctx.cancel.cancel()  # the run ends KILLED with what it has
            threading.Timer(30.0, lambda: os._exit(0)).start()
        jobs.put(None)

    def flusher() -> None:
        while not gone.is_set():
            time.sleep(FLUSH_EVERY_S)
            ctx = current.get("ctx")
            if ctx is not None:
                try:
                    ctx.flush()
                except OSError:
                    return

    def on_run(run_id: str, uri: str, status: str) -> None:
        ctx = current.get("ctx")
        if ctx is not None:
            ctx.run_event(run_id, uri, status)

    def terminate(signum: int, frame: Any) -> None:
        """SIGTERM or Ctrl-C (the app's process group is being stopped): the running job stops at its
        next step and its run ends KILLED; an idle worker just exits."""
        terminating.set()
        ctx = current.get("ctx")
        if ctx is None:
            os._exit(0)
        ctx.cancel.cancel()
        threading.Timer(10.0, lambda: os._exit(0)).start()

    terminating = threading.Event()
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    tracking.set_run_listener(on_run)
    threading.Thread(target=listen, name="worker-listen", daemon=True).start()
    threading.Thread(target=flusher, name="worker-flush", daemon=True).start()
    send(out, ("ready", os.getpid()), lock)
    import mlflow  # noqa: F401

    import core.experiment  # noqa: F401 - what every training job needs, loaded before the first one asks
    while True:
        msg = jobs.get()
        if msg is None:
            break
        _, job_id, fn_name, cfg, env = msg
        ctx = WorkerContext(job_id, out, lock)
        current["ctx"] = ctx
        if job_id in stopped:
            ctx.cancel.cancel()
        before = apply_env(env)
        try:
            ending = run_job(resolve(fn_name), ctx, cfg)
        except Exception as exc:  # noqa: BLE001 - the function could not even be found
            ending = Ending(FAILED, error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__, message="failed")
        finally:
            restore_env(before)
            torch.set_num_threads(threads)  # a job's process-wide settings end with it
            torch.set_flush_denormal(False)
        current.pop("ctx", None)
        try:
            ctx.flush()
            try:
                send(out, ("done", job_id, ending), lock)
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - a result that does not pickle: say so instead
                send(out, ("done", job_id, Ending(FAILED, error=f"the job's result could not be sent back ({exc})",
                                                  error_type=type(exc).__name__, message="failed")), lock)
        except OSError:
            break
        if gone.is_set() or terminating.is_set():
            break
    os._exit(0)


