"""The playground: a small network learning a 2-D toy set, epoch by epoch, in front of you.

In the spirit of TensorFlow Playground (Smilkov & Carter, 2016), plus what it lacks: more
than two classes, and every training tracked in MLflow. A :class:`Playground` holds the
data, the network and the optimizer between clicks, so training can be played, paused,
stepped and reset; :func:`play` is the background job that trains it and streams frames
(decision map, what each hidden neuron computes, the loss curves) to the page.

Points live in [-SCALE, SCALE]²; the input features are x1, x2, x1², x2², x1·x2, sin(x1)
and sin(x2) of those coordinates.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from core import tracking
from core.data.toy import TOY_KINDS, make_toy
from core.device import cpu_threads, seed_everything
from core.jobs import JobContext
from core.nets import mlp, weight_matrices
from core.optimizers import GradientDescent
from core.regularization import l2_penalty
from core.training import Callback, History, TrainingCancelled, TrainingDiverged, evaluate, fit

PAGE = "basics"
SCALE = 3.0
FEATURES: dict[str, Any] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1²": lambda x1, x2: x1 * x1,
    "x2²": lambda x1, x2: x2 * x2,
    "x1·x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: torch.sin(x1),
    "sin(x2)": lambda x1, x2: torch.sin(x2),
}
ACTIVATIONS = ("ReLU", "tanh", "sigmoid", "linear", "leaky ReLU")
REGULARIZATIONS = ("none", "L1", "L2")
MULTICLASS_KINDS = ("gaussians", "spirals")
MAX_EPOCHS = 5000


@dataclass(frozen=True)
class PlaygroundConfig:
    """The whole set-up (what the URL carries). ``hidden``: neurons per hidden layer."""

    dataset: str = "circles"
    n_classes: int = 2
    points: int = 500
    noise: float = 0.0
    train_ratio: float = 0.5
    batch_size: int = 10
    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    lr: float = 0.03
    regularization: str = "none"
    reg_rate: float = 0.0
    features: tuple[str, ...] = ("x1", "x2")
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dataset not in TOY_KINDS:
            raise ValueError(f"the data set must be one of {', '.join(TOY_KINDS)}")
        if not 2 <= self.n_classes <= 6:
            raise ValueError("the number of classes must be between 2 and 6")
        if self.n_classes > 2 and self.dataset not in MULTICLASS_KINDS:
            raise ValueError(f"more than two classes needs {' or '.join(MULTICLASS_KINDS)}")
        if not 50 <= self.points <= 5000:
            raise ValueError("the number of points must be between 50 and 5,000")
        if not 0 <= self.noise <= 0.5:
            raise ValueError("noise must be between 0 and 0.5")
        if not 0.1 <= self.train_ratio <= 0.9:
            raise ValueError("the share of training data must be between 10 % and 90 %")
        if not 1 <= self.batch_size <= 5000:
            raise ValueError("the batch size must be between 1 and 5,000")
        if len(self.hidden) > 6 or any(not 1 <= h <= 8 for h in self.hidden):
            raise ValueError("up to 6 hidden layers of 1 to 8 neurons each")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"the activation must be one of {', '.join(ACTIVATIONS)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError("the learning rate must be a positive number")
        if self.regularization not in REGULARIZATIONS:
            raise ValueError(f"regularization must be one of {', '.join(REGULARIZATIONS)}")
        if not (self.reg_rate >= 0 and math.isfinite(self.reg_rate)):
            raise ValueError("the regularization rate must be zero or positive")
        if not self.features:
            raise ValueError("choose at least one input feature")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s): {', '.join(unknown)}")

    @property
    def n_train(self) -> int:
        return max(1, min(self.points - 1, round(self.points * self.train_ratio)))

    def structure(self) -> PlaygroundConfig:
        """The part of the set-up that needs a new network when it changes (not lr,
        batch size or regularization, which apply to the running training at once)."""
        return replace(self, lr=1.0, batch_size=1, regularization="none", reg_rate=0.0)

    # -- the URL ------------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        """The set-up as short query parameters (see :func:`from_query`)."""
        return {
            "data": self.dataset, "classes": str(self.n_classes), "points": str(self.points),
            "noise": f"{self.noise:g}", "train": f"{self.train_ratio:g}", "batch": str(self.batch_size),
            "layers": ",".join(map(str, self.hidden)) or "0", "act": self.activation, "lr": f"{self.lr:g}",
            "reg": self.regularization, "rate": f"{self.reg_rate:g}",
            "feat": ",".join(str(list(FEATURES).index(f)) for f in self.features), "seed": str(self.seed),
        }

    @classmethod
    def from_query(cls, query: dict[str, str]) -> tuple[PlaygroundConfig, list[str]]:
        """A set-up from query parameters; values that do not parse or fit fall back to the
        defaults, and each such value is named in the returned list of problems."""
        base, problems = cls(), []
        parsers = {
            "data": ("dataset", str), "classes": ("n_classes", int), "points": ("points", int),
            "noise": ("noise", float), "train": ("train_ratio", float), "batch": ("batch_size", int),
            "layers": ("hidden", lambda v: () if v in ("", "0") else tuple(int(p) for p in v.split(","))),
            "act": ("activation", str), "lr": ("lr", float), "reg": ("regularization", str),
            "rate": ("reg_rate", float), "seed": ("seed", int),
            "feat": ("features", lambda v: tuple(list(FEATURES)[int(p)] for p in v.split(",") if p != "")),
        }
        cfg = base
        for key, (attr, parse) in parsers.items():
            if key not in query:
                continue
            try:
                cfg = replace(cfg, **{attr: parse(query[key])})
            except (ValueError, IndexError, TypeError):
                problems.append(f"{key}={query[key]!r}")
        return cfg, problems


def feature_matrix(points: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """[N, 2] coordinates → [N, len(names)] chosen input features."""
    x1, x2 = points[:, 0], points[:, 1]
    return torch.stack([FEATURES[n](x1, x2) for n in names], 1)


def l1_penalty(weights, lambd: float, m: int) -> torch.Tensor:
    """λ/(2m)·Σ_l Σ|W^[l]| — the L1 counterpart of the course's L2 term (drives weights to
    exactly zero rather than just small)."""
    if lambd < 0 or m < 1:
        raise ValueError("λ must be ≥ 0 and m ≥ 1")
    return sum((w.abs().sum() for w in weights), torch.zeros(())) * (lambd / (2 * m))


@dataclass
class Frame:
    """What the page draws for one moment of the training."""

    epoch: int
    grid_x: np.ndarray  # [R] coordinates of the grid columns
    grid_y: np.ndarray  # [R]
    probs: np.ndarray  # [R, R, K] class probabilities over the grid (row = y)
    neurons: list[np.ndarray]  # per layer (features first, then hidden layers): [units, r, r]
    layer_names: list[list[str]]
    weights: list[np.ndarray] = field(default_factory=list)  # W^[l] between shown layers: [units_out, units_in]


@dataclass
class Playground:
    """A network and its data that live across clicks (kept in the session)."""

    cfg: PlaygroundConfig
    model: nn.Module = field(init=False)
    optimizer: GradientDescent = field(init=False)
    train: tuple[torch.Tensor, torch.Tensor] = field(init=False)
    test: tuple[torch.Tensor, torch.Tensor] = field(init=False)
    points: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = field(init=False)  # Xtr, ytr, Xte, yte
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    run_id: str | None = None
    diverged: str | None = None
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        c = self.cfg
        X, y = make_toy(c.dataset, n=c.points, noise=c.noise / 2, seed=c.seed, n_classes=c.n_classes)
        X = X * SCALE
        perm = np.random.default_rng(c.seed + 1).permutation(len(y))
        tr, te = perm[: c.n_train], perm[c.n_train :]
        self.points = (X[tr], y[tr], X[te], y[te])
        self.train = (feature_matrix(torch.from_numpy(X[tr]), c.features), torch.from_numpy(y[tr]))
        self.test = (feature_matrix(torch.from_numpy(X[te]), c.features), torch.from_numpy(y[te]))
        seed_everything(c.seed)
        self.model = mlp(len(c.features), c.hidden, c.n_classes, activation=c.activation)
        self.optimizer = GradientDescent(self.model.parameters(), lr=c.lr)
        self.history = [self._measure(0)]

    @property
    def n_classes(self) -> int:
        return self.cfg.n_classes

    def adjust(self, cfg: PlaygroundConfig) -> None:
        """Apply a new learning rate, batch size or regularization to the running network."""
        if cfg.structure() != self.cfg.structure():
            raise ValueError("the data or the network changed: reset the playground")
        self.cfg = cfg  # read at every step (penalty) or epoch (batch size); one reference swap
        for g in self.optimizer.param_groups:
            g["lr"] = cfg.lr

    def penalty(self) -> torch.Tensor:
        c, m = self.cfg, len(self.train[1])
        if c.regularization == "L2":
            return l2_penalty(weight_matrices(self.model), c.reg_rate, m)
        if c.regularization == "L1":
            return l1_penalty(weight_matrices(self.model), c.reg_rate, m)
        return torch.zeros(())

    def _measure(self, epoch: int) -> dict[str, float]:
        tr = evaluate(self.model, *self.train, device=torch.device("cpu"))
        te = evaluate(self.model, *self.test, device=torch.device("cpu"))
        return {"epoch": epoch, "train_loss": tr["loss"], "test_loss": te["loss"],
                "train_accuracy": tr["accuracy"], "test_accuracy": te["accuracy"]}

    def train_epochs(self, epochs: int, cancel=None, on_epoch=None) -> None:
        """Train ``epochs`` more epochs with the course's gradient descent (mini-batches of
        the configured size); after each, measure train and test loss on the whole sets.
        Raises :class:`TrainingDiverged` / :class:`TrainingCancelled` like :func:`fit`."""
        if self.diverged:
            raise ValueError("the network diverged: reset the playground")
        pg = self

        class _Measure(Callback):
            def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
                pg.epoch += 1
                row = pg._measure(pg.epoch)
                if not all(math.isfinite(v) for v in row.values()):
                    raise TrainingDiverged(pg.epoch, float("nan"), History())
                pg.history.append(row)
                if on_epoch is not None:
                    on_epoch(row)

        for _ in range(epochs):  # one fit() per epoch: new lr, batch size or penalty apply at once
            if cancel is not None and cancel.cancelled:
                raise TrainingCancelled(History())
            with self.lock, cpu_threads(1):  # frame() may read the network between epochs
                try:
                    fit(self.model, self.train, self.optimizer, penalty=self.penalty, epochs=1,
                        batch_size=self.cfg.batch_size, callbacks=[_Measure()], cancel=cancel,
                        device=torch.device("cpu"), seed=self.cfg.seed * 100_003 + self.epoch, amp=False)
                except TrainingDiverged as exc:
                    what = "infinite" if "infinite" in str(exc) else "NaN"
                    self.diverged = f"loss became {what} in epoch {self.epoch + 1} — try a smaller learning rate"
                    exc.args = (self.diverged,)  # epochs are what the playground counts
                    raise

    @torch.no_grad()
    def frame(self, resolution: int = 60, neuron_resolution: int = 24) -> Frame:
        """The decision map and every neuron's output over the plane, in eval mode."""
        with self.lock:
            was = self.model.training
            self.model.eval()
            try:
                gx = np.linspace(-SCALE * 1.15, SCALE * 1.15, resolution, dtype=np.float32)
                probs = self._probs(gx)
                nx = np.linspace(-SCALE * 1.15, SCALE * 1.15, neuron_resolution, dtype=np.float32)
                neurons, names = self._neurons(nx)
                linears = [m for m in self.model if isinstance(m, nn.Linear)][:-1]  # not the output layer's
                weights = [m.weight.detach().numpy().copy() for m in linears]
            finally:
                self.model.train(was)
        return Frame(self.epoch, gx, gx, probs, neurons, names, weights)

    def _grid(self, g: np.ndarray) -> torch.Tensor:
        xx, yy = np.meshgrid(g, g)  # rows follow y
        return torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))

    def _probs(self, g: np.ndarray) -> np.ndarray:
        logits = self.model(feature_matrix(self._grid(g), self.cfg.features))
        return torch.softmax(logits, 1).reshape(len(g), len(g), -1).numpy()

    def _neurons(self, g: np.ndarray) -> tuple[list[np.ndarray], list[list[str]]]:
        r = len(g)
        a = feature_matrix(self._grid(g), self.cfg.features)
        maps, names = [a.T.reshape(-1, r, r).numpy()], [list(self.cfg.features)]
        layer = 0
        for mod in list(self.model)[1:-1]:  # skip Flatten and the output layer
            a = mod(a)
            if not isinstance(mod, nn.Linear):  # after the activation: the neuron's output
                layer += 1
                maps.append(a.T.reshape(-1, r, r).numpy().copy())
                names.append([f"layer {layer}, neuron {i + 1}" for i in range(a.shape[1])])
        return maps, names


@dataclass(frozen=True)
class PlayRequest:
    """What :func:`play` is asked to do (the job's config)."""

    playground: Playground
    epochs: int = MAX_EPOCHS  # Play runs until paused (or this many epochs); Step runs one
    frame_every_s: float = 0.3


def play(ctx: JobContext | None, req: PlayRequest) -> dict[str, Any]:
    """Background job: train the playground until paused (Stop) or ``req.epochs`` are done.

    The playground's tracked run continues across Play and Step (one run per reset):
    metrics per epoch (train/test loss and accuracy), params from the set-up, a final
    decision-map image; pausing ends it FINISHED, a NaN ends it FAILED with the message.
    """
    pg = req.playground
    run = tracking.start_run(PAGE, {**asdict(pg.cfg), "section": "playground"}, run_name=f"playground {pg.cfg.dataset}",
                             tags={"dll.section": "playground"}, resume=pg.run_id)
    last = [0.0]
    start_epoch = pg.epoch

    def on_epoch(row: dict[str, float]) -> None:
        run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))
        if ctx is None:
            return
        ctx.push("curve", **row)
        now = time.perf_counter()
        done = pg.epoch - start_epoch
        if now - last[0] >= req.frame_every_s or done >= req.epochs:
            last[0] = now
            ctx.image("frame", pg.frame())
            ctx.report(done / req.epochs if req.epochs < MAX_EPOCHS else 0.0, f"epoch {pg.epoch}")

    if pg.epoch == 0 and pg.run_id is None:
        run.log_metrics({k: v for k, v in pg.history[0].items() if k != "epoch"}, 0)
    try:
        with run:
            try:
                pg.train_epochs(req.epochs, cancel=ctx.cancel if ctx else None, on_epoch=on_epoch)
            except TrainingCancelled:
                pass  # Pause: the network stays as it is and the run ends FINISHED
            finally:
                run.set_tags({"dll.epochs": str(pg.epoch)})
                _log_frame(run, pg)
    finally:
        pg.run_id = run.run_id
        if ctx is not None:
            for w in run.warnings:
                ctx.warn(w)
            ctx.image("frame", pg.frame())
    return {"epoch": pg.epoch, "run_id": pg.run_id}


def decision_image(
    frame: Frame, colors: list[tuple[int, int, int]], strength: float = 0.6, discretize: bool = False
) -> np.ndarray:
    """[R, R, 3] uint8: white where the network hesitates, a pale version of the winning
    class's colour where it is sure (the confidence above chance, times ``strength``, sets
    the saturation, so that points in full colour stay visible on top). With ``discretize``
    every pixel takes its class's pale colour outright (the boundary only). Row 0 is the lowest y."""
    k = frame.probs.shape[-1]
    probs = np.nan_to_num(frame.probs, nan=1.0 / frame.probs.shape[-1])  # a diverged net: all white
    pmax, arg = probs.max(-1), probs.argmax(-1)
    conf = np.ones_like(pmax) if discretize else np.clip((pmax - 1 / k) / (1 - 1 / k), 0, 1)
    conf = strength * conf[..., None]
    col = np.asarray(colors[:k], dtype=np.float32)[arg]
    return (255 * (1 - conf) + col * conf).round().astype(np.uint8)


def _log_frame(run: tracking.TrackedRun, pg: Playground) -> None:
    from core.plots.playground import CLASS_RGB

    img = decision_image(pg.frame(resolution=200), CLASS_RGB)[::-1]  # image rows go downward
    run.log_image(img, "decision_map")
