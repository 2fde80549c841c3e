"""The learning-rate finder: Leslie Smith's LR range test, as fast.ai's ``lr_find`` runs it.

Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017), section 3.3: train for a
few hundred mini-batches while the learning rate grows from tiny to huge, and watch the loss. At
first nothing happens (the rate is too small to move the weights), then the loss falls faster and
faster, and past some rate it turns and explodes. A good rate to train with sits where the loss
falls fastest — before the minimum, not at it.

How the sweep goes (fast.ai's ``LRFinder`` callback):

- the rate of step ``i`` of ``n`` is ``lr_min·(lr_max/lr_min)^(i/(n−1))`` — an exponential schedule,
  the same points as ``np.geomspace(lr_min, lr_max, n)`` (:func:`lr_schedule`);
- the loss is smoothed with a bias-corrected exponential moving average,
  ``avg = β·avg + (1−β)·loss``, ``smoothed = avg / (1 − β^(i+1))`` (:func:`smooth_losses`, the lab's
  one debiased EMA, :func:`core.runs.smooth`);
- the sweep ends early once the smoothed loss is more than ``stop_factor`` (4) times the best seen so
  far, or when a loss is NaN or infinite: past that point the rate is only too large, and the network
  is a throw-away copy, so this is the sweep's planned end rather than a failed training;
- the suggestion (:func:`suggest`) is the rate where the smoothed loss falls fastest against
  ``log(lr)`` (fast.ai's ``steep``: the minimum of its gradient), skipping the first tenth of the
  sweep; the minimum-loss rate divided by 10 is reported beside it (fast.ai's older rule of thumb).

The sweep runs on a fresh copy of the page's network, built exactly as the page's training would
build it (same data, model, optimizer and seed), through the one loop (:class:`FinderStep` in a
:class:`core.training.Loop`) as one tracked run of kind ``lr-finder``: the rate, the loss and the
smoothed loss per step, the suggestion as metrics, and a PNG of loss against rate. The CNN and the
transfer-learning pages start it with :func:`find_cnn_lr` and :func:`find_transfer_lr`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.cnn.data import prepare_images
from core.cnn.training import PAGE as CNN_PAGE
from core.cnn.training import TrainConfig, prepared_network
from core.device import autocast, pick_device, seed_everything
from core.experiment import FINISHED, KILLED, LaneRun, LaneSlot, RunOutcome
from core.jobs import JobContext
from core.optimizers.rules import make_optimizer
from core.runs import smooth
from core.settings import Settings, setting
from core.training import Loop, LossFn, Step
from core.transfer import backbones as B
from core.transfer.data import prepare
from core.transfer.training import PAGE as TRANSFER_PAGE
from core.transfer.training import TransferJob, lane_network, lane_optimizer, pooled_features

KIND = "lr-finder"
SKIP_START = 0.1  # the share of the planned steps left out of the suggestion (fast.ai: num_it // 10)


@dataclass(frozen=True)
class LrFinderConfig(Settings):
    """One sweep of the learning-rate finder (also the tracked run's params, under ``sweep.*``)."""

    lr_min: float = setting(1e-6, lo=1e-8, hi=1.0, above=True, fmt="%g", label="Smallest rate",
                            help="Where the sweep starts: small enough that the loss does not move yet.")
    lr_max: float = setting(10.0, lo=1e-4, hi=100.0, fmt="%g", label="Largest rate",
                            help="Where the sweep would end; it usually stops before, once the loss explodes.")
    steps: int = setting(100, lo=10, hi=500, label="Sweep steps",
                         help="Mini-batches in the sweep, one rate each; 100 is fast.ai's default.")
    beta: float = setting(0.98, lo=0.0, hi=0.999, fmt="%g", label="Smoothing β",
                          help="How much the loss curve is smoothed (a bias-corrected moving average).")
    stop_factor: float = setting(4.0, lo=1.5, hi=100.0, label="Stop when the loss is this many times the best")

    def check(self) -> None:
        if self.lr_min >= self.lr_max:
            raise ValueError(f"the smallest rate ({self.lr_min:g}) must be below the largest ({self.lr_max:g})")


def lr_schedule(lr_min: float, lr_max: float, n: int) -> np.ndarray:
    """The ``n`` rates of an exponential sweep from ``lr_min`` to ``lr_max`` (both included):
    ``lr_min·(lr_max/lr_min)^(i/(n−1))`` for i = 0…n−1, [n]."""
    if not (lr_min > 0 and lr_max > lr_min and math.isfinite(lr_max)):
        raise ValueError(f"the rates must satisfy 0 < lr_min < lr_max, got {lr_min:g} and {lr_max:g}")
    if n < 2:
        raise ValueError(f"a sweep needs at least 2 steps, got {n}")
    return lr_min * (lr_max / lr_min) ** (np.arange(n) / (n - 1))


def smooth_losses(losses: Sequence[float] | np.ndarray, beta: float = 0.98) -> np.ndarray:
    """fast.ai's smoothed loss [n]: ``avg = β·avg + (1−β)·loss``, ``smoothed_i = avg / (1 − β^(i+1))``."""
    return smooth(losses, beta)


@dataclass(frozen=True)
class Suggestion:
    """What the finder suggests: ``steep`` (where the smoothed loss falls fastest against log lr),
    ``minimum`` (the rate of the lowest smoothed loss, divided by 10) and the index of each point."""

    steep: float
    minimum: float
    steep_index: int
    minimum_index: int


def suggest(lrs: Sequence[float] | np.ndarray, smoothed: Sequence[float] | np.ndarray,
            skip_start: int = 0) -> Suggestion:
    """The suggested rates from a sweep's rates [n] and smoothed losses [n].

    ``steep`` is the rate at the minimum of d(loss)/d(log lr) (``np.gradient`` on the log rates),
    looked for after the first ``skip_start`` points; ``minimum`` is the rate of the lowest smoothed
    loss / 10. Points after the first non-finite loss are dropped. ``ValueError`` when fewer than 3
    usable points remain (the sweep stopped almost at once: start from a smaller rate).
    """
    lrs, loss = np.asarray(lrs, float), np.asarray(smoothed, float)
    if lrs.shape != loss.shape or lrs.ndim != 1:
        raise ValueError(f"rates and losses must be two lists of one length, got {lrs.shape} and {loss.shape}")
    if skip_start < 0:
        raise ValueError("skip_start must be 0 or more")
    bad = np.flatnonzero(~np.isfinite(loss) | ~np.isfinite(lrs) | (lrs <= 0))
    end = int(bad[0]) if len(bad) else len(loss)
    start = skip_start if end - skip_start >= 3 else 0
    if end - start < 3:
        raise ValueError(f"the sweep has only {end} usable steps: too few to suggest a rate "
                         "(start it from a smaller rate)")
    grads = np.gradient(loss[start:end], np.log(lrs[start:end]))
    steep = start + int(np.argmin(grads))
    low = start + int(np.argmin(loss[start:end]))
    return Suggestion(float(lrs[steep]), float(lrs[low] / 10), steep, low)


def view_range(losses: Sequence[float], smoothed: Sequence[float]) -> tuple[float, float] | None:
    """The loss axis's range for a sweep's chart: from the lowest loss to 1.5× the first smoothed loss (the
    start of the explosion stays in view without flattening the rest), padded by 5 %; None without data."""
    both = np.concatenate([np.asarray(losses, float), np.asarray(smoothed, float)])
    both, first = both[np.isfinite(both)], np.asarray(smoothed, float)[:1]
    if not len(both) or not len(first) or not np.isfinite(first[0]) or first[0] <= 0:
        return None
    lo, hi = float(both.min()), float(min(both.max(), 1.5 * first[0]))
    pad = 0.05 * max(hi - lo, 1e-9)
    return lo - pad, hi + pad


class FinderStep(Step):
    """One step of the sweep: set the next rate (every parameter group keeps its ratio to the first,
    so a fine-tuned body stays at its share of the head's rate), a random mini-batch through the model,
    backward and ``optimizer.step()``. Reports ``loss``, ``lr`` and ``smoothed`` (the bias-corrected
    EMA); ``batches`` ends when the rates are used up, when the smoothed loss passes ``stop_factor``
    times its best, or at a NaN/inf loss (then the step reports nothing and ``ended`` says why)."""

    monitor = "loss"

    def __init__(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer,
                 sweep: LrFinderConfig, *, loss_fn: LossFn = F.cross_entropy, batch_size: int = 64,
                 device: torch.device | None = None, seed: int = 0, amp: bool = True) -> None:
        X, y = train
        if len(y) == 0:
            raise ValueError("the training set is empty")
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.device = device or pick_device()
        self.model = model.to(self.device)
        self.X, self.y = X.to(self.device), y.to(self.device)
        self.optimizer, self.loss_fn, self.amp = optimizer, loss_fn, amp
        self.batch_size = min(batch_size, len(y))
        self.sweep = sweep
        self.lrs = lr_schedule(sweep.lr_min, sweep.lr_max, sweep.steps)
        first = optimizer.param_groups[0]["lr"]
        self.scales = [g["lr"] / first if first > 0 else 1.0 for g in optimizer.param_groups]
        self.generator = torch.Generator().manual_seed(seed)
        self.done = 0  # steps taken
        self._avg, self.best = 0.0, math.inf
        self.ended = ""  # "" (all rates used), "exploded" (past stop_factor × best) or "non-finite"

    def batches(self, epoch: int):
        self.model.train()
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator)
        pos = 0
        while self.done < len(self.lrs) and not self.ended:
            if pos + self.batch_size > n:  # a new pass over the data
                order, pos = torch.randperm(n, generator=self.generator), 0
            idx = order[pos: pos + self.batch_size].to(self.device)
            pos += self.batch_size
            yield self.X[idx], self.y[idx]

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        xb, yb = batch
        lr = float(self.lrs[self.done])
        for group, scale in zip(self.optimizer.param_groups, self.scales, strict=True):
            group["lr"] = lr * scale
        with autocast(self.device, self.amp):
            out = self.model(xb)
        loss = self.loss_fn(out.float(), yb)
        value = loss.item()  # the stop rule needs it now (a sweep is ~100 steps: one sync each is cheap)
        if not math.isfinite(value):
            self.ended = "non-finite"
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.done += 1
        beta = self.sweep.beta
        self._avg = beta * self._avg + (1 - beta) * value
        smoothed = self._avg / (1 - beta ** self.done)
        self.best = min(self.best, smoothed)
        if smoothed > self.sweep.stop_factor * self.best:
            self.ended = "exploded"
        on = self.device  # the loop stacks a step's values: all on the loss's device
        return {"loss": loss.detach(), "lr": torch.tensor(lr, device=on), "smoothed": torch.tensor(smoothed, device=on)}


@dataclass
class FinderResult(RunOutcome):
    """A sweep's outcome as plain data: the rates, raw and smoothed losses per step, the suggestion
    (``None`` when the sweep was too short or stopped), how it ended and its tracked run."""

    page: str
    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: Suggestion | None = None
    ended: str = ""
    run_id: str | None = None
    status: str = FINISHED
    error: str | None = None


def sweep(slot: LaneSlot | JobContext | None, page: str, params: Any, model: nn.Module,
          train: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer, cfg: LrFinderConfig, *,
          batch_size: int, name: str = "LR finder", run_name: str | None = None,
          tags: Mapping[str, str] | None = None, loss_fn: LossFn = F.cross_entropy,
          device: torch.device | None = None, seed: int = 0) -> FinderResult:
    """Run the LR range test on ``model`` (a throw-away copy: its weights are changed) as one tracked run
    of kind ``lr-finder`` in ``page``'s experiment; live series ``lr_finder`` (``step, lr, loss,
    smoothed``). Never raises for Stop: the result is KILLED with what was swept."""
    step = FinderStep(model, train, optimizer, cfg, loss_fn=loss_fn, batch_size=batch_size, device=device, seed=seed)
    loop = Loop(step, sync_every=1)
    result = FinderResult(page)
    with LaneRun(slot, page, params, name=name, run_name=run_name or name, series="lr_finder", epochs=False,
                 tags={tracking.TAG_KIND: KIND, **(tags or {})}, logged={"smoothed": "smoothed_loss"}) as lane:
        lane.fit(loop, 1, total_steps=cfg.steps)
        hist = lane.history
        result.losses = list(hist.step_loss)
        result.lrs = list(hist.step_values.get("lr", []))
        result.smoothed = list(hist.step_values.get("smoothed", []))
        result.ended = step.ended
        if lane.lane.status == FINISHED:
            try:
                result.suggestion = suggest(result.lrs, result.smoothed, int(cfg.steps * SKIP_START))
            except ValueError as exc:
                lane.run.warnings.append(f"No suggestion: {exc}.")
            if result.suggestion is not None:
                lane.run.log_metrics({"suggested_lr": result.suggestion.steep,
                                      "min_loss_lr_div10": result.suggestion.minimum}, hist.steps_done)
        if result.lrs:
            lane.run.log_figure("lr_finder_png", "lr_finder", result.lrs, result.losses, result.smoothed,
                                None if result.suggestion is None else result.suggestion.steep,
                                title=run_name or name, ylim=view_range(result.losses, result.smoothed))
    result.status, result.error, result.run_id = lane.lane.status, lane.lane.error, lane.lane.run_id
    return result


# --------------------------------------------------------------------------- the two pages' sweeps


def _check_types(setup: Any, kind: type, sweep: Any) -> None:
    if not isinstance(setup, kind):
        raise ValueError(f"the finder needs the page's {kind.__name__}, got {type(setup).__name__}")
    if not isinstance(sweep, LrFinderConfig):
        raise ValueError(f"the sweep's settings must be an LrFinderConfig, got {type(sweep).__name__}")


@dataclass(frozen=True)
class CnnFinderJob(Settings):
    """The CNN page's sweep (plain data): the page's training settings and the sweep's."""

    train: TrainConfig
    sweep: LrFinderConfig = field(default_factory=LrFinderConfig)

    def check(self) -> None:
        _check_types(self.train, TrainConfig, self.sweep)


def find_cnn_lr(ctx: JobContext | None, job: CnnFinderJob, device: torch.device | None = None) -> FinderResult:
    """The LR range test for the CNN page's training set-up (a job function): the network, data,
    optimizer, mini-batch size and seed of ``job.train``, built as :func:`core.cnn.training.run_cnn`
    builds them, swept as one tracked run in the *cnn* experiment."""
    cfg = job.train
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"preparing {cfg.dataset}")
    data = prepare_images(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    model, xt, _ = prepared_network(cfg, data, device)
    yt = data.train[1].to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    params = {**asdict(cfg), "sweep": asdict(job.sweep), "device": str(device)}
    return sweep(ctx, CNN_PAGE, params, model, (xt, yt), opt, job.sweep, batch_size=cfg.batch_size,
                 run_name=f"LR finder: {cfg.model} on {cfg.dataset}", device=device, seed=cfg.seed)


@dataclass(frozen=True)
class TransferFinderJob(Settings):
    """The transfer-learning page's sweep (plain data): the page's training job (settings and the
    learner's pictures) and the sweep's settings."""

    job: TransferJob
    sweep: LrFinderConfig = field(default_factory=LrFinderConfig)

    def check(self) -> None:
        _check_types(self.job, TransferJob, self.sweep)


def find_transfer_lr(ctx: JobContext | None, job: TransferFinderJob, *,
                     state: Mapping[str, torch.Tensor] | None = None,
                     device: torch.device | None = None) -> FinderResult:
    """The LR range test for the transfer page's set-up (a job function): the pretrained lane's network
    (frozen or partly fine-tuned; from scratch when the ImageNet weights are not here), its optimizer
    (the body at ``lr·factor``: the sweep keeps that ratio) on the learner's pictures; a frozen body
    without augmentation sweeps the new layer on features computed once, as the training does."""
    cfg = job.job.cfg
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, "preparing the images")
    data = prepare(job.job.classes(), cfg.image_size, cfg.dev_fraction, cfg.seed)
    if cfg.pretrained and state is None:
        state = B.load_state(cfg.backbone)
    state = state if cfg.pretrained else None
    model, cached = lane_network(cfg, len(data.names), state, device)
    opt = lane_optimizer(model, cfg, state is not None)
    train = data.train
    trained: nn.Module = model
    if cached:
        features = pooled_features(model, data.train[0], device, LaneSlot.of(ctx), (0.0, 0.0))
        if features is None:  # Stop while the features were computed: nothing was swept
            return FinderResult(TRANSFER_PAGE, status=KILLED)
        train, trained = (features, data.train[1]), model.head
    seed_everything(cfg.seed)
    params = {**asdict(cfg), "sweep": asdict(job.sweep), "device": str(device)}
    return sweep(ctx, TRANSFER_PAGE, params, trained, train, opt, job.sweep, batch_size=cfg.batch_size,
                 run_name=f"LR finder: {cfg.backbone}, {cfg.method if state is not None else 'from scratch'}",
                 device=device, seed=cfg.seed)
