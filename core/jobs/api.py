"""The job API that every runner shares: what a job is, how it reports, and what a page sees of it.

A job is ``fn(ctx, cfg)``: ``fn`` is importable by name (:func:`job_name`), ``cfg`` and the result
are plain picklable data (numbers, arrays for the charts, run ids — never a network or an
optimizer). The job reports through its :class:`JobContext` (progress, live metric rows, images,
warnings, diverged lanes) and checks ``ctx.cancel`` every step; a page polls a
:class:`JobSnapshot`, asking only for what changed since its last poll (:class:`Cursor`).

A result that subclasses :class:`Outcome` says how the work ended: ``stopped`` (the user pressed
Stop and the result holds what was done) makes the job KILLED. A diverged training is not a
failed job: its run ends FAILED with the sentence, the lane says so in the result, and the
job reports it with :meth:`JobContext.diverged` so every page shows it the same way.
"""

from __future__ import annotations

import abc
import importlib
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.identity import LOCAL
from core.training import CancelToken, TrainingCancelled, TrainingDiverged

QUEUED, RUNNING, FINISHED, FAILED, KILLED = "queued", "running", "finished", "failed", "killed"
DONE = (FINISHED, FAILED, KILLED)

JobFn = Callable[[Any, Any], Any]


class Outcome:
    """Base of job results that can end stopped: ``stopped`` is True when the user pressed Stop
    and the result holds the part that was done (the job then ends KILLED)."""

    stopped: bool = False


def job_name(fn: JobFn) -> str:
    """``"module:qualname"`` of a module-level function, the form a job crosses a process with;
    ``ValueError`` for lambdas, closures and bound partials (put their inputs into the config)."""
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        raise ValueError(f"a job's function must be a module-level function importable by name, got {fn!r}")
    if resolve(f"{module}:{qualname}") is not fn:
        raise ValueError(f"{module}:{qualname} does not name the function given")
    return f"{module}:{qualname}"


def resolve(name: str) -> JobFn:
    """The function named ``"module:qualname"``."""
    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Cursor:
    """What a poller has already seen of a job: rows per series, and the image and message versions."""

    rows: Mapping[str, int] = field(default_factory=dict)
    images: int = 0
    warnings: int = 0
    diverged: int = 0


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state. Asked with a :class:`Cursor`, ``metrics`` holds only the
    rows after it, ``images`` only the images changed since, and ``cursor`` is where the next poll
    starts; asked without one, everything."""

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
    diverged: tuple[tuple[str, str], ...] = ()  # (lane, sentence) for every training that diverged
    cursor: Cursor = field(default_factory=Cursor)
    owner: str = LOCAL  # the user the job belongs to

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def elapsed_s(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started


class JobContext(abc.ABC):
    """What a job function reports through. Events are recorded by ``_emit``: the worker process
    buffers and sends them to the app; :class:`Recorder` keeps them in memory (direct calls)."""

    def __init__(self) -> None:
        self.cancel = CancelToken()

    @abc.abstractmethod
    def _emit(self, event: tuple) -> None:
        """Record one event: ``("report", progress, message)``, ``("push", series, row)``, ``("image", name,
        image)``, ``("warn", message)``, ``("diverged", lane, sentence)`` or ``("run", run_id, uri, status)``."""

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        self._emit(("report", None if progress is None else min(max(float(progress), 0.0), 1.0), message))

    def push(self, series: str, **values: float) -> None:
        """Append one row (e.g. ``step=12, loss=0.3``) to a live metric series."""
        self._emit(("push", series, values))

    def image(self, name: str, image: Any) -> None:
        self._emit(("image", name, image))

    def warn(self, message: str) -> None:
        self._emit(("warn", message))

    def diverged(self, lane: str, message: str) -> None:
        """A training of this job diverged (its run ended FAILED with ``message``)."""
        self._emit(("diverged", lane, message))

    def run_event(self, run_id: str, uri: str, status: str) -> None:
        """A tracked run of this job opened (``RUNNING``) or ended (so a crashed worker's runs can be closed)."""
        self._emit(("run", run_id, uri, status))

    def check_cancel(self) -> None:
        """Raise :class:`TrainingCancelled` if Stop was pressed (for work outside a training loop)."""
        if self.cancel.cancelled:
            raise TrainingCancelled()


class JobState:
    """A job's state as its events build it: what snapshots are cut from."""

    def __init__(self, id: str, page: str, name: str, slot: str = "cpu", owner: str = LOCAL) -> None:
        self.id, self.page, self.name, self.slot, self.owner = id, page, name, slot, owner
        self.status, self.progress, self.message = QUEUED, 0.0, "waiting for a free training slot"
        self.metrics: dict[str, list[dict[str, float]]] = {}
        self.images: dict[str, tuple[int, Any]] = {}  # name -> (version, image)
        self.image_version = 0
        self.warnings: list[str] = []
        self.diverged: list[tuple[str, str]] = []
        self.runs: dict[str, tuple[str, str]] = {}  # run id -> (store uri, status)
        self.error: str | None = None
        self.error_type: str | None = None
        self.traceback: str | None = None
        self.result: Any = None
        self.created, self.started, self.ended = time.time(), None, None

    def apply(self, event: tuple) -> None:
        kind = event[0]
        if kind == "push":
            self.metrics.setdefault(event[1], []).append(event[2])
        elif kind == "report":
            if event[1] is not None:
                self.progress = event[1]
            if event[2] is not None:
                self.message = event[2]
        elif kind == "image":
            self.image_version += 1
            self.images[event[1]] = (self.image_version, event[2])
        elif kind == "warn":
            if event[1] not in self.warnings:
                self.warnings.append(event[1])
        elif kind == "diverged":
            self.diverged.append((event[1], event[2]))
        elif kind == "run":
            self.runs[event[1]] = (event[2], event[3])

    def end(self, ending: Ending) -> None:
        self.status, self.result, self.error = ending.status, ending.result, ending.error
        self.error_type, self.traceback = ending.error_type, ending.traceback
        self.message = ending.message
        self.ended = time.time()
        if ending.status == FINISHED:
            self.progress = 1.0

    @property
    def done(self) -> bool:
        return self.status in DONE

    @property
    def open_runs(self) -> dict[str, str]:
        """Tracked runs this job opened and has not ended: run id -> store uri."""
        return {run: uri for run, (uri, status) in self.runs.items() if status == "RUNNING"}

    def snapshot(self, since: Cursor | None = None, ahead: int = 0) -> JobSnapshot:
        if since is None:
            metrics = {k: list(v) for k, v in self.metrics.items()}
            images = {k: v for k, (_, v) in self.images.items()}
            warnings, diverged = tuple(self.warnings), tuple(self.diverged)
        else:
            metrics = {k: v[since.rows.get(k, 0):] for k, v in self.metrics.items() if len(v) > since.rows.get(k, 0)}
            images = {k: v for k, (ver, v) in self.images.items() if ver > since.images}
            warnings, diverged = tuple(self.warnings[since.warnings:]), tuple(self.diverged[since.diverged:])
        return JobSnapshot(
            id=self.id, page=self.page, name=self.name, status=self.status, progress=self.progress,
            message=self.message, metrics=metrics, images=images, warnings=warnings, error=self.error,
            result=self.result if self.done else None, ahead=ahead if self.status == QUEUED else 0,
            created=self.created, started=self.started, ended=self.ended, error_type=self.error_type,
            diverged=diverged, cursor=self.cursor(), owner=self.owner,
        )

    def cursor(self) -> Cursor:
        """Where a poller that has seen everything up to now stands."""
        return Cursor({k: len(v) for k, v in self.metrics.items()}, self.image_version, len(self.warnings),
                      len(self.diverged))


@dataclass(frozen=True)
class Ending:
    """How a job's function ended: the job's status, its result and, when it failed, why."""

    status: str
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    message: str = "finished"


def run_job(fn: JobFn, ctx: JobContext, cfg: Any) -> Ending:
    """Call ``fn(ctx, cfg)`` and say how it ended; never raises. An exception that carries a
    sentence for the learner (``plain_message = True``) is shown as it is, others with their class."""
    try:
        result = fn(ctx, cfg)
    except TrainingCancelled:
        return Ending(KILLED, message="stopped by the user")
    except TrainingDiverged as exc:  # a job that lets a divergence through: shown as the same sentence
        return Ending(FAILED, error=str(exc), error_type=type(exc).__name__, message=str(exc))
    except Exception as exc:  # noqa: BLE001 - a job's failure is shown, never raised into the app
        plain = getattr(type(exc), "plain_message", False)
        return Ending(FAILED, error=str(exc) if plain else f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                      traceback=traceback.format_exc(), message="failed")
    if isinstance(result, Outcome) and result.stopped:
        return Ending(KILLED, result, message="stopped by the user")
    return Ending(FINISHED, result)


class Recorder(JobContext):
    """A context for calling a job function directly (tests, benchmarks, scripts): its events
    build ``state`` in memory, and ``snapshot()`` reads them as a page would."""

    def __init__(self, page: str = "direct", name: str = "") -> None:
        super().__init__()
        self.state = JobState("direct", page, name or page)
        self.state.status, self.state.started = RUNNING, time.time()

    def _emit(self, event: tuple) -> None:
        self.state.apply(event)

    def snapshot(self) -> JobSnapshot:
        return self.state.snapshot()
