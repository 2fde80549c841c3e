"""The Regularization page's experiments, each a background job of tracked lanes
(see :mod:`core.regularization.lab`):

- :func:`run_overfit`: no regularization against L2 (λ) and/or inverted dropout (keep_prob);
- :func:`run_augmentation`: the small set alone against it plus modified copies;
- :func:`run_early_stopping`: all epochs against stopping when the dev set stops improving;
- :func:`run_batch_norm`: with and without batch normalization at each learning rate;
- :func:`run_sweep`: λ over several values and keep_prob over several values.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from core.experiment import FINISHED
from core.jobs import JobContext
from core.optimizers.rules import OPTIMIZERS
from core.regularization.augment import AugmentSpec, augment_spec, augmented_training_set
from core.regularization.lab import MONITORS, RegLane, RegResult, Setup, lane_spec, prepare_setup, run_lanes
from core.regularization.measures import look_inside_batch_norm, weight_histograms, weight_values
from core.settings import Settings, setting

LAMBDAS = dict(lo=0.0, hi=1000.0)  # λ: the L2 strength



@dataclass(frozen=True)
class OverfitConfig(Settings):
    setup: Setup = field(default_factory=Setup)
    lam: float = setting(1.0, **LAMBDAS, step=0.5, fmt="%g", label="λ (L2 strength)", name="λ")
    keep_prob: float = setting(1.0, lo=0.05, hi=1.0, step=0.05, widget="slider", label="keep_prob (dropout)",
                               name="keep_prob")
    # also train the set-up with no regularization
    baseline: bool = setting(True, widget="checkbox", label="Also train without regularization")


@dataclass(frozen=True)
class AugmentConfig(Settings):
    setup: Setup = field(default_factory=Setup)
    augment: AugmentSpec = field(default_factory=augment_spec)

    def check(self) -> None:
        if not self.augment.any:
            raise ValueError("choose at least one transformation")


@dataclass(frozen=True)
class EarlyStopConfig(Settings):
    setup: Setup = field(default_factory=Setup)
    patience: int = setting(5, lo=1, hi=30, widget="slider", label="Patience (epochs without improvement)",
                            name="patience")
    monitor: str = setting("dev loss", choices=MONITORS, widget="radio", label="Watch", name="the measure to watch")
    # also train all epochs without stopping
    compare: bool = setting(True, widget="checkbox", label="Also train all epochs without stopping")


@dataclass(frozen=True)
class BatchNormConfig(Settings):
    setup: Setup = field(default_factory=Setup)
    learning_rates: tuple[float, ...] = setting(
        (0.05, 2.0), lo=0.0, above=True, hi=100.0, count=(1, 4), label="Learning rates α to compare",
        help="Comma-separated, up to 4 values; each is trained with and without batch norm.", name="learning rates")
    optimizer: str = setting("Gradient descent", choices=OPTIMIZERS, label="Optimizer for this comparison",
                             name="the optimizer")
    n_train: int = setting(1000, lo=10, hi=1000, step=10, widget="slider", label="Training examples for this comparison",
                           name="training examples")
    epochs: int = setting(10, lo=1, hi=50, widget="slider", label="Epochs for this comparison", name="epochs")

    def check(self) -> None:
        if self.setup.batch_size < 2:
            raise ValueError("batch normalization needs mini-batches of at least 2 examples")


@dataclass(frozen=True)
class SweepConfig(Settings):
    setup: Setup = field(default_factory=Setup)
    lambdas: tuple[float, ...] = setting((0.0, 1.0, 10.0, 30.0), **LAMBDAS, count=(0, 6),
                                         label="λ values (comma-separated)", name="λ")
    keep_probs: tuple[float, ...] = setting((1.0, 0.8, 0.5, 0.3), lo=0.0, above=True, hi=1.0, count=(0, 6),
                                            label="keep_prob values (comma-separated)", name="keep_prob")

    def check(self) -> None:
        if not self.lambdas and not self.keep_probs:
            raise ValueError("give at least one λ or keep_prob value")


# ------------------------------------------------------------------------ experiments


def describe(lam: float, keep_prob: float) -> str:
    parts = ([f"λ={lam:g}"] if lam > 0 else []) + ([f"keep_prob={keep_prob:g}"] if keep_prob < 1 else [])
    return ", ".join(parts) or "no regularization"


def run_overfit(ctx: JobContext | None, cfg: OverfitConfig, device: torch.device | None = None) -> RegResult:
    """The set-up without regularization and with the chosen λ and keep_prob."""
    data = prepare_setup(cfg.setup)
    s = cfg.setup
    plans = []
    regularized = cfg.lam > 0 or cfg.keep_prob < 1
    if cfg.baseline or not regularized:
        plans.append((lane_spec(s, "overfitting", "no regularization"), None))
    if regularized:
        plans.append((lane_spec(s, "overfitting", describe(cfg.lam, cfg.keep_prob), lam=cfg.lam, keep_prob=cfg.keep_prob), None))
    return run_lanes(ctx, "overfitting", data, plans, device)


def run_augmentation(ctx: JobContext | None, cfg: AugmentConfig, device: torch.device | None = None) -> RegResult:
    """The small training set alone, then with ``copies`` modified copies of every image."""
    data = prepare_setup(cfg.setup)
    s = cfg.setup
    augmented = augmented_training_set(*data.train, cfg.augment, seed=s.seed)
    plans = [
        (lane_spec(s, "augmentation", "without augmentation"), None),
        (lane_spec(s, "augmentation", "with augmentation", augmentation=cfg.augment.label), augmented),
    ]
    result = run_lanes(ctx, "augmentation", data, plans, device)
    result.extras["augmented_size"] = len(augmented[1])
    return result


def run_early_stopping(ctx: JobContext | None, cfg: EarlyStopConfig, device: torch.device | None = None) -> RegResult:
    """Stop once the watched dev measure has not improved for ``patience`` epochs and go
    back to the best epoch's weights (optionally next to a lane that trains all epochs)."""
    data = prepare_setup(cfg.setup)
    s = cfg.setup
    plans = [(lane_spec(s, "early stopping", "all epochs"), None)] if cfg.compare else []
    plans.append((lane_spec(s, "early stopping", "early stopping", patience=cfg.patience, monitor=cfg.monitor), None))
    return run_lanes(ctx, "early stopping", data, plans, device)


def run_batch_norm(ctx: JobContext | None, cfg: BatchNormConfig, device: torch.device | None = None) -> RegResult:
    """Each learning rate without and with batch normalization; then a look inside the
    first batch-norm layer of the first network with it that finished."""
    s = replace(cfg.setup, n_train=cfg.n_train, epochs=cfg.epochs, optimizer=cfg.optimizer)
    data = prepare_setup(s)
    plans = []
    for lr in cfg.learning_rates:
        plans.append((lane_spec(s, "batch norm", f"no BN, α={lr:g}", lr=lr), None))
        plans.append((lane_spec(s, "batch norm", f"BN, α={lr:g}", lr=lr, batch_norm=True), None))
    looks: dict[str, Any] = {}

    def after(lane: RegLane, model: nn.Module) -> None:
        if lane.spec.batch_norm and "bn_look" not in looks:
            batch = data.dev[0][: max(s.batch_size, 2)].to(next(model.parameters()).device)
            looks["bn_look"], looks["bn_lane"] = look_inside_batch_norm(model, batch), lane.name

    result = run_lanes(ctx, "batch norm", data, plans, device, after)
    result.extras.update(looks)
    return result


def run_sweep(ctx: JobContext | None, cfg: SweepConfig, device: torch.device | None = None) -> RegResult:
    """One lane per λ (no dropout) and one per keep_prob (no L2); the weights of the λ
    lanes are kept as histograms."""
    data = prepare_setup(cfg.setup)
    s = cfg.setup
    plans = [(lane_spec(s, "sweep", f"λ={lam:g}", lam=lam), None) for lam in cfg.lambdas]
    plans += [(lane_spec(s, "sweep", f"keep_prob={kp:g}", keep_prob=kp), None) for kp in cfg.keep_probs]
    values: dict[str, np.ndarray] = {}

    def after(lane: RegLane, model: nn.Module) -> None:
        if lane.name.startswith("λ="):
            values[lane.name] = weight_values(model)

    result = run_lanes(ctx, "sweep", data, plans, device, after)
    if values:
        result.extras["weight_hist"] = weight_histograms(values)
    return result


def sweep_points(result: RegResult) -> dict[str, list[tuple[float, float, float]]]:
    """``{"λ": [(λ, train error, dev error)], "keep_prob": [...]}`` of the finished sweep lanes."""
    out: dict[str, list[tuple[float, float, float]]] = {"λ": [], "keep_prob": []}
    for ln in result.lanes:
        if ln.status != FINISHED or ln.spec is None:
            continue
        axis, value = ("λ", ln.spec.lam) if ln.name.startswith("λ=") else ("keep_prob", ln.spec.keep_prob)
        out[axis].append((value, ln.train_error, ln.dev_error))
    return out
