"""Background jobs: the job API (:mod:`core.jobs.api`) and the runner that carries it out.

``get_runner()`` is the process's runner: by default :class:`~core.jobs.local.LocalRunner`,
worker processes beside the app. Pages reach it through :mod:`ui.jobs`.
"""

from __future__ import annotations

import functools

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


@functools.cache
def get_runner() -> LocalRunner:
    """The process-wide runner (one training at a time per device kind by default)."""
    return LocalRunner()


__all__ = [
    "DONE", "FAILED", "FINISHED", "KILLED", "QUEUED", "RUNNING", "Cursor", "Ending", "JobContext", "JobSnapshot",
    "JobState", "LocalRunner", "Outcome", "Recorder", "get_runner", "job_name", "resolve", "run_job",
]
