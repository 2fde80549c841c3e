"""The data-mismatch demo: train on one distribution, measure on a shifted dev set.

Toy 2-D points are drawn i.i.d. and cut into a training set, a *train-dev* set (same
distribution, never trained on) and a dev set that is then rotated and shifted — as if the
dev data were collected with another device. The errors on the three sets give

    variance = train-dev error − training error      data mismatch = dev error − train-dev error
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from core.data import make_toy
from core.data.toy import TOY_KINDS
from core.device import pick_device, seed_everything
from core.experiment import FINISHED, KILLED, RunOutcome, train_tracked
from core.jobs import JobContext
from core.nets import mlp
from core.optimizers import Adam
from core.settings import Settings, setting
from core.strategy.experiments import PAGE, batch_setting, hidden_setting, lr_setting
from core.training import evaluate

HIDDEN_OFFERED = ("8", "32", "32×32", "64×64")  # the networks the page offers (labels of HIDDEN_CHOICES)


@dataclass(frozen=True)
class MismatchConfig(Settings):
    """Toy 2-D data: train and train-dev from one distribution, dev rotated and shifted."""

    dataset: str = setting("moons", choices=TOY_KINDS, label="Toy data set")
    n_train: int = setting(600, lo=20, hi=20_000, label="Training points")
    n_train_dev: int = setting(200, lo=20, hi=20_000, label="Train-dev points")
    n_dev: int = setting(200, lo=20, hi=20_000, label="Dev points")
    noise: float = setting(0.12, lo=0.0, hi=0.4, step=0.02, widget="slider", label="Noise")
    # degrees, applied to the dev set around the origin
    rotation: float = setting(35.0, lo=-90.0, hi=90.0, step=5.0, widget="slider", label="Dev rotation (degrees)")
    # added to the dev set's x coordinate
    shift: float = setting(0.25, lo=-1.0, hi=1.0, step=0.05, widget="slider", label="Dev shift along x")
    hidden: tuple[int, ...] = hidden_setting((32, 32), "Hidden units (mismatch demo)")
    epochs: int = setting(30, lo=1, hi=200, widget="slider", label="Epochs (mismatch demo)")
    lr: float = lr_setting(0.02)
    batch_size: int = batch_setting(128)
    seed: int = 0


def shift_points(X: np.ndarray, rotation: float, shift: float) -> np.ndarray:
    """Rotate [N, 2] points by ``rotation`` degrees about the origin, then add ``shift`` to x."""
    t = math.radians(rotation)
    R = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]], dtype=np.float32)
    return (X @ R.T + np.array([shift, 0.0], dtype=np.float32)).astype(np.float32)


def mismatch_data(cfg: MismatchConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``train``, ``train_dev`` (same distribution, held out) and ``dev`` (shifted) as (X, y)."""
    n = cfg.n_train + cfg.n_train_dev + cfg.n_dev
    X, y = make_toy(cfg.dataset, n=n, noise=cfg.noise, seed=cfg.seed)  # i.i.d. points, so slices are too
    a, b = cfg.n_train, cfg.n_train + cfg.n_train_dev
    return {"train": (X[:a], y[:a]), "train_dev": (X[a:b], y[a:b]),
            "dev": (shift_points(X[b:], cfg.rotation, cfg.shift), y[b:])}


@dataclass
class MismatchResult(RunOutcome):
    """The demo's run, its errors on the three sets and the decision surface (when it finished)."""

    run_id: str | None
    status: str
    errors: dict[str, float]  # train, train_dev, dev (fractions)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)  # xs, ys, P(class 1)


def _grid(model: torch.nn.Module, data: dict[str, tuple[np.ndarray, np.ndarray]], device, n: int = 90):
    allx = np.concatenate([d[0] for d in data.values()])
    lo, hi = allx.min(0) - 0.2, allx.max(0) + 0.2
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)).to(device)
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(pts).float(), 1)[:, 1].cpu().numpy().reshape(n, n)  # (ys, xs)
    return xs, ys, p


def run_mismatch(ctx: JobContext | None, cfg: MismatchConfig) -> MismatchResult:
    """Train one network on ``train``; the run logs ``train_error``, ``train_dev_error``,
    ``dev_error`` and ``data_mismatch`` (= dev − train-dev) besides the usual final metrics.
    Stopped or diverged, the result has no errors and no decision surface (the page then
    shows the data only)."""
    device = pick_device()
    data = mismatch_data(cfg)
    t = {k: (torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)) for k, (X, y) in data.items()}
    seed_everything(cfg.seed)
    model = mlp(2, cfg.hidden, 2).to(device)
    result = MismatchResult(None, KILLED, {}, data)

    def finish(run, model, hist) -> None:
        errs = {k: 1.0 - evaluate(model, *t[k])["accuracy"] for k in ("train", "train_dev", "dev")}
        result.errors = errs
        run.log_metrics({"train_error": errs["train"], "train_dev_error": errs["train_dev"], "dev_error": errs["dev"],
                         "data_mismatch": errs["dev"] - errs["train_dev"]}, hist.steps_done)

    lane = train_tracked(ctx, PAGE, cfg, model, t["train"], Adam(model.parameters(), cfg.lr), name="mismatch",
                         dev=t["dev"], epochs=cfg.epochs, batch_size=cfg.batch_size, run_name="data mismatch",
                         device=device, seed=cfg.seed, finish=finish, figure_title="Data-mismatch demo")
    result.run_id, result.status = lane.run_id, lane.status
    if lane.status == FINISHED:
        result.grid = _grid(model, data, device)
    return result
