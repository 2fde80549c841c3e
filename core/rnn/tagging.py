"""A tagging task where the future matters, for the bidirectional RNN.

The lab generates strings of random digits 0 … K−1 (each drawn independently and
uniformly) and tags every position t with 1 when the **next** digit is larger than this one
(x⟨t+1⟩ > x⟨t⟩), else 0; the last position has no next digit and is not scored.

Why a unidirectional RNN is provably limited here: its prediction at t can only depend on
x⟨1⟩ … x⟨t⟩, and x⟨t+1⟩ is independent of all of them. Knowing x⟨t⟩ = d, the tag is 1 with
probability p_d = (K − 1 − d)/K, so no left-to-right model can be right more often than
mean_d max(p_d, 1 − p_d) — 75 % for K = 10 (:func:`unidirectional_ceiling`). A
bidirectional RNN's backward half has read x⟨t+1⟩ before it reaches t, so it can reach
100 %. Both models are trained on the same data with the same seed, hidden size and cell
(:class:`core.rnn.cells.BidirectionalTagger`, the course's cells), as two tracked runs
under one comparison tag (:func:`core.experiment.run_comparison`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core import tracking
from core.device import pick_device, seed_everything
from core.experiment import Comparison, Lane, LanePlan, LaneSlot, new_comparison, run_comparison, train_tracked
from core.jobs import JobContext
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.rnn.cells import BidirectionalTagger
from core.settings import Settings, setting

__all__ = [
    "IGNORE",
    "TRAINING_STRINGS",
    "TaggingConfig",
    "TaggingResult",
    "make_tagging_data",
    "masked_accuracy",
    "per_position_accuracy",
    "run_tagging",
    "tagging_loss",
    "unidirectional_ceiling",
]

PAGE = "rnn"
IGNORE = -100  # the last position's tag: not scored
LANES = ("unidirectional", "bidirectional")


def make_tagging_data(n: int, length: int, n_symbols: int = 10, seed: int = 0) -> tuple[Tensor, Tensor]:
    """X [n, length] random digits in 0 … n_symbols−1; y [n, length] with y⟨t⟩ = 1 if
    x⟨t+1⟩ > x⟨t⟩ else 0, and ``IGNORE`` at the last position."""
    if n < 1 or length < 2 or n_symbols < 2:
        raise ValueError("need at least 1 string of length 2 over 2 symbols")
    gen = torch.Generator().manual_seed(seed)
    X = torch.randint(0, n_symbols, (n, length), generator=gen)
    y = torch.full((n, length), IGNORE, dtype=torch.int64)
    y[:, :-1] = (X[:, 1:] > X[:, :-1]).long()
    return X, y


def unidirectional_ceiling(n_symbols: int = 10) -> float:
    """The best accuracy any left-to-right model can have on this task: mean over d of
    max(p_d, 1 − p_d) with p_d = (K − 1 − d)/K the chance that the next digit is larger."""
    p = (n_symbols - 1 - np.arange(n_symbols)) / n_symbols
    return float(np.maximum(p, 1 - p).mean())


def tagging_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the scored positions: logits [B, 2, T], y [B, T]."""
    return F.cross_entropy(logits, y, ignore_index=IGNORE)


@torch.no_grad()
def _predict(model: torch.nn.Module, X: Tensor, batch: int = 1024) -> Tensor:
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    out = torch.cat([model(X[i: i + batch].to(device)).argmax(1).cpu() for i in range(0, len(X), batch)])
    model.train(was)
    return out  # [N, T]


def masked_accuracy(pred: Tensor, y: Tensor) -> float:
    keep = y != IGNORE
    return float((pred[keep] == y[keep]).float().mean())


def per_position_accuracy(pred: Tensor, y: Tensor) -> list[float]:
    """Accuracy at each scored position t = 1 … T−1."""
    keep = y != IGNORE
    hits = ((pred == y) & keep).sum(0).double()
    counts = keep.sum(0).double()
    return [float(h / c) for h, c in zip(hits, counts) if c > 0]


@dataclass(frozen=True)
class TaggingConfig(Settings):
    """The comparison: one unidirectional and one bidirectional tagger (also the runs' params)."""

    cell: str = setting("GRU", label="Cell (our course cells)", choices=("GRU", "LSTM", "RNN"))
    hidden_size: int = setting(16, label="Hidden size (each direction)", options=(4, 8, 16, 32))
    length: int = setting(12, label="String length", lo=4, hi=30, widget="slider")
    n_symbols: int = setting(10, label="Symbols", lo=2, hi=26)
    n_train: int = setting(1500, label="Training strings", lo=10, hi=50_000, widget="select_slider")
    n_dev: int = setting(500, label="Dev strings", lo=10, hi=20_000)
    epochs: int = setting(8, label="Epochs", lo=1, hi=200, widget="slider")
    batch_size: int = setting(64, label="Batch size", lo=1, hi=4096)
    lr: float = setting(0.01, label="Learning rate (Adam)", lo=1e-4, hi=1.0, fmt="%g")
    optimizer: str = setting("Adam", label="Optimizer", choices=OPTIMIZERS)
    seed: int = 0


TRAINING_STRINGS = (200, 500, 1000, 1500, 3000, 5000)  # the page's choices of ``n_train``


@dataclass
class TaggingResult(Comparison):
    """The two lanes (the second SKIPPED after a Stop in the first), the left-to-right ceiling,
    and each finished tagger's dev accuracy overall and per position, with a few dev strings."""

    ceiling: float = float("nan")
    accuracy: dict[str, float] = field(default_factory=dict)  # dev accuracy per lane
    per_position: dict[str, list[float]] = field(default_factory=dict)  # dev accuracy at t = 1 … T−1
    examples: list[dict[str, Any]] = field(default_factory=list)  # a few dev strings with both predictions


def run_tagging(ctx: JobContext | None, cfg: TaggingConfig, device: torch.device | None = None) -> TaggingResult:
    """Train the unidirectional, then the bidirectional tagger (same data, seed, size) as two
    tracked runs of one comparison; a job function. A diverged tagger's lane is FAILED and the
    other still trains; a Stop ends the current lane KILLED and skips the rest (``stopped``)."""
    device = device or pick_device()
    train = make_tagging_data(cfg.n_train, cfg.length, cfg.n_symbols, cfg.seed)
    dev = make_tagging_data(cfg.n_dev, cfg.length, cfg.n_symbols, cfg.seed + 10_007)
    ceiling = unidirectional_ceiling(cfg.n_symbols)
    accuracy: dict[str, float] = {}
    per_position: dict[str, list[float]] = {}
    preds: dict[str, Tensor] = {}

    def plan(name: str) -> LanePlan:
        def finish(run: tracking.TrackedRun, model: torch.nn.Module, hist: Any) -> None:
            pred = _predict(model, dev[0])
            preds[name] = pred
            accuracy[name] = masked_accuracy(pred, dev[1])
            per_position[name] = per_position_accuracy(pred, dev[1])
            run.log_metrics({"dev_accuracy": accuracy[name], "unidirectional_ceiling": ceiling,
                             "train_accuracy": masked_accuracy(_predict(model, train[0]), train[1])}, hist.steps_done)
            for t, acc in enumerate(per_position[name], start=1):
                run.log_metrics({"dev_accuracy_at_position": acc}, t)

        def train_lane(slot: LaneSlot) -> Lane:
            seed_everything(cfg.seed)
            model = BidirectionalTagger(cfg.n_symbols, 2, cfg.hidden_size, cfg.cell,
                                        bidirectional=name == "bidirectional")
            opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
            params = {**asdict(cfg), "direction": name, "task": "next digit larger"}
            return train_tracked(slot, PAGE, params, model, train, opt, name=name, dev=dev, epochs=cfg.epochs,
                                 batch_size=cfg.batch_size, loss_fn=tagging_loss, run_name=f"tagger: {name} {cfg.cell}",
                                 tags={tracking.TAG_KIND: "bidirectional"}, device=device, seed=cfg.seed, finish=finish,
                                 figure_title=f"{name} {cfg.cell} tagger",
                                 measure_accuracy=False)  # logits are [B, 2, T]: accuracy is measured in finish

        return LanePlan(name, train_lane, label=f"the {name} {cfg.cell}")

    both = run_comparison(ctx, [plan(name) for name in LANES], comparison=new_comparison("bidirectional"))
    result = both.extended(TaggingResult, ceiling=ceiling, accuracy=accuracy, per_position=per_position)
    if len(preds) == len(LANES):
        for k in range(min(5, cfg.n_dev)):
            result.examples.append({
                "digits": " ".join(map(str, dev[0][k].tolist())),
                "true tags": " ".join("·" if v == IGNORE else str(v) for v in dev[1][k].tolist()),
                **{f"{n} predicts": " ".join(map(str, preds[n][k, :-1].tolist())) + " ·" for n in LANES},
            })
    return result
