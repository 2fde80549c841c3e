"""Background jobs: a training runs in a worker thread while the page polls its snapshot.

A :class:`JobManager` (one per process, :func:`get_manager`) limits how many trainings
run at once on each device kind (default 1; ``DLL_MAX_JOBS`` overrides); later jobs wait
in line, and their snapshot says how many are ahead. A job keeps going when the browser
tab goes away — it logs to MLflow itself — and can be cancelled at any time.

The job function is called as ``fn(ctx, cfg)``; it reports through the :class:`JobContext`
(progress, message, live metric rows, images, warnings) and checks ``ctx.cancel``.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.training import Callback, CancelToken, TrainingCancelled, TrainingDiverged

QUEUED, RUNNING, FINISHED, FAILED, KILLED = "queued", "running", "finished", "failed", "killed"
DONE = (FINISHED, FAILED, KILLED)


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state, safe to render from another thread."""

    id: str
    page: str
    name: str
    status: str
    progress: float
    message: str
    metrics: dict[str, list[dict[str, float]]]
    images: dict[str, Any]
    warnings: tuple[str, ...]
    error: str | None
    result: Any
    ahead: int  # jobs in line before this one (when queued)
    created: float
    started: float | None
    ended: float | None
    error_type: str | None = None  # the failure's exception class name (the page may offer a way out)

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started


class JobContext:
    """What a job function uses to report; every method is thread-safe and cheap."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self.cancel: CancelToken = job.cancel_token

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        with self._job.lock:
            if progress is not None:
                self._job.progress = min(max(float(progress), 0.0), 1.0)
            if message is not None:
                self._job.message = message

    def push(self, series: str, **values: float) -> None:
        """Append one row (e.g. ``step=12, loss=0.3``) to a live metric series."""
        with self._job.lock:
            self._job.metrics.setdefault(series, []).append(dict(values))

    def image(self, name: str, image: Any) -> None:
        with self._job.lock:
            self._job.images[name] = image

    def warn(self, message: str) -> None:
        with self._job.lock:
            if message not in self._job.warnings:
                self._job.warnings.append(message)

    def check_cancel(self) -> None:
        """Raise :class:`TrainingCancelled` if Stop was pressed (for work outside ``fit``)."""
        if self.cancel.cancelled:
            from core.training import History

            raise TrainingCancelled(History())


@dataclass
class Job:
    id: str
    page: str
    name: str
    slot: str
    fn: Callable[[JobContext, Any], Any] = field(repr=False)
    cfg: Any
    cancel_token: CancelToken = field(default_factory=CancelToken)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    status: str = QUEUED
    progress: float = 0.0
    message: str = "waiting for a free training slot"
    metrics: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    images: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    result: Any = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


class JobManager:
    """Runs jobs in worker threads with at most ``limit`` running per device kind."""

    def __init__(self, limit: int | None = None, keep_done: int = 20) -> None:
        self.limit = int(limit or os.environ.get("DLL_MAX_JOBS") or 1)
        if self.limit < 1:
            raise ValueError("the job limit must be at least 1")
        self.keep_done = keep_done
        self._jobs: dict[str, Job] = {}
        self._line: dict[str, list[str]] = {}  # slot -> job ids waiting or running, in order
        self._running: dict[str, int] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)

    def submit(
        self, page: str, fn: Callable[[JobContext, Any], Any], cfg: Any = None, *, name: str = "", slot: str = "cpu"
    ) -> Job:
        """Queue ``fn(ctx, cfg)``; returns at once with the :class:`Job`."""
        job = Job(id=f"{page}-{next(self._ids)}", page=page, name=name or page, slot=slot, fn=fn, cfg=cfg)
        with self._cond:
            self._jobs[job.id] = job
            self._line.setdefault(slot, []).append(job.id)
            self._forget_old(page)
        job.thread = threading.Thread(target=self._work, args=(job,), name=f"job-{job.id}", daemon=True)
        job.thread.start()
        return job

    def get(self, job_id: str | None) -> Job | None:
        return self._jobs.get(job_id) if job_id else None

    def jobs(self, page: str | None = None) -> list[Job]:
        return [j for j in list(self._jobs.values()) if page is None or j.page == page]

    def cancel(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.cancel_token.cancel()
            with self._cond:
                self._cond.notify_all()

    def snapshot(self, job_id: str) -> JobSnapshot | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        with self._cond:  # the line holds the running jobs first, then the waiting ones in order
            line = self._line.get(job.slot, [])
            ahead = line.index(job.id) - self._running.get(job.slot, 0) if job.id in line else 0
        with job.lock:
            return JobSnapshot(
                id=job.id,
                page=job.page,
                name=job.name,
                status=job.status,
                progress=job.progress,
                message=job.message,
                metrics={k: list(v) for k, v in job.metrics.items()},
                images=dict(job.images),
                warnings=tuple(job.warnings),
                error=job.error,
                error_type=job.error_type,
                result=job.result,
                ahead=max(ahead, 0) if job.status == QUEUED else 0,
                created=job.created,
                started=job.started,
                ended=job.ended,
            )

    def wait(self, job_id: str, timeout: float | None = None) -> JobSnapshot | None:
        """Block until the job ends (for tests and scripts)."""
        job = self._jobs.get(job_id)
        if job is not None and job.thread is not None:
            job.thread.join(timeout)
        return self.snapshot(job_id)

    # -- internals -------------------------------------------------------------------

    def _forget_old(self, page: str) -> None:
        done = [j for j in self._jobs.values() if j.page == page and j.status in DONE]
        for j in sorted(done, key=lambda j: j.created)[: max(len(done) - self.keep_done, 0)]:
            del self._jobs[j.id]

    def _acquire(self, job: Job) -> bool:
        """Wait for the job's turn; False when it was cancelled while waiting."""
        with self._cond:
            while True:
                if job.cancel_token.cancelled:
                    self._line[job.slot].remove(job.id)
                    self._cond.notify_all()
                    return False
                line = self._line[job.slot]
                running = self._running.get(job.slot, 0)
                if running < self.limit and line.index(job.id) == running:
                    self._running[job.slot] = running + 1
                    return True
                self._cond.wait(0.5)

    def _release(self, job: Job) -> None:
        with self._cond:
            self._running[job.slot] -= 1
            self._line[job.slot].remove(job.id)
            self._cond.notify_all()

    def _work(self, job: Job) -> None:
        if not self._acquire(job):
            with job.lock:
                job.status, job.message, job.ended = KILLED, "stopped before it started", time.time()
            return
        with job.lock:
            job.status, job.started, job.message = RUNNING, time.time(), "starting"
        ctx = JobContext(job)
        try:
            result = job.fn(ctx, job.cfg)
        except TrainingCancelled as exc:
            status, error, result = KILLED, None, getattr(exc, "result", None)
            message = "stopped by the user"
        except TrainingDiverged as exc:
            status, error, result, message = FAILED, str(exc), getattr(exc, "result", None), str(exc)
        except Exception as exc:  # noqa: BLE001 - a job's failure is shown, never raised into the app
            # exceptions that carry a sentence for the learner (plain_message = True) are shown as it is
            plain = getattr(exc, "plain_message", False)
            status, error, result = FAILED, str(exc) if plain else f"{type(exc).__name__}: {exc}", None
            job.error_type = type(exc).__name__
            message = "failed"
            job.traceback = traceback.format_exc()
        else:
            status, error, message = FINISHED, None, "finished"
        finally:
            self._release(job)
        with job.lock:
            job.status, job.error, job.result, job.ended = status, error, result, time.time()
            job.message = message
            if status == FINISHED:
                job.progress = 1.0


@functools.cache
def get_manager() -> JobManager:
    """The process-wide job manager (one training slot per device kind by default)."""
    return JobManager()


class LiveMetrics(Callback):
    """Feeds a training's steps and epochs to a tracked run and to the job's live view.

    Per step: ``train_loss`` to MLflow (batched by the run) and a row to ``series`` in the
    job snapshot. Per epoch: the epoch record logged with the epoch as its step, as
    ``epoch_train_loss``, ``epoch_seconds``, ``dev_loss``, ``dev_accuracy``. ``progress`` maps (epoch, step) to the job's bar.
    """

    def __init__(
        self,
        ctx: JobContext | None,
        run: Any = None,
        *,
        series: str = "train",
        steps_per_epoch: int = 1,
        epochs: int = 1,
        progress_span: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        self.ctx, self.run, self.series = ctx, run, series
        self.total = max(steps_per_epoch * epochs, 1)
        self.lo, self.hi = progress_span

    def on_step(self, step: int, epoch: int, loss: float) -> None:
        if self.run is not None:
            self.run.log_metrics({"train_loss": loss}, step)
        if self.ctx is not None:
            self.ctx.push(self.series, step=step, epoch=epoch, loss=loss)
            self.ctx.report(self.lo + (self.hi - self.lo) * min(step / self.total, 1.0))

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: Any) -> None:
        renamed = {"seconds": "epoch_seconds", "train_loss": "epoch_train_loss"}  # keep step-level keys apart
        metrics = {renamed.get(k, k): v for k, v in record.items() if k != "epoch"}
        if self.run is not None:
            self.run.log_metrics(metrics, epoch)
        if self.ctx is not None:
            self.ctx.push(f"{self.series}/epochs", epoch=epoch, **metrics)
            if self.run is not None:
                for w in self.run.warnings:
                    self.ctx.warn(w)
