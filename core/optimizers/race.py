"""The optimizer race: one network, one initialisation, trained once per chosen optimizer.

Each optimizer's training is its own tracked run in the "optimizers" experiment; all runs
of one race share a ``dll.comparison`` tag, so the Runs page can put them side by side.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from core.colors import OPTIMIZER_COLORS
from core.data import DATASETS, load_dataset, split_dataset
from core.device import pick_device, seed_everything
from core.experiment import Comparison, Lane, LanePlan, LaneSlot, new_comparison, run_comparison, train_tracked
from core.jobs import JobContext
from core.nets import mlp
from core.optimizers.rules import OPTIMIZERS, make_optimizer

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
class RaceResult(Comparison):
    """The race's lanes (a :class:`LaneResult` each, SKIPPED after a Stop) and the split sizes."""

    sizes: dict[str, int] = field(default_factory=dict)


def build_mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Flatten → (Linear → ReLU) per hidden layer → Linear to class scores."""
    return mlp(n_in, hidden, n_out)


def run_race(ctx: JobContext | None, cfg: RaceConfig, device: torch.device | None = None) -> RaceResult:
    """Train the same network once per optimizer, as one comparison (a job function).

    A lane whose loss turns NaN ends FAILED with the message and the race goes on; Stop ends
    the current lane KILLED and skips the rest (the result then says ``stopped``).
    """
    device = device or pick_device()
    kwargs = {"n": cfg.toy_points, "noise": cfg.toy_noise, "seed": cfg.seed} if DATASETS[cfg.dataset].kind == "points" else {}
    ds = load_dataset(cfg.dataset, **kwargs)
    split = split_dataset(ds, (0.7, 0.15, 0.15), seed=cfg.seed).to(device)
    seed_everything(cfg.seed)
    base = build_mlp(ds.n_features, cfg.hidden, ds.n_classes)
    bs = cfg.effective_batch_size
    params = {k: v for k, v in asdict(cfg).items() if k not in ("optimizers", "learning_rates")}

    def plan(name: str, lr: float) -> LanePlan:
        def train(slot: LaneSlot) -> LaneResult:
            model = copy.deepcopy(base).to(device)  # identical initial weights in every lane
            opt = make_optimizer(name, model.parameters(), lr, beta=cfg.beta, beta1=cfg.beta1, beta2=cfg.beta2,
                                 eps=cfg.eps)
            lane = train_tracked(slot, PAGE, {**params, "optimizer": name, "lr": lr}, model, split.train, opt,
                                 name=name, dev=split.dev, epochs=cfg.epochs, batch_size=bs,
                                 run_name=f"{name} lr={lr:g}", device=device, seed=cfg.seed,
                                 figure_title=f"{name}, α = {lr:g}", colors=OPTIMIZER_COLORS)
            return LaneResult(**vars(lane), optimizer=name, lr=lr)

        return LanePlan(name, train, label=f"with {name}")

    plans = [plan(o, r) for o, r in zip(cfg.optimizers, cfg.learning_rates, strict=True)]
    race = run_comparison(ctx, plans, comparison=new_comparison("race"))
    lanes = [ln if isinstance(ln, LaneResult) else LaneResult(**vars(ln), optimizer=p.name, lr=r)
             for ln, p, r in zip(race.lanes, plans, cfg.learning_rates, strict=True)]
    return RaceResult(race.comparison, lanes, sizes=split.sizes)
