"""The strategy page's trainings, each a background job of tracked runs (experiment "strategy").

- :func:`run_learning_curves`: one lane per training-set size, train and dev error per size.
- :func:`run_binary`: an "is it a 3?" classifier whose dev scores feed precision/recall/F1.
- :func:`run_candidates`: networks of several sizes (accuracy vs inference time).
- :func:`run_error_model`: a digit classifier and its misclassified dev examples.

(The data-mismatch demo lives in :mod:`core.strategy.mismatch`.) Every job function has the signature
``fn(ctx, cfg)`` (``ctx`` may be ``None`` in scripts), trains only through
:func:`core.experiment.train_tracked` (several lanes as one :func:`core.experiment.run_comparison`) and
returns plain data that says whether it was ``stopped``: a Stop hands back what was done, a diverged
lane is FAILED (the job reports it) and the job goes on.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from core import tracking
from core.data import DATASETS, Dataset, load_dataset, offline_names, split_dataset
from core.device import pick_device, seed_everything
from core.experiment import (
    FINISHED,
    KILLED,
    Comparison,
    Lane,
    LanePlan,
    LaneSlot,
    RunOutcome,
    new_comparison,
    run_comparison,
    steps_per_epoch,
    train_tracked,
)
from core.identity import LOCAL_USER, User
from core.jobs import JobContext
from core.nets import mlp
from core.optimizers import Adam
from core.settings import Setting, Settings, check_value, setting
from core.strategy import errors
from core.strategy.metrics import CANDIDATE_PREFIX, pr_curve, precision_recall_f1
from core.training import evaluate

PAGE = "strategy"
IMAGE_SETS = ("digits", "mnist_sample")
MAX_SIZES = 10


# Hidden-layer choices offered by the page's pickers: label -> hidden sizes.
HIDDEN_CHOICES: dict[str, tuple[int, ...]] = {
    "none (linear)": (), "8": (8,), "16": (16,), "32": (32,), "64": (64,), "128": (128,), "32×32": (32, 32),
    "64×64": (64, 64), "256×256": (256, 256), "1024×1024": (1024, 1024)}
# Candidate networks for optimizing vs satisficing: label -> hidden sizes; and the ones ticked at first.
CANDIDATE_NETS: dict[str, tuple[int, ...]] = {
    "16": (16,), "64": (64,), "256": (256,), "256×256": (256, 256), "1024×1024": (1024, 1024),
    "1024×1024×1024": (1024, 1024, 1024)}
CANDIDATE_DEFAULT = ("16", "64", "256×256", "1024×1024")
CURVE_STEPS = (50, 100, 200, 300, 500, 1000, 2000)  # the steps per size the page offers for the learning curves
HIDDEN_LAYERS = Setting(label="Hidden units", lo=1, hi=2048, count=(0, 4))  # up to 4 layers of 1 to 2,048 units


def hidden_setting(default: tuple[int, ...], label: str) -> Any:
    """A network's hidden layer sizes (:data:`HIDDEN_LAYERS`), picked by ``label`` among :data:`HIDDEN_CHOICES`."""
    return setting(default, label=label, lo=HIDDEN_LAYERS.lo, hi=HIDDEN_LAYERS.hi, count=HIDDEN_LAYERS.count)


def lr_setting(default: float) -> Any:
    return setting(default, lo=0, above=True, hi=10, label="Learning rate")


def batch_setting(default: int = 64) -> Any:
    return setting(default, lo=1, hi=10_000, label="Mini-batch size")


def image_set_setting(label: str = "Dataset") -> Any:
    return setting("digits", choices=IMAGE_SETS, label=label, labels=lambda name: dataset_label(name))


def parse_sizes(text: str) -> tuple[int, ...]:
    """"25, 50, 100" -> (25, 50, 100): sorted, without repeats; ``ValueError`` otherwise."""
    parts = [p for p in re.split(r"[,\s;]+", str(text).strip()) if p]
    if not parts:
        raise ValueError("give at least one training-set size, e.g. 50, 100, 200")
    try:
        sizes = sorted({int(p.replace("_", "")) for p in parts})
    except ValueError:
        raise ValueError(f"training-set sizes must be whole numbers separated by commas, got {text!r}") from None
    if sizes[0] < 5:
        raise ValueError("every training-set size must be at least 5 examples")
    if len(sizes) > MAX_SIZES:
        raise ValueError(f"at most {MAX_SIZES} training-set sizes")
    return tuple(sizes)


def _hidden_label(hidden: tuple[int, ...]) -> str:
    return "×".join(map(str, hidden)) if hidden else "no hidden layer"


# ------------------------------------------------------------------ learning curves


@dataclass(frozen=True)
class LearningCurveConfig(Settings):
    """Train the same network on nested training sets of growing size; the dev set is fixed."""

    dataset: str = setting("digits", choices=offline_names, label="Dataset for the learning curves",
                           labels=lambda name: dataset_label(name))
    sizes: tuple[int, ...] = setting((25, 50, 100, 200, 400, 800, 1200), lo=5, count=(1, MAX_SIZES),
                                     label="Training-set sizes",
                                     help="Whole numbers separated by commas. Each size is one tracked run.")
    hidden: tuple[int, ...] = hidden_setting((64,), "Hidden units (learning curves)")
    # optimisation steps per size, so small sets are not under-trained (the page offers CURVE_STEPS)
    steps: int = setting(300, lo=10, hi=20_000, widget="select_slider", label="Steps per size")
    batch_size: int = batch_setting()
    lr: float = setting(0.003, options=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2), label="Learning rate (learning curves)")
    dev_share: float = setting(0.25, lo=0.05, hi=0.5, label="Dev share")
    seed: int = 0


@dataclass
class LearningCurveResult(Comparison):
    """One lane per training-set size (SKIPPED after a Stop) and the points of the finished ones."""

    points: list[dict[str, Any]] = field(default_factory=list)  # size, train_error, dev_error, run_id, status
    dev_size: int = 0


def _load(name: str, seed: int, n_toy: int = 2000) -> Dataset:
    kw = {"n": n_toy, "noise": 0.2, "seed": seed} if DATASETS[name].kind == "points" else {}
    return load_dataset(name, **kw)


def run_learning_curves(ctx: JobContext | None, cfg: LearningCurveConfig) -> LearningCurveResult:
    """One tracked lane per size (shared comparison tag); pushes a ``learning_curve`` row
    ``{size, train_error, dev_error}`` after each lane. Stop keeps the points so far."""
    device = pick_device()
    ds = _load(cfg.dataset, cfg.seed)
    split = split_dataset(ds, (1 - cfg.dev_share, cfg.dev_share, 0.0), seed=cfg.seed).to(device)
    pool = len(split.train[1])
    sizes = sorted({min(s, pool) for s in cfg.sizes})
    if ctx is not None and max(cfg.sizes) > pool:
        ctx.warn(f"Only {pool:,} training examples are available; larger sizes were cut to {pool:,}.")
    seed_everything(cfg.seed)
    base = mlp(ds.n_features, cfg.hidden, ds.n_classes)
    points: list[dict[str, Any]] = []

    def plan(m: int) -> LanePlan:
        def train_lane(slot: LaneSlot) -> Lane:
            train = (split.train[0][:m], split.train[1][:m])  # nested subsets of one shuffled pool
            model = copy.deepcopy(base).to(device)  # the same initial weights for every size
            epochs = max(1, math.ceil(cfg.steps / steps_per_epoch(m, cfg.batch_size)))
            params = {**asdict(cfg), "train_size": m, "epochs": epochs}
            lane = train_tracked(slot, PAGE, params, model, train, Adam(model.parameters(), cfg.lr), name=f"m = {m}",
                                 dev=split.dev, epochs=epochs, batch_size=cfg.batch_size,
                                 run_name=f"learning curve m={m}", device=device, seed=cfg.seed,
                                 figure_title=f"Learning curve lane, m = {m}")
            if lane.status == FINISHED:
                point = {"size": m, "train_error": 1.0 - evaluate(model, *train)["accuracy"],
                         "dev_error": 1.0 - float(lane.dev_accuracy), "run_id": lane.run_id, "status": lane.status}
                points.append(point)
                if slot.ctx is not None:
                    slot.ctx.push("learning_curve", size=m, train_error=point["train_error"],
                                  dev_error=point["dev_error"])
            return lane

        return LanePlan(f"m = {m}", train_lane, label=f"on {m:,} examples")

    done = run_comparison(ctx, [plan(m) for m in sizes], comparison=new_comparison("curve"))
    return done.extended(LearningCurveResult, points=points, dev_size=len(split.dev[1]))


# ------------------------------------------------------------- binary classifier


@dataclass(frozen=True)
class BinaryConfig(Settings):
    """"Is it a <positive>?" on a built-in digit set: a two-class network."""

    dataset: str = image_set_setting()
    positive: int = setting(3, choices=tuple(range(10)), label="Positive digit")
    hidden: tuple[int, ...] = hidden_setting((16,), "Hidden units (classifier)")
    epochs: int = setting(5, lo=1, hi=30, widget="slider", label="Epochs (classifier)")
    lr: float = lr_setting(0.01)
    batch_size: int = batch_setting()
    dev_share: float = setting(0.4, lo=0.1, hi=0.6, label="Dev share")
    seed: int = 0


@dataclass
class BinaryResult(RunOutcome):
    """The classifier's run and its dev labels and scores (empty unless it finished)."""

    run_id: str | None
    status: str
    positive: int
    y_true: np.ndarray = field(repr=False)  # [N_dev] 1 = positive
    scores: np.ndarray = field(repr=False)  # [N_dev] P(positive)


def run_binary(ctx: JobContext | None, cfg: BinaryConfig) -> BinaryResult:
    """Train the two-class network; returns the dev labels and P(positive) scores."""
    device = pick_device()
    ds = load_dataset(cfg.dataset)
    y = (ds.y == cfg.positive).long()
    ds = Dataset(f"{ds.name}-is-{cfg.positive}", ds.X, y, (f"not {cfg.positive}", str(cfg.positive)), ds.kind)
    split = split_dataset(ds, (1 - cfg.dev_share, cfg.dev_share, 0.0), seed=cfg.seed).to(device)
    seed_everything(cfg.seed)
    model = mlp(ds.n_features, cfg.hidden, 2).to(device)
    result = BinaryResult(None, KILLED, cfg.positive, np.zeros(0, int), np.zeros(0))

    def finish(run, model, hist) -> None:
        model.eval()
        with torch.no_grad():
            scores = torch.softmax(model(split.dev[0]).float(), 1)[:, 1].cpu().numpy()
        result.y_true, result.scores = split.dev[1].cpu().numpy(), scores
        at_half = precision_recall_f1(result.y_true, scores, 0.5)
        run.log_metrics({"precision": at_half["precision"], "recall": at_half["recall"], "f1": at_half["f1"],
                         "best_f1": float(pr_curve(result.y_true, scores)["f1"].max())}, hist.steps_done)

    lane = train_tracked(ctx, PAGE, cfg, model, split.train, Adam(model.parameters(), cfg.lr),
                         name=f"is it a {cfg.positive}?", dev=split.dev, epochs=cfg.epochs, batch_size=cfg.batch_size,
                         run_name=f"is it a {cfg.positive}? ({_hidden_label(cfg.hidden)})", device=device, seed=cfg.seed,
                         finish=finish)
    result.run_id, result.status = lane.run_id, lane.status
    return result


# ------------------------------------------------------------ candidate models


@dataclass(frozen=True)
class CandidatesConfig(Settings):
    """Networks of several sizes on one dataset, for accuracy-vs-inference-time selection."""

    dataset: str = image_set_setting("Dataset for the candidates")
    architectures: tuple[tuple[int, ...], ...] = setting(((16,), (64,), (256, 256), (1024, 1024)), count=(1, 8),
                                                         label="Candidate networks")
    epochs: int = setting(4, lo=1, hi=500, label="Epochs")
    lr: float = lr_setting(0.003)
    batch_size: int = batch_setting()
    seed: int = 0

    def check(self) -> None:
        for hidden in self.architectures:
            problem = check_value(HIDDEN_LAYERS, hidden)
            if problem:
                raise ValueError(problem)


@dataclass
class CandidatesResult(Comparison):
    """One lane per candidate network (SKIPPED after a Stop); each run logs its dev accuracy and
    inference time, which the satisficing choice reads from the tracked runs."""


def run_candidates(ctx: JobContext | None, cfg: CandidatesConfig) -> CandidatesResult:
    """Train each architecture as a tracked lane of one comparison (each logs its inference time per example)."""
    device = pick_device()
    ds = load_dataset(cfg.dataset)
    split = split_dataset(ds, (0.7, 0.3, 0.0), seed=cfg.seed).to(device)

    def plan(hidden: tuple[int, ...]) -> LanePlan:
        name = _hidden_label(hidden)

        def train_lane(slot: LaneSlot) -> Lane:
            seed_everything(cfg.seed)
            model = mlp(ds.n_features, hidden, ds.n_classes).to(device)
            params = {k: v for k, v in asdict(cfg).items() if k != "architectures"} | {"hidden": list(hidden)}
            return train_tracked(slot, PAGE, params, model, split.train, Adam(model.parameters(), cfg.lr), name=name,
                                 dev=split.dev, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                 run_name=f"candidate {name}", device=device, seed=cfg.seed)

        return LanePlan(name, train_lane)

    done = run_comparison(ctx, [plan(h) for h in cfg.architectures],
                          comparison=new_comparison(CANDIDATE_PREFIX.removesuffix("-")))
    return done.extended(CandidatesResult)


# --------------------------------------------------------------- error analysis


@dataclass(frozen=True)
class ErrorModelConfig(Settings):
    """A digit classifier whose misclassified dev examples the learner tags by hand."""

    dataset: str = image_set_setting("Dataset to analyse")
    hidden: tuple[int, ...] = hidden_setting((32,), "Hidden units (error analysis)")
    epochs: int = setting(5, lo=1, hi=30, widget="slider", label="Epochs (error analysis)")
    lr: float = lr_setting(0.003)
    batch_size: int = batch_setting()
    dev_share: float = setting(0.3, lo=0.1, hi=0.5, label="Dev share")
    max_examples: int = setting(60, lo=1, hi=200, widget="slider", label="Misclassified examples to show")
    seed: int = 0


@dataclass
class ErrorModelResult(RunOutcome):
    """The classifier's run and its misclassified dev examples (none unless it finished)."""

    run_id: str | None
    status: str
    dev_size: int
    dev_error: float
    n_errors: int
    examples: list[dict[str, Any]]  # example (1-based), true, predicted, confidence, index (in the dev set)
    images: np.ndarray = field(repr=False)  # [K, H, W] in [0, 1], the examples' images


def upscale(image: np.ndarray, size: int = 64, pad: int = 4) -> np.ndarray:
    """A [H, W] image in [0, 1] as a uint8 tile for the browser: enlarged by whole pixels
    (nearest neighbour) to about ``size`` pixels, dark ink on white, with a white margin of
    ``pad`` pixels so neighbouring tiles stay apart."""
    k = max(1, round(size / image.shape[1]))
    big = np.kron(1.0 - np.clip(image, 0, 1), np.ones((k, k)))  # digits are light on dark: invert
    return (np.pad(big, pad, constant_values=1.0) * 255).round().astype(np.uint8)


def run_error_model(ctx: JobContext | None, cfg: ErrorModelConfig) -> ErrorModelResult:
    """Train the classifier, then collect up to ``max_examples`` misclassified dev examples
    (most confident mistakes first) with their images; the run gets them tiled into one picture."""
    device = pick_device()
    ds = load_dataset(cfg.dataset)
    split = split_dataset(ds, (1 - cfg.dev_share, cfg.dev_share, 0.0), seed=cfg.seed).to(device)
    seed_everything(cfg.seed)
    model = mlp(ds.n_features, cfg.hidden, ds.n_classes).to(device)
    Xd, yd = split.dev
    result = ErrorModelResult(None, KILLED, len(yd), float("nan"), 0, [], np.zeros((0, 1, 1), np.float32))

    def finish(run, model, hist) -> None:
        model.eval()
        with torch.no_grad():
            probs = torch.softmax(model(Xd).float(), 1)
        conf, pred = probs.max(1)
        wrong = torch.nonzero(pred != yd).ravel()
        wrong = wrong[torch.argsort(conf[wrong], descending=True)][: cfg.max_examples]
        idx = wrong.cpu().numpy()
        result.dev_error = float((pred != yd).float().mean())
        result.n_errors = int((pred != yd).sum())
        result.examples = [{"example": i + 1, "true": ds.classes[int(yd[j])], "predicted": ds.classes[int(pred[j])],
                            "confidence": round(float(conf[j]), 3), "index": int(j)} for i, j in enumerate(idx)]
        result.images = Xd[wrong].cpu().numpy()[:, 0] if len(idx) else np.zeros((0, *Xd.shape[2:]), np.float32)
        run.log_metrics({"dev_error": result.dev_error, "misclassified": result.n_errors}, hist.steps_done)
        if len(idx):
            run.log_tiles(result.images, "misclassified_dev_examples", cols=10, pad=1, border=False)

    lane = train_tracked(ctx, PAGE, cfg, model, split.train, Adam(model.parameters(), cfg.lr), name="classifier",
                         dev=split.dev, epochs=cfg.epochs, batch_size=cfg.batch_size,
                         run_name=f"error analysis ({_hidden_label(cfg.hidden)})", device=device, seed=cfg.seed,
                         finish=finish)
    result.run_id, result.status = lane.run_id, lane.status
    return result


# ------------------------------------------------------------ choices and reports

def curve_datasets() -> list[str]:
    """The built-in datasets the learning curves can use: image sets first, then toy 2-D sets."""
    return offline_names("image") + offline_names("points")


def dataset_label(name: str) -> str:
    """A built-in dataset's one-line description (for pickers)."""
    return DATASETS[name].description


def curve_caption(result: LearningCurveResult) -> str:
    """Errors and gap at the largest training-set size, and the comparison tag of the runs (Markdown)."""
    last = result.points[-1]
    return (f"At the largest size: training error {last['train_error']:.1%}, dev error {last['dev_error']:.1%}, "
            f"gap {last['dev_error'] - last['train_error']:.1%}. Load any of these runs in the *Bias and "
            f"variance* tab. Comparison tag `{result.comparison}`.")


def points_table(result: LearningCurveResult) -> pd.DataFrame:
    """The learning-curve points as a table (one row per training-set size)."""
    return pd.DataFrame(result.points)


def live_series(metrics: dict[str, list[dict[str, Any]]], skip: tuple[str, ...] = ()) -> dict[str, list[dict[str, Any]]]:
    """The per-step series of a job snapshot's metrics (names without "/"), except those in ``skip``."""
    return {k: v for k, v in metrics.items() if "/" not in k and k not in skip}


def live_smoothing(series: dict[str, list[dict[str, Any]]], after: int = 50, weight: float = 0.6) -> float:
    """Smoothing for live loss curves: ``weight`` once some series has more than ``after`` points, else 0."""
    return weight if series and max(len(v) for v in series.values()) > after else 0.0


def tiles(images: np.ndarray, size: int = 64) -> list[np.ndarray]:
    """:func:`upscale` of each [H, W] image of a [K, H, W] stack."""
    return [upscale(img, size) for img in images]


def load_runs(user: User = LOCAL_USER) -> tuple[pd.DataFrame, str | None]:
    """All of ``user``'s tracked runs (any page), or an empty table (a ``run_id`` column) and a plain message when
    the tracking store cannot be read."""
    try:
        return tracking.search_runs(user=user), None
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, never raised
        return pd.DataFrame(columns=["run_id"]), tracking.store_error_message(exc, tracking.tracking_uri())


def save_error_tags(run_id: str, table: pd.DataFrame, counts: pd.DataFrame,
                    user: User = LOCAL_USER) -> tuple[str, str]:
    """Keep error-analysis tags with their run: summary tags and the table as ``error_analysis.csv``.
    Returns ``("success", message)``, or ``("error", message)`` when the store fails."""
    try:
        tracking.annotate_run(run_id, tags=errors.summary_tag(counts, len(table)), text=errors.tags_csv(table),
                              name="error_analysis.csv", user=user)
    except PermissionError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, never raised
        return "error", tracking.store_error_message(exc, tracking.tracking_uri())
    return "success", errors.SAVED_MESSAGE


def analysable(result: ErrorModelResult) -> bool:
    """Whether an error-analysis classifier finished as a tracked run with a dev error to analyse."""
    return bool(result.run_id) and not math.isnan(result.dev_error)
