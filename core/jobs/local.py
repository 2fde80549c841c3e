"""The laptop's runner: jobs run in worker processes beside the app (no services to install).

:class:`LocalRunner` keeps the line of jobs per device kind ("slot") with at most ``limit``
running at once per kind (``DLL_MAX_JOBS``, default 1); later jobs wait and their snapshot says
how many are ahead. Each running job has a worker process of its own (``python -m
core.jobs.worker``, started once and reused, so a job starts in milliseconds); the function's
name, the config and the app's settings go to it, its events come back and build the job's
:class:`~core.jobs.api.JobState`. Rendering never competes with training for the GIL, and a
process-wide setting a job makes (threads, denormals) stays in the worker.

A job keeps going when the browser tab goes away. Stop reaches the worker at once; ``force``
kills the worker (the job's runs end KILLED). A worker that dies (killed, out of memory) fails its
job with a plain message, its open runs are closed FAILED, and the next job gets a fresh worker.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.identity import LOCAL_USER, OWNER_ENV, User
from core.jobs.api import DONE, FAILED, KILLED, QUEUED, RUNNING, Cursor, Ending, JobFn, JobSnapshot, JobState, job_name
from core.jobs.worker import job_env, recv, send

ROOT = Path(__file__).resolve().parents[2]


class _Worker:
    """One worker process and the thread that reads what it says."""

    def __init__(self, runner: LocalRunner) -> None:
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "DLL_WORKER_PRELOAD": ",".join(runner.preload)}
        # a session of its own: where the kernel shares CPU between sessions (Linux's autogroup), the
        # app's rendering then never takes the training's share; it ends when the app does (stdin closes)
        self.proc = subprocess.Popen([sys.executable, "-m", "core.jobs"], cwd=ROOT, env=env, start_new_session=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None)
        self.lock = threading.Lock()
        self.job: JobState | None = None
        self.ready = threading.Event()
        self.alive = True
        self._runner = runner
        self.thread = threading.Thread(target=self._read, name=f"worker-{self.proc.pid}", daemon=True)
        self.thread.start()

    def send(self, msg: tuple) -> bool:
        try:
            send(self.proc.stdin, msg, self.lock)
            return True
        except (OSError, ValueError):
            return False

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            try:
                msg = recv(out)
            except Exception:  # noqa: BLE001 - EOF or a broken message: the worker is gone
                break
            self._runner._on_message(self, msg)
        self.alive = False
        self._runner._on_exit(self, self.proc.wait())

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
            return
        self.send(("exit",))
        with contextlib.suppress(OSError):
            self.proc.stdin.close()


class LocalRunner:
    """Jobs in worker processes, at most ``limit`` at once per device kind."""

    def __init__(self, limit: int | None = None, keep_done: int = 20, idle_workers: int | None = None,
                 preload: tuple[str, ...] = ()) -> None:
        """``preload``: modules each worker imports before its first job (tests use it to put fakes
        where the job runs; ``DLL_WORKER_PRELOAD``, comma-separated, does the same for a whole app)."""
        self.preload = tuple(preload) or tuple(filter(None, os.environ.get("DLL_WORKER_PRELOAD", "").split(",")))
        self.limit = int(limit or os.environ.get("DLL_MAX_JOBS") or 1)
        if self.limit < 1:
            raise ValueError("the job limit must be at least 1")
        self.keep_done = keep_done
        self.idle_workers = self.limit if idle_workers is None else idle_workers
        self._jobs: dict[str, JobState] = {}
        self._work: dict[str, tuple[str, Any, dict[str, str]]] = {}  # job id -> (fn name, cfg, env) until sent
        self._line: dict[str, list[str]] = {}  # slot -> ids of running jobs first, then the waiting ones in order
        self._workers: list[_Worker] = []
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._forced: set[str] = set()  # jobs whose worker was killed by a forced Stop
        self._closed = False
        atexit.register(self.close)

    # -- the job API -------------------------------------------------------------------

    def submit(self, page: str, fn: JobFn, cfg: Any = None, *, name: str = "", slot: str = "cpu",
               user: User = LOCAL_USER) -> str:
        """Queue ``fn(ctx, cfg)`` as ``user``'s job (its runs are tagged with that owner); returns the job's
        id at once."""
        fn_name = job_name(fn)
        try:
            pickle.dumps(cfg)
        except Exception as exc:  # noqa: BLE001 - say it plainly, before anything is queued
            raise ValueError(f"a job's config must be plain data that pickles ({type(exc).__name__}: {exc})") from exc
        job = JobState(f"{page}-{next(self._ids)}-{os.getpid()}", page, name or page, slot, user.id)
        with self._cond:
            self._jobs[job.id] = job
            self._work[job.id] = (fn_name, cfg, {**job_env(), OWNER_ENV: user.id})
            self._line.setdefault(slot, []).append(job.id)
            self._forget_old(page)
            self._dispatch()
        return job.id

    def snapshot(self, job_id: str | None, since: Cursor | None = None, *, user: User = LOCAL_USER) -> JobSnapshot | None:
        """The job as ``user`` may see it (None when there is no such job, ``NotYours`` when it is another's)."""
        with self._cond:
            job = self._jobs.get(job_id) if job_id else None
            if job is None:
                return None
            user.check(job.owner, "job")
            ahead = 0
            if job.status == QUEUED:
                line = self._line.get(job.slot, [])
                running = sum(1 for j in line if self._jobs[j].status == RUNNING)
                ahead = max(line.index(job.id) - running, 0) if job.id in line else 0
            return job.snapshot(since, ahead)

    def jobs(self, page: str | None = None, *, user: User = LOCAL_USER) -> list[JobSnapshot]:
        """The jobs of this runner that ``user`` may see (of ``page``), oldest first, as snapshots without
        their rows and images."""
        with self._cond:
            return [j.snapshot(j.cursor()) for j in self._jobs.values()
                    if (page is None or j.page == page) and user.can_see(j.owner)]

    def cancel(self, job_id: str, force: bool = False, *, user: User = LOCAL_USER) -> None:
        """Stop the job at its next step (a waiting job never starts); ``force`` kills its worker. Only
        the job's owner or an instructor may (``NotYours``)."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return
            user.check(job.owner, "job")
            if job.done:
                return
            if job.status == QUEUED:
                self._line[job.slot].remove(job.id)
                self._work.pop(job.id, None)
                job.end(Ending(KILLED, message="stopped before it started"))
                self._cond.notify_all()
                self._dispatch()
                return
            worker = next((w for w in self._workers if w.job is job), None)
        if worker is not None:
            if force:
                self._forced.add(job_id)
                worker.stop(kill=True)
            else:
                worker.send(("stop", job_id))

    def wait(self, job_id: str, timeout: float | None = None, *, user: User = LOCAL_USER) -> JobSnapshot | None:
        """Block until the job ends (for tests and scripts)."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.done:
                    break
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(left if left is not None else 1.0)
        return self.snapshot(job_id, user=user)

    def warm(self) -> None:
        """Start a worker ahead of the first job (its imports take a few seconds)."""
        with self._cond:
            if not self._workers and not self._closed:
                self._workers.append(_Worker(self))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._workers = self._workers, []
        for w in workers:
            w.stop()

    # -- internals ----------------------------------------------------------------------

    def _forget_old(self, page: str) -> None:
        done = [j for j in self._jobs.values() if j.page == page and j.done]
        for j in sorted(done, key=lambda j: j.created)[: max(len(done) - self.keep_done, 0)]:
            del self._jobs[j.id]

    def _dispatch(self) -> None:
        """Send every job whose turn it is to an idle worker (called with the lock held)."""
        if self._closed:
            return
        for _slot, line in self._line.items():
            running = sum(1 for j in line if self._jobs[j].status == RUNNING)
            for job_id in line[running : self.limit]:
                job = self._jobs[job_id]
                worker = next((w for w in self._workers if w.job is None and w.alive), None)
                if worker is None:
                    worker = _Worker(self)
                    self._workers.append(worker)
                fn_name, cfg, env = self._work.pop(job_id)
                worker.job = job
                job.status, job.started, job.message = RUNNING, time.time(), "starting"
                if not worker.send(("job", job_id, fn_name, cfg, env)):
                    worker.alive = False  # its reader thread ends the job
                    worker.stop(kill=True)
        idle = [w for w in self._workers if w.job is None and w.alive]
        for w in idle[self.idle_workers :]:
            self._workers.remove(w)
            w.stop()

    def _on_message(self, worker: _Worker, msg: tuple) -> None:
        kind = msg[0]
        with self._cond:
            if kind == "ready":
                worker.ready.set()
                return
            job = self._jobs.get(msg[1]) or (worker.job if worker.job is not None and worker.job.id == msg[1] else None)
            if job is None:
                return
            if kind == "events":
                for event in msg[2]:
                    job.apply(event)
            elif kind == "done":
                job.end(msg[2])
                self._finish(worker, job)

    def _finish(self, worker: _Worker, job: JobState) -> None:
        """The job is over: free its worker and its place in line (lock held)."""
        worker.job = None
        line = self._line.get(job.slot, [])
        if job.id in line:
            line.remove(job.id)
        self._cond.notify_all()
        self._dispatch()

    def _on_exit(self, worker: _Worker, code: int) -> None:
        """A worker process ended: if it had a job, the job fails (or ends KILLED when forced) and its
        open runs are closed."""
        with self._cond:
            if worker in self._workers:
                self._workers.remove(worker)
            job = worker.job
            if job is None or job.done:
                self._cond.notify_all()
                return
            forced = job.id in self._forced
            runs = job.open_runs
            if forced:
                ending = Ending(KILLED, message="stopped by force")
            else:
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                text = (f"The training's worker process ended unexpectedly ({how}: killed, or out of memory?). "
                        "What it had tracked is kept; its run is marked FAILED.")
                ending = Ending(FAILED, error=text, error_type="WorkerDied", message="failed")
            job.end(ending)
            self._finish(worker, job)
        if runs:
            threading.Thread(target=_close_runs, args=(runs, "KILLED" if forced else "FAILED", ending.error or ""),
                             daemon=True).start()


def _close_runs(runs: dict[str, str], status: str, error: str) -> None:
    from core import tracking

    for run_id, uri in runs.items():
        with contextlib.suppress(Exception):  # the store may be gone too; the next start-up closes the run
            tracking.end_run(run_id, status, error, uri=uri)


__all__ = ["DONE", "LocalRunner"]
