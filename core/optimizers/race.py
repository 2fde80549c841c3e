"""The optimizer race: one network, one initialisation, trained once per chosen optimizer.

Each optimizer's training is its own tracked run in the "optimizers" experiment; all runs
of one race share a ``dll.comparison`` tag, so the Runs page can put them side by side.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core import tracking
from core.data import DATASETS, load_dataset, split_dataset
from core.device import pick_device, seed_everything
from core.jobs import JobContext, LiveMetrics
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.plots.static import curves_png
from core.plots.surfaces import OPTIMIZER_COLORS
from core.training import History, TrainingCancelled, TrainingDiverged, fit

PAGE = "optimizers"
BATCH_REGIMES = ("mini-batch", "full batch", "stochastic")
DEFAULT_LR = {"Gradient descent": 0.1, "Momentum": 0.1, "Adagrad": 0.05, "RMSprop": 0.002, "Adam": 0.002}


@dataclass(frozen=True)
class RaceConfig:
    """Everything that defines a race (logged as the runs' params)."""

    dataset: str = "digits"
    optimizers: tuple[str, ...] = ("Gradient descent", "Momentum", "RMSprop", "Adam")
    learning_rates: tuple[float, ...] = (0.1, 0.1, 0.002, 0.002)
    beta: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    batch_regime: str = "mini-batch"
    batch_size: int = 64
    hidden: tuple[int, ...] = (64,)
    epochs: int = 5
    seed: int = 0
    toy_points: int = 600
    toy_noise: float = 0.15

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown dataset {self.dataset!r}")
        if not self.optimizers:
            raise ValueError("choose at least one optimizer")
        unknown = [o for o in self.optimizers if o not in OPTIMIZERS]
        if unknown:
            raise ValueError(f"unknown optimizer(s): {', '.join(unknown)}")
        if len(self.learning_rates) != len(self.optimizers):
            raise ValueError("give one learning rate per optimizer")
        if any(not lr > 0 for lr in self.learning_rates):
            raise ValueError("learning rates must be positive")
        if self.batch_regime not in BATCH_REGIMES:
            raise ValueError(f"batch regime must be one of {', '.join(BATCH_REGIMES)}")
        if not 1 <= self.epochs <= 200:
            raise ValueError("epochs must be between 1 and 200")
        if not 1 <= self.batch_size <= 100_000:
            raise ValueError("batch size must be between 1 and 100,000")
        if any(not 1 <= h <= 4096 for h in self.hidden) or len(self.hidden) > 6:
            raise ValueError("up to 6 hidden layers of 1 to 4,096 units")

    @property
    def effective_batch_size(self) -> int | None:
        return {"mini-batch": self.batch_size, "full batch": None, "stochastic": 1}[self.batch_regime]


@dataclass
class LaneResult:
    """One optimizer's outcome in a race."""

    optimizer: str
    lr: float
    status: str  # FINISHED | FAILED | KILLED | SKIPPED
    run_id: str | None = None
    steps: int = 0
    dev_accuracy: float | None = None
    dev_loss: float | None = None
    seconds_per_epoch: float | None = None
    error: str | None = None
    step_loss: list[float] = field(default_factory=list, repr=False)
    epochs: list[dict[str, float]] = field(default_factory=list, repr=False)


@dataclass
class RaceResult:
    comparison: str
    lanes: list[LaneResult]
    sizes: dict[str, int]


def build_mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Flatten → (Linear → ReLU) per hidden layer → Linear to class scores."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def _log_lane_figure(run: tracking.TrackedRun, lane: LaneResult) -> None:
    """The lane's loss per step (and dev accuracy per epoch) as a PNG artifact."""
    if not lane.step_loss:
        return
    steps = range(1, len(lane.step_loss) + 1)
    run.log_image(curves_png({lane.optimizer: (steps, lane.step_loss)}, title=f"{lane.optimizer}, α = {lane.lr:g}",
                             log_y=True, colors=OPTIMIZER_COLORS, smoothing=0.9 if steps[-1] > 200 else 0.0),
                  "loss_curve")


def run_race(ctx: JobContext | None, cfg: RaceConfig, device: torch.device | None = None) -> RaceResult:
    """Train the same network once per optimizer (as a background job's function).

    A lane whose loss turns NaN ends FAILED with the message and the race goes on; Stop
    ends the current lane KILLED and skips the rest (the partial result is kept on the
    raised :class:`TrainingCancelled` as ``.result``).
    """
    device = device or pick_device()
    kwargs = {"n": cfg.toy_points, "noise": cfg.toy_noise, "seed": cfg.seed} if DATASETS[cfg.dataset].kind == "points" else {}
    ds = load_dataset(cfg.dataset, **kwargs)
    split = split_dataset(ds, (0.7, 0.15, 0.15), seed=cfg.seed).to(device)
    seed_everything(cfg.seed)
    base = build_mlp(ds.n_features, cfg.hidden, ds.n_classes)
    comparison = f"race-{uuid.uuid4().hex[:8]}"
    result = RaceResult(comparison, [], split.sizes)
    n_train = split.sizes["train"]
    bs = cfg.effective_batch_size
    steps_per_epoch = 1 if bs is None else -(-n_train // min(bs, n_train))
    n_lanes = len(cfg.optimizers)
    params = {k: v for k, v in asdict(cfg).items() if k not in ("optimizers", "learning_rates")}
    for i, (name, lr) in enumerate(zip(cfg.optimizers, cfg.learning_rates, strict=True)):
        lane = LaneResult(name, lr, "SKIPPED")
        result.lanes.append(lane)
        if ctx is not None:
            ctx.report(i / n_lanes, f"training with {name} ({i + 1} of {n_lanes})")
        model = copy.deepcopy(base).to(device)  # identical initial weights in every lane
        opt = make_optimizer(name, model.parameters(), lr, beta=cfg.beta, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps)
        run = tracking.start_run(PAGE, {**params, "optimizer": name, "lr": lr}, run_name=f"{name} lr={lr:g}",
                                 tags={tracking.TAG_COMPARISON: comparison})
        live = LiveMetrics(ctx, run, series=name, steps_per_epoch=steps_per_epoch, epochs=cfg.epochs,
                           progress_span=(i / n_lanes, (i + 1) / n_lanes))
        try:
            with run:  # ends FINISHED, KILLED (Stop) or FAILED (NaN, any error) with the message
                try:
                    hist = fit(model, split.train, opt, dev=split.dev, epochs=cfg.epochs, batch_size=bs,
                               callbacks=[live], cancel=ctx.cancel if ctx else None, device=device, seed=cfg.seed)
                except (TrainingDiverged, TrainingCancelled) as exc:
                    _record(lane, exc.history)
                    _log_lane_figure(run, lane)
                    raise
                _record(lane, hist)
                if lane.dev_accuracy is not None:
                    run.log_metrics({"final_dev_accuracy": lane.dev_accuracy}, hist.steps_done)
                run.log_metrics({"seconds_per_epoch": lane.seconds_per_epoch}, hist.steps_done)
                run.log_state_dict(model)
                _log_lane_figure(run, lane)
            lane.status = "FINISHED"
        except TrainingDiverged as exc:
            lane.status, lane.error = "FAILED", str(exc)
            if ctx is not None:
                ctx.warn(f"{name}: {exc}")
        except TrainingCancelled as exc:
            lane.status = "KILLED"
            result.lanes += [LaneResult(o, r, "SKIPPED") for o, r in list(zip(cfg.optimizers, cfg.learning_rates))[i + 1 :]]
            exc.result = result
            raise
        finally:
            lane.run_id = run.run_id  # known once the store has answered
            if ctx is not None:
                for w in run.warnings:
                    ctx.warn(w)
    return result


def _record(lane: LaneResult, hist: History) -> None:
    """Copy a (possibly partial) training history into the lane."""
    lane.step_loss, lane.epochs, lane.steps = hist.step_loss, hist.epochs, hist.steps_done
    lane.dev_accuracy, lane.dev_loss = hist.last("dev_accuracy"), hist.last("dev_loss")
    if hist.epochs:
        lane.seconds_per_epoch = sum(e["seconds"] for e in hist.epochs) / len(hist.epochs)
