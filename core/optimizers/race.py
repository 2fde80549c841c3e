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
from core.optimizers.rules import BETA, BETA1, BETA2, EPS, OPTIMIZERS, make_optimizer
from core.settings import Settings, setting

PAGE = "optimizers"
BATCH_REGIMES = ("mini-batch", "full batch", "stochastic")
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512)  # what the page offers
WIDTHS = (16, 32, 64, 128, 256)
DEFAULT_LR = {"Gradient descent": 0.1, "Momentum": 0.1, "Adagrad": 0.05, "RMSprop": 0.002, "Adam": 0.002}


@dataclass(frozen=True)
class RaceConfig(Settings):
    """Everything that defines a race (logged as the runs' params)."""

    dataset: str = setting("digits", choices=DATASETS, labels=lambda k: DATASETS[k].description, label="Dataset")
    optimizers: tuple[str, ...] = setting(("Gradient descent", "Momentum", "RMSprop", "Adam"), choices=OPTIMIZERS,
                                          count=(1, 10**6), label="Optimizers in the race")
    # one per optimizer; the page's inputs are labelled "α <optimizer>"
    learning_rates: tuple[float, ...] = setting((0.1, 0.1, 0.002, 0.002), lo=1e-5, hi=1e6, fmt="%g",
                                                label="Learning rate α")
    beta: float = setting(0.9, **BETA)
    beta1: float = setting(0.9, **BETA1)
    beta2: float = setting(0.999, **BETA2)
    eps: float = setting(1e-8, **EPS)
    batch_regime: str = setting("mini-batch", choices=BATCH_REGIMES, widget="radio", label="Batch regime")
    batch_size: int = setting(64, lo=8, hi=512, widget="select_slider", label="Mini-batch size")  # offers BATCH_SIZES
    # the page sets "Hidden layers" (the count) and "Units per hidden layer" (offers WIDTHS, the same for each)
    hidden: tuple[int, ...] = setting((64,), lo=16, hi=256, count=(0, 4), widget="select_slider",
                                      label="Units per hidden layer")
    epochs: int = setting(5, lo=1, hi=30, widget="slider", label="Epochs")
    seed: int = 0
    toy_points: int = 600
    toy_noise: float = 0.15

    def check(self) -> None:
        if len(self.learning_rates) != len(self.optimizers):
            raise ValueError("give one learning rate per optimizer")

    @property
    def effective_batch_size(self) -> int | None:
        return {"mini-batch": self.batch_size, "full batch": None, "stochastic": 1}[self.batch_regime]


@dataclass
class RaceResult(Comparison):
    """The race's lanes (SKIPPED after a Stop; each lane's ``outputs`` hold its ``optimizer`` and ``lr``) and the
    split sizes."""

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
        def train(slot: LaneSlot) -> Lane:
            model = copy.deepcopy(base).to(device)  # identical initial weights in every lane
            opt = make_optimizer(name, model.parameters(), lr, beta=cfg.beta, beta1=cfg.beta1, beta2=cfg.beta2,
                                 eps=cfg.eps)
            lane = train_tracked(slot, PAGE, {**params, "optimizer": name, "lr": lr}, model, split.train, opt,
                                 name=name, dev=split.dev, epochs=cfg.epochs, batch_size=bs,
                                 run_name=f"{name} lr={lr:g}", device=device, seed=cfg.seed,
                                 figure_title=f"{name}, α = {lr:g}", colors=OPTIMIZER_COLORS)
            return lane

        return LanePlan(name, train, label=f"with {name}")

    plans = [plan(o, r) for o, r in zip(cfg.optimizers, cfg.learning_rates, strict=True)]
    race = run_comparison(ctx, plans, comparison=new_comparison("race"))
    for lane, optimizer, lr in zip(race.lanes, cfg.optimizers, cfg.learning_rates, strict=True):
        lane.outputs.update(optimizer=optimizer, lr=lr)  # also on the lanes a Stop skipped
    return race.extended(RaceResult, sizes=split.sizes)
