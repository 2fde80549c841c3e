"""Tracked trainings ("lanes") and the one runner for a comparison of lanes.

:class:`LaneRun` is one tracked training of any method: it opens a run in the page's experiment,
drives a :class:`core.training.Loop` while :class:`LiveMetrics` feeds the run and the job's live
view, and closes the run FINISHED, FAILED (the divergence sentence) or KILLED (Stop). Stop and
divergence end there: the lane's :class:`Lane` outcome says what happened, the job reports a
divergence with ``ctx.diverged`` (the page shows every one the same way), and nothing is raised.
:func:`train_tracked` is the supervised lane (a model, an optimizer and data).

:func:`run_comparison` runs a list of :class:`LanePlan` as one job: each lane gets its share of
the progress bar and the comparison's tag (the Runs page groups them); a Stop ends the current
lane KILLED and skips the rest. It hands back a :class:`Comparison`, a typed partial outcome.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.device import synchronize
from core.jobs.api import JobContext, Outcome
from core.training import (
    Callback,
    EarlyStopping,
    History,
    Loop,
    LossFn,
    SupervisedStep,
    TrainingCancelled,
    TrainingDiverged,
    evaluate,
)

FINISHED, FAILED, KILLED, SKIPPED = "FINISHED", "FAILED", "KILLED", "SKIPPED"


@dataclass
class Lane:
    """The outcome of one tracked training (plain data)."""

    name: str
    status: str = SKIPPED  # FINISHED | FAILED | KILLED | SKIPPED
    run_id: str | None = None
    history: History = field(default_factory=History, repr=False)
    error: str | None = None
    measures: dict[str, float] = field(default_factory=dict, repr=False)  # of the returned model (FINISHED)
    # what a page keeps of the lane beyond its history and measures (plain data): the optimizer and α of a
    # race lane, a transfer lane's confusion matrix and dev probabilities, …
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def steps(self) -> int:
        return self.history.steps_done

    @property
    def finished(self) -> bool:
        return self.status == FINISHED

    @property
    def stopped(self) -> bool:
        return self.status == KILLED

    @property
    def dev_accuracy(self) -> float | None:
        """Of the returned model (the best epoch's with early stopping), else the last epoch's."""
        return self.measures.get("final_dev_accuracy", self.history.last("dev_accuracy"))

    @property
    def dev_loss(self) -> float | None:
        return self.measures.get("final_dev_loss", self.history.last("dev_loss"))

    @property
    def seconds_per_epoch(self) -> float | None:
        e = self.history.epochs
        return sum(r["seconds"] for r in e) / len(e) if e else None


@dataclass(frozen=True)
class LaneSlot:
    """Where a lane runs: the job's context, the comparison it belongs to (its runs get the
    comparison tag) and its share of the job's progress bar."""

    ctx: JobContext | None = None
    comparison: str | None = None
    span: tuple[float, float] = (0.0, 1.0)

    @staticmethod
    def of(where: LaneSlot | JobContext | None) -> LaneSlot:
        return where if isinstance(where, LaneSlot) else LaneSlot(where)

    @property
    def tags(self) -> dict[str, str]:
        return {tracking.TAG_COMPARISON: self.comparison} if self.comparison else {}

    def report(self, fraction: float, message: str | None = None) -> None:
        """Progress ``fraction`` (0–1) of this lane, mapped into its span of the bar."""
        if self.ctx is not None:
            lo, hi = self.span
            self.ctx.report(lo + (hi - lo) * min(max(fraction, 0.0), 1.0), message)


class LiveMetrics(Callback):
    """Feeds a loop's steps and epochs to a tracked run and to the job's live view.

    Per step: the step's values to MLflow (batched by the run; a supervised ``loss`` is logged as
    ``train_loss``) and a row ``step, epoch, **values`` to ``series`` in the job's snapshot; the
    progress bar moves within the slot's span (``total_steps`` = 100 %). Per epoch: the epoch record
    logged with the epoch as its step (``epoch_train_loss``, ``epoch_seconds``, ``dev_loss``, …) and
    pushed to ``f"{series}/epochs"``.
    """

    def __init__(self, slot: LaneSlot | JobContext | None, run: Any = None, *, series: str = "train",
                 total_steps: int = 1, logged: Mapping[str, str] | None = None, epochs: bool = True) -> None:
        self.slot = LaneSlot.of(slot)
        self.ctx, self.run, self.series = self.slot.ctx, run, series
        self.total = max(total_steps, 1)
        self.logged = {"loss": "train_loss"} if logged is None else dict(logged)
        self.epochs = epochs  # False for a method whose one "epoch" is the whole run (style transfer)

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        if self.run is not None:
            self.run.log_metrics({self.logged.get(k, k): v for k, v in values.items()}, step)
        if self.ctx is not None:
            self.ctx.push(self.series, step=step, epoch=epoch, **values)
            self.slot.report(step / self.total)

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: Any) -> None:
        if not self.epochs:
            return
        renamed = {"seconds": "epoch_seconds", "train_loss": "epoch_train_loss"}  # keep step-level keys apart
        metrics = {renamed.get(k, k): v for k, v in record.items() if k != "epoch"}
        if self.run is not None:
            self.run.log_metrics(metrics, epoch)
        if self.ctx is not None:
            self.ctx.push(f"{self.series}/epochs", epoch=epoch, **metrics)
            if self.run is not None:
                for w in self.run.warnings:
                    self.ctx.warn(w)


class LaneRun:
    """One tracked training of any method, as a context manager.

    ``with LaneRun(slot, page, params, name=...) as lane:`` opens the run (``lane.run``);
    ``series`` names the live series (default: the lane's name), ``logged`` renames step values for
    MLflow, ``epochs=False`` leaves the epoch records out (a method whose one epoch is the whole run);
    ``lane.fit(loop, epochs)`` drives the loop with :class:`LiveMetrics` and returns True when it
    finished; a Stop or a divergence ends the lane there (KILLED, or FAILED with the sentence,
    reported once through ``ctx.diverged``). Code after ``fit`` in the block may log more; a Stop
    raised by it ends the lane KILLED too. Leaving the block ends the run with the lane's status;
    ``lane.lane`` is the :class:`Lane`.
    """

    def __init__(self, slot: LaneSlot | JobContext | None, page: str, params: Any, *, name: str,
                 run_name: str | None = None, tags: Mapping[str, str] | None = None, resume: str | None = None,
                 series: str | None = None, logged: Mapping[str, str] | None = None, epochs: bool = True) -> None:
        self.slot = LaneSlot.of(slot)
        self.ctx = self.slot.ctx
        self.lane = Lane(name)
        self.series = series or name
        self.logged, self.epochs = logged, epochs
        self.run = tracking.start_run(page, params, run_name=run_name or name, tags={**self.slot.tags, **(tags or {})},
                                      resume=resume)

    @property
    def history(self) -> History:
        return self.lane.history

    def live(self, total_steps: int) -> LiveMetrics:
        return LiveMetrics(self.slot, self.run, series=self.series, total_steps=total_steps, logged=self.logged,
                           epochs=self.epochs)

    def fit(self, loop: Loop, epochs: int, *, total_steps: int | None = None, max_steps: int | None = None,
            live: bool = True) -> bool:
        """Run ``loop`` for ``epochs`` with this lane's live metrics (``live=False``: the loop's own callbacks
        feed the run and the page, for a method with a rhythm of its own); True when it ran to the end."""
        if self.ctx is not None and loop.cancel is None:
            loop.cancel = self.ctx.cancel
        if live:
            loop.callbacks.insert(0, self.live(total_steps or max_steps or epochs))
        self.lane.history = loop.history
        try:
            loop.run(epochs, max_steps=max_steps)
        except TrainingCancelled:
            self.lane.status = KILLED
            return False
        except TrainingDiverged as exc:
            self.diverge(str(exc))
            return False
        self.lane.status = FINISHED
        return True

    def diverge(self, message: str) -> None:
        """The lane diverged: FAILED with ``message``, said once to the job."""
        self.lane.status, self.lane.error = FAILED, message
        if self.ctx is not None:
            self.ctx.diverged(self.lane.name, message)

    def __enter__(self) -> LaneRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        swallow = False
        if isinstance(exc, TrainingCancelled):
            self.lane.status, swallow = KILLED, True
        elif isinstance(exc, TrainingDiverged):
            self.diverge(str(exc))
            swallow = True
        try:
            if exc is not None and not swallow:
                self.run.end("FAILED", f"{type(exc).__name__}: {exc}")
            elif self.lane.status == KILLED:
                self.run.end("KILLED", f"stopped by the user after {self.lane.steps} steps")
            elif self.lane.status == FAILED:
                self.run.end("FAILED", self.lane.error)
            else:
                self.lane.status = FINISHED if self.lane.status == SKIPPED else self.lane.status
                self.run.end("FINISHED")
        finally:
            self.lane.run_id = self.run.run_id  # known once the store has answered
            if self.ctx is not None:
                for w in self.run.warnings:
                    self.ctx.warn(w)
        return swallow


def steps_per_epoch(n_train: int, batch_size: int | None) -> int:
    """Optimisation steps in one epoch (``None`` = full batch)."""
    return 1 if batch_size is None else -(-n_train // max(min(batch_size, n_train), 1))


def series_with_suffix(metrics: Mapping[str, list[dict[str, Any]]], suffix: str) -> dict[str, list[dict[str, Any]]]:
    """The job's series whose name ends with ``suffix``, keyed by the lane name before it:
    ``{"a/epochs": rows} -> {"a": rows}`` for ``suffix="/epochs"``."""
    if not suffix:
        raise ValueError("the suffix must not be empty")
    return {k[: -len(suffix)]: v for k, v in metrics.items() if k.endswith(suffix)}


def train_tracked(
    slot: LaneSlot | JobContext | None,
    page: str,
    params: Any,
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    name: str,
    dev: tuple[torch.Tensor, torch.Tensor] | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    loss_fn: LossFn = F.cross_entropy,
    penalty: Callable[[], torch.Tensor] | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[Callback] = (),
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    device: torch.device | None = None,
    seed: int = 0,
    finish: Callable[[tracking.TrackedRun, nn.Module, History], None] | None = None,
    figure_title: str | None = None,
    colors: Mapping[str, str] | None = None,
    measure_accuracy: bool = True,
) -> Lane:
    """Train ``model`` (supervised) as one tracked lane; returns its :class:`Lane` — FINISHED,
    FAILED (diverged, with the sentence) or KILLED (Stop), never raising for either.

    ``slot``: the job's context, or the :class:`LaneSlot` a comparison gives the lane (its tag
    and progress span). ``params``: the run's params (a config dataclass or mapping). ``name``
    names the live series (``f"{name}/epochs"`` per epoch). ``finish`` runs inside the open run
    after a successful training, to log extra metrics or images. The run gets the final dev and
    train loss/accuracy, inference time per example, seconds per epoch, the best epoch (with early
    stopping), the weights (also of a stopped lane: the page can use what was trained), and a
    loss-curve PNG (also when it diverged or was stopped).
    ``measure_accuracy=False`` is for outputs that are not class scores (embeddings, grids).
    """
    step = SupervisedStep(model, train, optimizer, dev=dev, loss_fn=loss_fn, penalty=penalty, batch_size=batch_size,
                          device=device, seed=seed, measure_accuracy=measure_accuracy)
    loop = Loop(step, callbacks=callbacks, early_stopping=early_stopping)
    with LaneRun(slot, page, params, name=name, run_name=run_name, tags=tags) as lane:
        try:
            if not lane.fit(loop, epochs, total_steps=steps_per_epoch(len(train[1]), batch_size) * epochs):
                if lane.lane.stopped:
                    lane.run.log_state_dict(model)  # what was trained until Stop stays usable
            else:
                hist = lane.history
                lane.lane.measures = final_measures(model, train, dev, loss_fn, measure_accuracy=measure_accuracy)
                final = {"seconds_per_epoch": lane.lane.seconds_per_epoch, **lane.lane.measures}
                if hist.best_epoch is not None:
                    final["best_epoch"] = hist.best_epoch
                lane.run.log_metrics({k: v for k, v in final.items() if v is not None}, hist.steps_done)
                lane.run.log_state_dict(model)
                if finish is not None:
                    finish(lane.run, model, hist)
        finally:
            log_loss_figure(lane.run, lane.lane, figure_title, colors)
    return lane.lane


@dataclass(frozen=True)
class LanePlan:
    """One lane of a comparison: ``train(slot)`` builds and trains it as a tracked lane (passing the
    slot on to :func:`train_tracked` or :class:`LaneRun`) and returns its :class:`Lane`;
    ``label`` is what the progress bar says while it trains (default: the name)."""

    name: str
    train: Callable[[LaneSlot], Lane]
    label: str = ""


class RunOutcome(Outcome):
    """A job result that is one tracked run's: its ``status`` is the run's (FINISHED; FAILED, with the
    divergence sentence in ``error``; KILLED by Stop), so Stop and divergence are read from it."""

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.status == KILLED

    @property
    def diverged(self) -> bool:
        return self.status == FAILED


C = TypeVar("C", bound="Comparison")


@dataclass
class Comparison(Outcome):
    """Lanes trained as one job under one comparison tag; the lanes after a Stop are SKIPPED."""

    comparison: str
    lanes: list[Lane] = field(default_factory=list)
    cut: bool = False  # Stop came between two lanes: the rest were skipped without one being KILLED

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.cut or any(lane.status == KILLED for lane in self.lanes)

    def lane(self, name: str) -> Lane | None:
        return next((lane for lane in self.lanes if lane.name == name), None)

    def extended(self, cls: type[C], *, lanes: list[Lane] | None = None, **extra: Any) -> C:
        """This comparison as a page's result type ``cls`` with its own ``extra`` fields; the tag, the lanes
        (or ``lanes``, the same lanes as the page's type) and a Stop between two lanes are kept."""
        return cls(comparison=self.comparison, lanes=self.lanes if lanes is None else lanes, cut=self.cut, **extra)


def new_comparison(prefix: str) -> str:
    """A fresh comparison tag, ``"{prefix}-{8 hex digits}"``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_comparison(ctx: JobContext | None, plans: Sequence[LanePlan], *, comparison: str,
                   span: tuple[float, float] = (0.0, 1.0)) -> Comparison:
    """Train ``plans`` one after the other as one job: lane ``i`` of ``n`` gets the progress span
    ``(i/n, (i+1)/n)`` (within ``span``) and the ``comparison`` tag. A diverged lane is FAILED and
    the next one trains; a Stop ends the current lane KILLED and skips the rest."""
    result = Comparison(comparison)
    lo, hi = span
    n = len(plans)
    for i, plan in enumerate(plans):
        if not result.stopped and ctx is not None and ctx.cancel.cancelled:
            result.cut = True
        if result.stopped:
            result.lanes.append(Lane(plan.name, SKIPPED))
            continue
        slot = LaneSlot(ctx, comparison, (lo + (hi - lo) * i / n, lo + (hi - lo) * (i + 1) / n))
        slot.report(0.0, f"training {plan.label or plan.name} ({i + 1} of {n})")
        result.lanes.append(plan.train(slot))
    return result


def confusion_matrix(y_true: Any, y_pred: Any, n_classes: int) -> np.ndarray:
    """Counts [K, K]: entry (i, j) = examples of true class i predicted as j (the lab's one way to
    count a confusion matrix; labels as tensors or arrays of class indices)."""
    idx = np.asarray(torch.as_tensor(y_true).long().cpu()) * n_classes + np.asarray(torch.as_tensor(y_pred).long().cpu())
    return np.bincount(idx.ravel(), minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def final_measures(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    dev: tuple[torch.Tensor, torch.Tensor] | None,
    loss_fn: LossFn = F.cross_entropy,
    measure_accuracy: bool = True,
) -> dict[str, float]:
    """What every finished run records besides its curves, all measured on the model as it
    is returned (with early stopping: the best epoch's weights) in eval mode: the final
    train and dev loss and accuracy (for bias/variance diagnosis) and the inference time
    per example on the dev set (best of 3, for satisficing metrics)."""
    ev = evaluate(model, train[0], train[1], loss_fn, measure_accuracy=measure_accuracy)
    out = {"final_train_loss": ev["loss"]}
    if measure_accuracy:
        out["final_train_accuracy"] = ev["accuracy"]
    if dev is not None and len(dev[1]):
        ev = evaluate(model, dev[0], dev[1], loss_fn, measure_accuracy=measure_accuracy)
        out["final_dev_loss"] = ev["loss"]
        if measure_accuracy:
            out["final_dev_accuracy"] = ev["accuracy"]
    X = dev[0] if dev is not None and len(dev[1]) else train[0]
    X = X[:2048]
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    best = float("inf")
    with torch.no_grad():
        for _ in range(3):
            synchronize(device)
            t0 = time.perf_counter()
            model(X.to(device))
            synchronize(device)
            best = min(best, time.perf_counter() - t0)
    model.train(was)
    out["inference_ms_per_example"] = 1000 * best / max(len(X), 1)
    return out


def log_loss_figure(run: tracking.TrackedRun, lane: Lane, title: str | None = None,
                    colors: Mapping[str, str] | None = None) -> None:
    """The lane's loss per step as a PNG artifact (MLflow's UI shows it offline too); never fails the run."""
    losses = lane.history.step_loss
    if not losses:
        return
    steps = range(1, len(losses) + 1)
    run.log_curves({lane.name: (steps, losses)}, "loss_curve", title=title or lane.name, log_y=True, colors=colors,
                   smoothing=0.9 if len(losses) > 200 else 0.0)
