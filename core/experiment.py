"""One tracked training ("a lane"): the unit every page's experiments are made of.

:func:`train_tracked` opens a run in the page's experiment, trains with :func:`core.training.fit`
while feeding the job's live view, and closes the run FINISHED, FAILED (NaN, with the
message) or KILLED (Stop). A diverged lane is reported and returned, so a comparison can go
on with its other lanes; Stop is re-raised (with the partial lane as ``.lane``) so the
caller can skip the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.device import synchronize
from core.jobs import JobContext, LiveMetrics
from core.plots.static import curves_png
from core.training import Callback, EarlyStopping, History, LossFn, TrainingCancelled, TrainingDiverged, evaluate, fit

FINISHED, FAILED, KILLED, SKIPPED = "FINISHED", "FAILED", "KILLED", "SKIPPED"


@dataclass
class Lane:
    """The outcome of one tracked training."""

    name: str
    status: str = SKIPPED  # FINISHED | FAILED | KILLED | SKIPPED
    run_id: str | None = None
    history: History = field(default_factory=History, repr=False)
    error: str | None = None
    measures: dict[str, float] = field(default_factory=dict, repr=False)  # of the returned model (FINISHED)

    @property
    def steps(self) -> int:
        return self.history.steps_done

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


def series_with_suffix(metrics: Mapping[str, list[dict[str, Any]]], suffix: str) -> dict[str, list[dict[str, Any]]]:
    """The job's series whose name ends with ``suffix``, keyed by the lane name before it:
    ``{"a/epochs": rows} -> {"a": rows}`` for ``suffix="/epochs"``."""
    if not suffix:
        raise ValueError("the suffix must not be empty")
    return {k[: -len(suffix)]: v for k, v in metrics.items() if k.endswith(suffix)}


def steps_per_epoch(n_train: int, batch_size: int | None) -> int:
    """Optimisation steps in one epoch (``None`` = full batch)."""
    return 1 if batch_size is None else -(-n_train // max(min(batch_size, n_train), 1))


def train_tracked(
    ctx: JobContext | None,
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
    progress_span: tuple[float, float] = (0.0, 1.0),
    device: torch.device | None = None,
    seed: int = 0,
    finish: Callable[[tracking.TrackedRun, nn.Module, History], None] | None = None,
    figure_title: str | None = None,
    colors: Mapping[str, str] | None = None,
    measure_accuracy: bool = True,
) -> Lane:
    """Train ``model`` as one tracked run; returns the :class:`Lane`.

    ``params``: the run's params (a config dataclass or mapping). ``name`` names the live
    series (``ctx.push(name, ...)`` per step and ``f"{name}/epochs"`` per epoch). ``finish``
    runs inside the open run after a successful training, to log extra metrics or images.
    The run gets the final dev accuracy/loss, final train accuracy/loss, inference time per
    example, seconds per epoch, the best epoch (with early stopping), the weights, and a
    loss-curve PNG (also when it diverged or was stopped). ``measure_accuracy=False`` is for
    models whose outputs are not class scores (embeddings, detection grids): no accuracy is
    measured or logged, only losses.
    """
    lane = Lane(name)
    run = tracking.start_run(page, params, run_name=run_name or name, tags=tags)
    live = LiveMetrics(ctx, run, series=name, steps_per_epoch=steps_per_epoch(len(train[1]), batch_size),
                       epochs=epochs, progress_span=progress_span)
    try:
        with run:  # FINISHED, KILLED (Stop) or FAILED (NaN, any error) with the message
            try:
                lane.history = fit(model, train, optimizer, dev=dev, loss_fn=loss_fn, penalty=penalty, epochs=epochs,
                                   batch_size=batch_size, callbacks=[live, *callbacks], early_stopping=early_stopping,
                                   cancel=ctx.cancel if ctx else None, device=device, seed=seed,
                                   measure_accuracy=measure_accuracy)
            except (TrainingDiverged, TrainingCancelled) as exc:
                lane.history = exc.history
                _log_figure(run, lane, figure_title, colors)
                raise
            hist = lane.history
            lane.measures = final_measures(model, train, dev, loss_fn, measure_accuracy=measure_accuracy)
            final = {"seconds_per_epoch": lane.seconds_per_epoch, **lane.measures}
            if hist.best_epoch is not None:
                final["best_epoch"] = hist.best_epoch
            run.log_metrics({k: v for k, v in final.items() if v is not None}, hist.steps_done)
            run.log_state_dict(model)
            if finish is not None:
                finish(run, model, hist)
            _log_figure(run, lane, figure_title, colors)
        lane.status = FINISHED
    except TrainingDiverged as exc:
        lane.status, lane.error = FAILED, str(exc)
        if ctx is not None:
            ctx.warn(f"{name}: {exc}")
    except TrainingCancelled as exc:
        lane.status = KILLED
        exc.lane = lane  # the caller gets the partial lane (its run_id is set just below)
        raise
    finally:
        lane.run_id = run.run_id  # known once the store has answered
        if ctx is not None:
            for w in run.warnings:
                ctx.warn(w)
    return lane


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


def _log_figure(run: tracking.TrackedRun, lane: Lane, title: str | None, colors: Mapping[str, str] | None) -> None:
    """The lane's loss per step as a PNG artifact (MLflow's UI shows it offline too)."""
    losses = lane.history.step_loss
    if not losses:
        return
    steps = range(1, len(losses) + 1)
    try:
        run.log_image(curves_png({lane.name: (steps, losses)}, title=title or lane.name, log_y=True, colors=colors,
                                 smoothing=0.9 if len(losses) > 200 else 0.0), "loss_curve")
    except Exception as exc:  # noqa: BLE001 - a figure must never fail a training
        run.warnings.append(f"the loss-curve image could not be drawn ({type(exc).__name__})")
