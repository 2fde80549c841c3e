"""The machinery of the Regularization page's experiments: the overfitting set-up, its data,
and "lanes" — variants of the set-up, each trained as one tracked run.

The set-up (:class:`Setup`) is a small training subset of an offline image set and a wide
fully connected network, so train and dev error part within seconds on a CPU. A lane
(:class:`LaneSpec`, also the run's params) changes one thing: λ, keep_prob, batch norm,
augmented data, early stopping or the learning rate. :func:`run_lanes` trains a list of them
in the "regularization" experiment as one comparison (:func:`core.experiment.run_comparison`);
every lane also measures its train error after each epoch (in eval mode), so train and dev
error can be drawn together. A Stop hands back what was done as a :class:`RegResult` that says
``stopped`` (the current lane KILLED, the rest SKIPPED); a diverged lane is FAILED and the
next one trains.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from core import tracking
from core.data import load_dataset, split_dataset
from core.device import pick_device
from core.experiment import FINISHED, Comparison, Lane, LanePlan, LaneSlot, new_comparison, run_comparison, train_tracked
from core.jobs import JobContext
from core.nets import mlp, weight_matrices
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.regularization.formulas import l2_penalty
from core.regularization.measures import weight_norms
from core.settings import Settings, setting
from core.training import Callback, EarlyStopping, History, evaluate

PAGE = "regularization"
DATASETS = ("mnist_sample", "digits")  # offline image sets (augmentation needs images)
DATASET_LABELS = {"mnist_sample": "MNIST sample (28×28)", "digits": "scikit-learn digits (8×8)"}
SPLIT = (0.6, 0.2, 0.2)
DEV_SIZE = 1000
MONITORS = {"dev loss": ("dev_loss", "min"), "dev error": ("dev_accuracy", "max")}
WIDTHS = (32, 64, 128, 256, 512, 1024)  # units per hidden layer the page offers
BATCH_SIZES = (8, 16, 32, 64, 128, 256)  # mini-batch sizes the page offers

Data = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Setup(Settings):
    """The overfitting set-up every experiment starts from."""

    dataset: str = setting("mnist_sample", choices=DATASETS, label="Dataset", name="the image set",
                           labels=DATASET_LABELS)
    n_train: int = setting(200, lo=20, hi=1000, step=10, widget="slider", label="Training examples",
                           help="A small subset of the training split; the dev set is up to 1,000 other images.",
                           name="training examples")
    # the page offers 1 to 4 layers of one of WIDTHS units each
    hidden: tuple[int, ...] = setting((256, 256), lo=1, hi=2048, count=(1, 4), label="Hidden layers",
                                      name="hidden layers")
    optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer", name="the optimizer")
    lr: float = setting(1e-3, lo=1e-5, hi=10.0, fmt="%g", label="Learning rate α", name="the learning rate")
    # any size a caller needs; the page offers BATCH_SIZES
    batch_size: int = setting(32, lo=1, hi=4096, widget="select_slider", label="Mini-batch size",
                              name="the mini-batch size")
    epochs: int = setting(40, lo=1, hi=200, widget="slider", label="Epochs", name="epochs")
    seed: int = 0


@dataclass(frozen=True)
class LaneSpec:
    """One variant of the set-up; its fields are the tracked run's params."""

    experiment: str
    lane: str
    dataset: str
    n_train: int
    hidden: tuple[int, ...]
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    seed: int
    lam: float = 0.0
    keep_prob: float = 1.0
    batch_norm: bool = False
    augmentation: str = "none"
    patience: int = 0  # 0: no early stopping
    monitor: str = ""


def lane_spec(setup: Setup, experiment: str, lane: str, **changes: Any) -> LaneSpec:
    base = {k: v for k, v in asdict(setup).items() if k in LaneSpec.__dataclass_fields__}
    return LaneSpec(experiment=experiment, lane=lane, **{**base, **changes})


def parse_values(text: str, what: str) -> tuple[float, ...]:
    """Numbers from a comma- or space-separated text ("0, 0.5, 2"); ``ValueError`` naming
    ``what`` and the bad piece otherwise."""
    out = []
    for piece in re.split(r"[,;\s]+", text.strip()):
        if not piece:
            continue
        try:
            out.append(float(piece))
        except ValueError:
            raise ValueError(f"{what}: {piece!r} is not a number") from None
    return tuple(out)


# ------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class LabData:
    train: Data
    dev: Data
    n_features: int
    n_classes: int

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[1]), "dev": len(self.dev[1])}


def prepare_setup(setup: Setup) -> LabData:
    """The set-up's seeded small training subset and up to 1,000 dev examples."""
    ds = load_dataset(setup.dataset)
    split = split_dataset(ds, SPLIT, seed=setup.seed)
    n = setup.n_train
    if n > len(split.train[1]):
        raise ValueError(f"{setup.dataset} has only {len(split.train[1])} training examples")
    train = (split.train[0][:n], split.train[1][:n])
    dev = (split.dev[0][:DEV_SIZE], split.dev[1][:DEV_SIZE])
    return LabData(train, dev, ds.n_features, ds.n_classes)


# ------------------------------------------------------------------------------ lanes


class TrainEval(Callback):
    """After each epoch: loss and accuracy on the training set in eval mode (no dropout,
    BN running averages), added to the epoch record and pushed to ``f"{series}/train"``."""

    def __init__(self, ctx: JobContext | None, series: str, train: Data) -> None:
        self.ctx, self.series, self.train = ctx, series, train

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        ev = evaluate(model, *self.train)
        record["train_eval_loss"], record["train_accuracy"] = ev["loss"], ev["accuracy"]
        if self.ctx is not None:
            self.ctx.push(f"{self.series}/train", epoch=epoch, train_loss=ev["loss"], train_accuracy=ev["accuracy"])


@dataclass
class RegLane(Lane):
    """A lane of a regularization experiment: its spec and what the trained model measures."""

    spec: LaneSpec | None = None
    final: dict[str, float] = field(default_factory=dict)  # train/dev loss and error of the returned model
    weight_norms: tuple[float, ...] = ()

    @property
    def train_error(self) -> float | None:
        return self.final.get("train_error")

    @property
    def dev_error(self) -> float | None:
        return self.final.get("dev_error")


@dataclass
class RegResult(Comparison):
    """The lanes of one regularization experiment (a :class:`RegLane` each, SKIPPED after a Stop),
    the data sizes and what the experiment measured besides (``extras``: plain numbers and arrays)."""

    kind: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


def build_lane_network(spec: LaneSpec, data: LabData) -> nn.Sequential:
    """The set-up's network for this lane, initialised from the lane's seed (lanes with
    the same layers start from the same weights; dropout layers hold no weights)."""
    torch.manual_seed(spec.seed)
    return mlp(data.n_features, spec.hidden, data.n_classes, keep_prob=spec.keep_prob, batch_norm=spec.batch_norm)


def measure(model: nn.Module, train: Data, dev: Data) -> dict[str, float]:
    tr, dv = evaluate(model, *train), evaluate(model, *dev)
    return {"train_loss": tr["loss"], "train_error": 1 - tr["accuracy"], "dev_loss": dv["loss"], "dev_error": 1 - dv["accuracy"]}


def run_lanes(
    ctx: JobContext | None,
    kind: str,
    data: LabData,
    plans: Sequence[tuple[LaneSpec, Data | None]],
    device: torch.device | None = None,
    after: Callable[[RegLane, nn.Module], None] | None = None,
) -> RegResult:
    """Train each ``(spec, train data or None for the set-up's)`` as a tracked lane of one
    comparison; ``after(lane, model)`` sees every finished lane with its trained model (inside
    the job: what it keeps must be plain data). A Stop ends the current lane KILLED and skips
    the rest; the result then says ``stopped``."""
    device = device or pick_device()
    dev = (data.dev[0].to(device), data.dev[1].to(device))
    measure_on = (data.train[0].to(device), data.train[1].to(device))  # train error: on the original examples

    def plan(spec: LaneSpec, train: Data | None) -> LanePlan:
        def train_lane(slot: LaneSlot) -> RegLane:
            lane_train = measure_on if train is None else (train[0].to(device), train[1].to(device))
            m = len(lane_train[1])
            model = build_lane_network(spec, data).to(device)
            opt = make_optimizer(spec.optimizer, model.parameters(), spec.lr)
            weights = weight_matrices(model)
            penalty = (lambda: l2_penalty(weights, spec.lam, m)) if spec.lam > 0 else None
            stopper = None
            if spec.patience > 0:
                monitor, mode = MONITORS[spec.monitor]
                stopper = EarlyStopping(patience=spec.patience, monitor=monitor, mode=mode, restore_best=True)
            measured: dict[str, float] = {}

            def finish(run: tracking.TrackedRun, model: nn.Module, hist: History) -> None:
                """Per-epoch train/dev error, and the returned model's errors (with early stopping
                that is the best epoch's model, not the last one) and weight norms."""
                for r in hist.epochs:
                    if "train_accuracy" in r:
                        row = {"train_error": 1 - r["train_accuracy"], "train_eval_loss": r["train_eval_loss"]}
                        if "dev_accuracy" in r:
                            row["dev_error"] = 1 - r["dev_accuracy"]
                        run.log_metrics(row, int(r["epoch"]))
                measured.update(measure(model, measure_on, dev))
                norms = weight_norms(model)
                run.log_metrics({**{f"returned_model_{k}": v for k, v in measured.items()},
                                 "weight_sq_norm": sum(v * v for v in norms),
                                 **{f"weight_norm_layer{j + 1}": v for j, v in enumerate(norms)}}, hist.steps_done)

            lane = train_tracked(slot, PAGE, spec, model, lane_train, opt, name=spec.lane, dev=dev, epochs=spec.epochs,
                                 batch_size=spec.batch_size, penalty=penalty, early_stopping=stopper,
                                 callbacks=[TrainEval(slot.ctx, spec.lane, measure_on)], run_name=f"{kind}: {spec.lane}",
                                 device=device, seed=spec.seed, finish=finish, figure_title=f"{kind}: {spec.lane}")
            reg = RegLane(**vars(lane), spec=spec)
            if lane.status == FINISHED:
                reg.final = dict(measured)
                reg.weight_norms = tuple(weight_norms(model))
                if after is not None:
                    after(reg, model)
            return reg

        return LanePlan(spec.lane, train_lane)

    done = run_comparison(ctx, [plan(spec, train) for spec, train in plans], comparison=new_comparison(kind))
    lanes = [ln if isinstance(ln, RegLane) else RegLane(**vars(ln), spec=spec)
             for ln, (spec, _) in zip(done.lanes, plans, strict=True)]
    result = done.extended(RegResult, lanes=lanes, kind=kind, sizes=data.sizes)
    if ctx is not None and not result.stopped:
        ctx.report(1.0, "done")
    return result


# ---------------------------------------------------------------------------- results


def results_table(result: RegResult) -> list[dict[str, Any]]:
    """One row per lane, for the page's table and its CSV."""
    rows = []
    for ln in result.lanes:
        s = ln.spec
        rows.append({
            "lane": ln.name, "status": ln.status, "λ": s.lam if s else None, "keep_prob": s.keep_prob if s else None,
            "batch norm": s.batch_norm if s else None, "α": s.lr if s else None,
            "augmentation": s.augmentation if s else None, "patience": (s.patience or None) if s else None,
            "train error": ln.train_error, "dev error": ln.dev_error,
            "gap (dev − train)": None if ln.dev_error is None else ln.dev_error - ln.train_error,
            "dev loss": ln.final.get("dev_loss"), "best epoch": ln.history.best_epoch, "epochs run": len(ln.history.epochs),
            "Σ‖W‖²": sum(v * v for v in ln.weight_norms) if ln.weight_norms else None,
            "run": ln.run_id, "note": ln.error or "",
        })
    return rows


def diagnosis(train_error: float, dev_error: float, tolerance: float = 0.05) -> str:
    """The course's reading of train and dev error (taking the best possible error as ≈ 0):
    train error above ``tolerance`` is high bias, a dev − train gap above it high variance."""
    bias, variance = train_error > tolerance, dev_error - train_error > tolerance
    if bias and variance:
        return "high bias and high variance"
    if bias:
        return "high bias (underfitting)"
    if variance:
        return "high variance (overfitting)"
    return "low bias and low variance"
