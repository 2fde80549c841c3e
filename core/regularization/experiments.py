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
from core.regularization.augment import AugmentSpec, augmented_training_set
from core.regularization.lab import MONITORS, RegLane, RegResult, Setup, lane_spec, prepare, run_lanes
from core.regularization.measures import look_inside_batch_norm, weight_histograms, weight_values


def _check_lam(lam: float) -> None:
    if not 0 <= lam <= 1000:
        raise ValueError("λ must be between 0 and 1,000")


def _check_keep(keep_prob: float) -> None:
    if not 0 < keep_prob <= 1:
        raise ValueError("keep_prob must be above 0 and at most 1")


@dataclass(frozen=True)
class OverfitConfig:
    setup: Setup = field(default_factory=Setup)
    lam: float = 1.0
    keep_prob: float = 1.0
    baseline: bool = True  # also train the set-up with no regularization

    def __post_init__(self) -> None:
        _check_lam(self.lam)
        _check_keep(self.keep_prob)


@dataclass(frozen=True)
class AugmentConfig:
    setup: Setup = field(default_factory=Setup)
    augment: AugmentSpec = field(default_factory=AugmentSpec)


@dataclass(frozen=True)
class EarlyStopConfig:
    setup: Setup = field(default_factory=Setup)
    patience: int = 5
    monitor: str = "dev loss"
    compare: bool = True  # also train all epochs without stopping

    def __post_init__(self) -> None:
        if not 1 <= self.patience <= 100:
            raise ValueError("patience must be between 1 and 100 epochs")
        if self.monitor not in MONITORS:
            raise ValueError(f"watch one of: {', '.join(MONITORS)}")


@dataclass(frozen=True)
class BatchNormConfig:
    setup: Setup = field(default_factory=Setup)
    learning_rates: tuple[float, ...] = (0.05, 2.0)
    optimizer: str = "Gradient descent"
    n_train: int = 1000
    epochs: int = 10

    def __post_init__(self) -> None:
        if not 1 <= len(self.learning_rates) <= 4:
            raise ValueError("give 1 to 4 learning rates")
        if any(not 0 < lr <= 100 for lr in self.learning_rates):
            raise ValueError("learning rates must be above 0 and at most 100")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}")
        if not 10 <= self.n_train <= 1000:
            raise ValueError("training examples must be between 10 and 1,000")
        if not 1 <= self.epochs <= 200:
            raise ValueError("epochs must be between 1 and 200")
        if self.setup.batch_size < 2:
            raise ValueError("batch normalization needs mini-batches of at least 2 examples")


@dataclass(frozen=True)
class SweepConfig:
    setup: Setup = field(default_factory=Setup)
    lambdas: tuple[float, ...] = (0.0, 1.0, 10.0, 30.0)
    keep_probs: tuple[float, ...] = (1.0, 0.8, 0.5, 0.3)

    def __post_init__(self) -> None:
        if not self.lambdas and not self.keep_probs:
            raise ValueError("give at least one λ or keep_prob value")
        if len(self.lambdas) > 6 or len(self.keep_probs) > 6:
            raise ValueError("sweep at most 6 values of each")
        for lam in self.lambdas:
            _check_lam(lam)
        for kp in self.keep_probs:
            _check_keep(kp)


# ------------------------------------------------------------------------ experiments


def describe(lam: float, keep_prob: float) -> str:
    parts = ([f"λ={lam:g}"] if lam > 0 else []) + ([f"keep_prob={keep_prob:g}"] if keep_prob < 1 else [])
    return ", ".join(parts) or "no regularization"


def run_overfit(ctx: JobContext | None, cfg: OverfitConfig, device: torch.device | None = None) -> RegResult:
    """The set-up without regularization and with the chosen λ and keep_prob."""
    data = prepare(cfg.setup)
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
    data = prepare(cfg.setup)
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
    data = prepare(cfg.setup)
    s = cfg.setup
    plans = [(lane_spec(s, "early stopping", "all epochs"), None)] if cfg.compare else []
    plans.append((lane_spec(s, "early stopping", "early stopping", patience=cfg.patience, monitor=cfg.monitor), None))
    return run_lanes(ctx, "early stopping", data, plans, device)


def run_batch_norm(ctx: JobContext | None, cfg: BatchNormConfig, device: torch.device | None = None) -> RegResult:
    """Each learning rate without and with batch normalization; then a look inside the
    first batch-norm layer of the first network with it that finished."""
    s = replace(cfg.setup, n_train=cfg.n_train, epochs=cfg.epochs, optimizer=cfg.optimizer)
    data = prepare(s)
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
    data = prepare(cfg.setup)
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
