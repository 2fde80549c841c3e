"""The optimizer race: one network, one initialisation, trained once per chosen optimizer.

Each optimizer's training is its own tracked run in the "optimizers" experiment; all runs
of one race share a ``dll.comparison`` tag, so the Runs page can put them side by side.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass

import torch
from torch import nn

from core import tracking
from core.data import DATASETS, load_dataset, split_dataset
from core.device import pick_device, seed_everything
from core.experiment import KILLED, Lane, train_tracked
from core.jobs import JobContext
from core.nets import mlp
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.plots.surfaces import OPTIMIZER_COLORS
from core.training import TrainingCancelled

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
class LaneResult(Lane):
    """One optimizer's outcome in a race (a :class:`Lane` that knows its optimizer and α)."""

    optimizer: str = ""
    lr: float = 0.0

    @property
    def step_loss(self) -> list[float]:
        return self.history.step_loss

    @property
    def epochs(self) -> list[dict[str, float]]:
        return self.history.epochs


@dataclass
class RaceResult:
    comparison: str
    lanes: list[LaneResult]
    sizes: dict[str, int]


def build_mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Flatten → (Linear → ReLU) per hidden layer → Linear to class scores."""
    return mlp(n_in, hidden, n_out)


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
    bs = cfg.effective_batch_size
    n_lanes = len(cfg.optimizers)
    params = {k: v for k, v in asdict(cfg).items() if k not in ("optimizers", "learning_rates")}
    for i, (name, lr) in enumerate(zip(cfg.optimizers, cfg.learning_rates, strict=True)):
        if ctx is not None:
            ctx.report(i / n_lanes, f"training with {name} ({i + 1} of {n_lanes})")
        model = copy.deepcopy(base).to(device)  # identical initial weights in every lane
        opt = make_optimizer(name, model.parameters(), lr, beta=cfg.beta, beta1=cfg.beta1, beta2=cfg.beta2, eps=cfg.eps)
        try:
            lane = train_tracked(ctx, PAGE, {**params, "optimizer": name, "lr": lr}, model, split.train, opt,
                                 name=name, dev=split.dev, epochs=cfg.epochs, batch_size=bs,
                                 run_name=f"{name} lr={lr:g}", tags={tracking.TAG_COMPARISON: comparison},
                                 progress_span=(i / n_lanes, (i + 1) / n_lanes), device=device, seed=cfg.seed,
                                 figure_title=f"{name}, α = {lr:g}", colors=OPTIMIZER_COLORS)
        except TrainingCancelled as exc:
            result.lanes.append(LaneResult(name, KILLED, exc.lane.run_id, exc.history, optimizer=name, lr=lr))
            result.lanes += [LaneResult(o, optimizer=o, lr=r) for o, r in list(zip(cfg.optimizers, cfg.learning_rates))[i + 1 :]]
            exc.result = result
            raise
        result.lanes.append(LaneResult(**{f: getattr(lane, f) for f in ("name", "status", "run_id", "history", "error", "measures")},
                                       optimizer=name, lr=lr))
    return result

