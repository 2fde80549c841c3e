"""Background jobs: the job API (:mod:`core.jobs.api`) and the runner that carries it out.

``get_runner()`` is the process's runner: :class:`~core.jobs.local.LocalRunner`, worker processes
beside the app (the laptop), or, when ``DLL_JOBS=redis://…`` is set, :class:`~core.jobs.queue.QueueRunner`,
RQ over Redis with ``python -m core.worker`` on the GPU machines (a class). Both take the same calls.
Pages reach them through :mod:`ui.jobs`.
"""

from __future__ import annotations

import functools
import os

from core.jobs.api import (
    DONE,
    FAILED,
    FINISHED,
    KILLED,
    QUEUED,
    RUNNING,
    Cursor,
    Ending,
    JobContext,
    JobSnapshot,
    JobState,
    Outcome,
    Recorder,
    job_name,
    resolve,
    run_job,
)
from core.jobs.local import LocalRunner
from core.jobs.queue import JobRefused, QueueRunner

Runner = LocalRunner | QueueRunner


@functools.cache
def local_runner() -> LocalRunner:
    """The worker processes beside the app (one training at a time per device kind by default)."""
    return LocalRunner()


@functools.cache
def get_runner() -> Runner:
    """The process-wide runner: the class's queue when ``DLL_JOBS`` names one, else :func:`local_runner`."""
    url = os.environ.get("DLL_JOBS", "").strip()
    return QueueRunner(url) if url else local_runner()


__all__ = [
    "DONE", "FAILED", "FINISHED", "KILLED", "QUEUED", "RUNNING", "Cursor", "Ending", "JobContext", "JobSnapshot",
    "JobRefused", "JobState", "LocalRunner", "Outcome", "QueueRunner", "Recorder", "Runner", "get_runner", "job_name",
    "local_runner", "resolve", "run_job",
]
