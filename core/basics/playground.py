"""The playground: a small network learning a 2-D toy set, epoch by epoch, in front of you.

In the spirit of TensorFlow Playground (Smilkov & Carter, 2016), plus what it lacks: more
than two classes, and every training tracked in MLflow. A :class:`Playground` holds the
data, the network and the optimizer between clicks, so training can be played, paused,
stepped and reset; :func:`play` is the background job that trains it and streams frames
(decision map, what each hidden neuron computes, the loss curves) to the page.

Points live in [-SCALE, SCALE]²; the input features are x1, x2, x1², x2², x1·x2, sin(x1)
and sin(x2) of those coordinates. Besides the toy classification sets there are TensorFlow
Playground's two regression sets (one linear output unit, mean squared error) and your own points
from a CSV; each hidden layer may have its own activation, and a connection's weight can be set by
hand (:func:`with_weight`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.colors import CLASS_RGB
from core.data.toy import REGRESSION_KINDS, TOY_KINDS, PointSet, make_regression, make_toy
from core.device import cpu_threads, seed_everything
from core.experiment import FINISHED, LaneRun
from core.jobs import JobContext
from core.nets import ACTIVATIONS as MODULES
from core.nets import mlp, weight_matrices
from core.optimizers import GradientDescent
from core.regularization import l2_penalty
from core.settings import Settings, setting
from core.training import Callback, Loop, SupervisedStep, TrainingDiverged, evaluate

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
CSV = "csv"  # the data set of your own uploaded points
DATASETS = (*TOY_KINDS, *REGRESSION_KINDS, CSV)
DATASET_NAMES = {"plane": "plane (regression)", "multi-gaussian": "multi-Gaussian (regression)", CSV: "your CSV"}
# The controls a shared link may hide (``?hide=noise,lr``): URL name -> what the page calls it.
HIDEABLE = {
    "data": "Data set", "classes": "Classes", "upload": "CSV upload", "train": "Training data", "noise": "Noise",
    "points": "Points", "batch": "Batch size", "feat": "Input features", "layers": "Hidden layers",
    "act": "Activation", "lr": "Learning rate", "reg": "Regularization", "rate": "Regularization rate",
    "weights": "Weight editor",
}
MAX_EPOCHS = 5000
# What the page's select sliders offer (the settings below allow any value in their range: a shared link may
# carry one).
POINTS = (100, 200, 500, 1000, 2000)
LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REG_RATES = (0.0, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class PlaygroundConfig(Settings):
    """The whole set-up (what the URL carries). ``hidden``: neurons per hidden layer."""

    dataset: str = setting("circles", choices=DATASETS, labels=DATASET_NAMES, label="Data set",
                           help="Plane and multi-Gaussian are regressions: the network predicts a number.")
    n_classes: int = setting(2, lo=2, hi=6, widget="slider", label="Classes",
                             help="More than two classes: gaussians and spirals.")
    points: int = setting(500, lo=50, hi=5000, widget="select_slider", label="Points")  # the page offers POINTS
    noise: float = setting(0.0, lo=0.0, hi=0.5, step=0.05, widget="slider", fmt="percent", label="Noise")
    train_ratio: float = setting(0.5, lo=0.1, hi=0.9, step=0.1, widget="slider", fmt="percent",
                                 label="Training data (%)", name="Training data")
    batch_size: int = setting(10, lo=1, hi=100, widget="slider", label="Batch size")
    hidden: tuple[int, ...] = setting((4, 2), lo=1, hi=8, count=(0, 6), label="Neurons per hidden layer")
    activation: str = setting("tanh", choices=ACTIVATIONS, label="Activation")
    lr: float = setting(0.03, lo=0.0, above=True, widget="select_slider", label="Learning rate")  # offers LEARNING_RATES
    regularization: str = setting("none", choices=REGULARIZATIONS, label="Regularization")
    reg_rate: float = setting(0.0, lo=0.0, widget="select_slider", label="Regularization rate")  # offers REG_RATES
    features: tuple[str, ...] = setting(("x1", "x2"), choices=tuple(FEATURES), count=(1, 10**6), label="Input features")
    seed: int = 0
    # one activation per hidden layer; () = ``activation`` for every layer
    activations: tuple[str, ...] = setting((), choices=ACTIVATIONS, count=(0, 6), label="Activation per layer")
    upload: PointSet | None = None  # your points when ``dataset`` is "csv" (not part of the URL)

    def check(self) -> None:
        if self.dataset == CSV:
            if self.upload is None:
                raise ValueError("choose a CSV file with your points (columns x1, x2 and label or target)")
            if self.upload.task == "classification" and self.n_classes != self.upload.n_classes:
                raise ValueError(f"the CSV has {self.upload.n_classes} classes, not {self.n_classes}")
        elif self.n_classes > 2 and self.dataset not in MULTICLASS_KINDS:
            raise ValueError(f"more than two classes needs {' or '.join(MULTICLASS_KINDS)}")
        if self.activations and len(self.activations) != len(self.hidden):
            raise ValueError(f"give one activation per hidden layer ({len(self.hidden)}), "
                             f"not {len(self.activations)}")

    @property
    def task(self) -> str:
        """"regression" (one linear output, mean squared error) or "classification" (softmax, cross-entropy)."""
        if self.dataset == CSV and self.upload is not None:
            return self.upload.task
        return "regression" if self.dataset in REGRESSION_KINDS else "classification"

    @property
    def n_out(self) -> int:
        """Output units: 1 for a regression, else one per class."""
        return 1 if self.task == "regression" else self.n_classes

    @property
    def layer_activations(self) -> tuple[str, ...]:
        """The activation of each hidden layer."""
        return self.activations or (self.activation,) * len(self.hidden)

    @property
    def n_points(self) -> int:
        return len(self.upload) if self.dataset == CSV and self.upload is not None else self.points

    @property
    def n_train(self) -> int:
        return max(1, min(self.n_points - 1, round(self.n_points * self.train_ratio)))

    def params(self) -> dict[str, Any]:
        """What a tracked run logs: the set-up (the uploaded points as their file name and count) and the task."""
        p = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "upload"}
        if self.upload is not None:
            p.update(upload=self.upload.name or "your CSV", upload_rows=len(self.upload))
        return {**p, "task": self.task, "activations": self.layer_activations}

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
            "layers": ",".join(map(str, self.hidden)) or "0", "act": ",".join(self.activations or (self.activation,)),
            "lr": f"{self.lr:g}",
            "reg": self.regularization, "rate": f"{self.reg_rate:g}",
            "feat": ",".join(str(list(FEATURES).index(f)) for f in self.features), "seed": str(self.seed),
        }

    @classmethod
    def from_query(cls, query: dict[str, str]) -> tuple[PlaygroundConfig, list[str]]:
        """A set-up from query parameters; values that do not parse or fit fall back to the
        defaults, and each such value is named in the returned list of problems. ``act`` holds one activation
        (every layer) or one per hidden layer, comma-separated. An uploaded CSV does not travel in a link."""
        base, problems = cls(), []
        parsers: dict[str, tuple[str, Any]] = {
            "data": ("dataset", str), "classes": ("n_classes", int), "points": ("points", int),
            "noise": ("noise", float), "train": ("train_ratio", float), "batch": ("batch_size", int),
            "layers": ("hidden", lambda v: () if v in ("", "0") else tuple(int(p) for p in v.split(","))),
            "act": ("activation", _parse_act), "lr": ("lr", float), "reg": ("regularization", str),
            "rate": ("reg_rate", float), "seed": ("seed", int),
            "feat": ("features", lambda v: tuple(list(FEATURES)[int(p)] for p in v.split(",") if p != "")),
        }
        cfg = base
        for key, (attr, parse) in parsers.items():
            if key not in query:
                continue
            try:
                value = parse(query[key])
                cfg = replace(cfg, **(value if isinstance(value, dict) else {attr: value}))
            except (ValueError, IndexError, TypeError):
                problems.append(f"{key}={query[key]!r}")
        if cfg.activations and len(cfg.activations) != len(cfg.hidden):  # e.g. layers refused, act kept
            problems.append(f"act={query.get('act', '')!r}")
            cfg = replace(cfg, activations=())
        return cfg, problems


def _parse_act(value: str) -> dict[str, Any]:
    """``act=tanh`` (old links: every layer) or ``act=ReLU,tanh`` (one per hidden layer)."""
    acts = tuple(a.strip() for a in value.split(","))
    if len(acts) == 1:
        return {"activation": acts[0], "activations": ()}
    for a in acts:
        if a not in ACTIVATIONS:
            raise ValueError(a)
    return {"activation": acts[0], "activations": acts}


def hide_to_query(hidden: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The ``hide`` query parameter for controls to hide (names of :data:`HIDEABLE`); {} for none."""
    bad = [h for h in hidden if h not in HIDEABLE]
    if bad:
        raise ValueError(f"cannot hide {', '.join(bad)}: choose among {', '.join(HIDEABLE)}")
    return {"hide": ",".join(h for h in HIDEABLE if h in hidden)} if hidden else {}


def hide_from_query(query: dict[str, str]) -> tuple[tuple[str, ...], list[str]]:
    """The controls a link hides (``?hide=noise,lr``), in :data:`HIDEABLE` order, and the names it does not know."""
    names = [h.strip() for h in query.get("hide", "").split(",") if h.strip()]
    return tuple(h for h in HIDEABLE if h in names), [f"hide={h!r}" for h in names if h not in HIDEABLE]


def feature_matrix(points: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """[N, 2] coordinates → [N, len(names)] chosen input features."""
    x1, x2 = points[:, 0], points[:, 1]
    return torch.stack([FEATURES[n](x1, x2) for n in names], 1)


def network(cfg: PlaygroundConfig) -> nn.Sequential:
    """The set-up's network: :func:`core.nets.mlp` with each hidden layer's own activation, ending in one
    linear unit for a regression or one logit per class."""
    model = mlp(len(cfg.features), cfg.hidden, cfg.n_out, activation=cfg.activation)
    slots = [i for i in range(1, len(model)) if isinstance(model[i - 1], nn.Linear)]  # after each hidden Linear
    for i, name in zip(slots, cfg.layer_activations, strict=True):
        model[i] = MODULES[name]()
    return model


def mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error of a one-unit output [N, 1] against targets [N]."""
    return F.mse_loss(out.squeeze(1), target)


def value_probs(values: np.ndarray) -> np.ndarray:
    """A regression's predicted values [..., 1] as two-class "probabilities" [..., 2] for the decision-map
    colours: −1 or below = fully orange (class 0), 0 = white, +1 or above = fully blue (class 1)."""
    p = np.clip((np.nan_to_num(np.asarray(values)[..., 0], nan=0.0) + 1) / 2, 0, 1)
    return np.stack([1 - p, p], -1)


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
    task: str = "classification"  # "regression": ``probs`` holds the predicted value [R, R, 1]


@dataclass
class PlaygroundState:
    """A playground's network as plain data: what the session keeps between clicks and a Play or
    Step job carries to the worker and back."""

    cfg: PlaygroundConfig
    weights: dict[str, np.ndarray]
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # one measured row per epoch, epoch 0 first
    run_id: str | None = None
    diverged: str | None = None  # the sentence, once the network has diverged


def _weight_keys(state: PlaygroundState) -> list[str]:
    """The state's keys of W^[1..L-1] (every Linear layer's weight but the output layer's), in order."""
    keys = sorted((k for k in state.weights if k.endswith(".weight")), key=lambda k: int(k.split(".")[0]))
    return keys[:-1]


def connections(state: PlaygroundState) -> list[tuple[int, int, int, str, float]]:
    """Every connection the neuron maps draw, as ``(layer, source, target, name, weight)``: ``layer`` 0 joins
    the input features to hidden layer 1, ``source`` and ``target`` count units from 0."""
    out = []
    for layer, key in enumerate(_weight_keys(state)):
        w = state.weights[key]  # [units_out, units_in]
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                src = state.cfg.features[i] if layer == 0 else f"layer {layer}, neuron {i + 1}"
                out.append((layer, i, j, f"{src} → layer {layer + 1}, neuron {j + 1}", float(w[j, i])))
    return out


def with_weight(state: PlaygroundState, layer: int, source: int, target: int, value: float) -> PlaygroundState:
    """A copy of ``state`` whose weight from unit ``source`` to unit ``target`` of hidden layer ``layer + 1``
    is ``value`` (every other number unchanged; the run goes on, and the history's last row is measured
    again on the edited network). ``ValueError`` for a
    connection that does not exist or a value that is not finite."""
    keys = _weight_keys(state)
    if not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError("a weight must be a finite number")
    if not 0 <= layer < len(keys):
        raise ValueError(f"there is no layer {layer + 1} of connections (the network has {len(keys)})")
    w = np.array(state.weights[keys[layer]], copy=True)
    if not (0 <= target < w.shape[0] and 0 <= source < w.shape[1]):
        raise ValueError(f"there is no connection from unit {source + 1} to unit {target + 1} in layer {layer + 1}")
    w[target, source] = value
    edited = replace(state, weights={**state.weights, keys[layer]: w}, history=list(state.history))
    if edited.history and not edited.diverged:  # the losses shown now are the edited network's
        edited.history[-1] = Playground.from_state(edited).measure(edited.epoch)
    return edited


class PlaygroundStep(SupervisedStep):
    """The playground's mini-batch step: gradient descent with the set-up's batch size, and its own
    shuffle per epoch (seeded by the seed and the epoch, so Play, Pause and Step give the same
    network as one long Play). At the end of an epoch it measures the loss and accuracy on the
    whole training and test sets (the epoch's ``train_loss`` is that measured one)."""

    def __init__(self, pg: Playground) -> None:
        super().__init__(pg.model, pg.train, pg.optimizer, penalty=pg.penalty, batch_size=pg.cfg.batch_size,
                         device=torch.device("cpu"), seed=pg.cfg.seed, amp=False, loss_fn=pg.loss_fn,
                         measure_accuracy=pg.cfg.task == "classification")
        self.pg = pg

    def batches(self, epoch: int):
        self.batch_size = self.pg.cfg.batch_size  # a new batch size applies from the next epoch
        return super().batches(epoch)

    def order(self, epoch: int, n: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.pg.cfg.seed * 100_003 + self.pg.epoch)
        return torch.randperm(n, generator=gen)

    def end_epoch(self, epoch: int) -> dict[str, float]:
        return {k: v for k, v in self.pg.measure(self.pg.epoch + 1).items() if k != "epoch"}


class _Count(Callback):
    """Keeps the playground's epoch count and history in step with the loop."""

    def __init__(self, pg: Playground) -> None:
        self.pg = pg

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        pg = self.pg
        pg.epoch += 1
        pg.history.append({"epoch": pg.epoch, **{k: record[k] for k in MEASURED if k in record}})


class _Rows(Callback):
    """Hands each epoch's measured row to ``on_epoch``."""

    def __init__(self, pg: Playground, on_epoch) -> None:
        self.pg, self.on_epoch = pg, on_epoch

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        self.on_epoch(self.pg.history[-1])


MEASURED = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")  # a regression has only the losses
GRID_ARTIFACT = "decision_grid.json"


class Playground:
    """A network and its data, built from a set-up (a fresh network) or from a :class:`PlaygroundState`
    (the network a click left): it trains, measures and draws frames."""

    def __init__(self, cfg: PlaygroundConfig, state: PlaygroundState | None = None) -> None:
        self.cfg = cfg
        c = cfg
        if c.dataset == CSV and c.upload is not None:
            X, y = c.upload.arrays(scale=SCALE)
        elif c.dataset in REGRESSION_KINDS:
            X, y = make_regression(c.dataset, n=c.points, noise=c.noise, seed=c.seed)
            X = X * SCALE
        else:
            X, y = make_toy(c.dataset, n=c.points, noise=c.noise / 2, seed=c.seed, n_classes=c.n_classes)
            X = X * SCALE
        self.loss_fn = mse if c.task == "regression" else F.cross_entropy
        perm = np.random.default_rng(c.seed + 1).permutation(len(y))
        tr, te = perm[: c.n_train], perm[c.n_train :]
        self.points = (X[tr], y[tr], X[te], y[te])  # Xtr, ytr, Xte, yte
        self.train = (feature_matrix(torch.from_numpy(X[tr]), c.features), torch.from_numpy(y[tr]))
        self.test = (feature_matrix(torch.from_numpy(X[te]), c.features), torch.from_numpy(y[te]))
        seed_everything(c.seed)
        self.model = network(c)
        self.optimizer = GradientDescent(self.model.parameters(), lr=c.lr)
        if state is None:
            self.epoch, self.run_id, self.diverged = 0, None, None
            self.history = [self.measure(0)]
        else:
            if state.cfg.structure() != c.structure():
                raise ValueError("the data or the network changed: reset the playground")
            self.model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.weights.items()})
            self.epoch, self.run_id, self.diverged = state.epoch, state.run_id, state.diverged
            self.history = list(state.history)

    @classmethod
    def from_state(cls, state: PlaygroundState) -> Playground:
        return cls(state.cfg, state)

    def state(self) -> PlaygroundState:
        weights = {k: v.detach().numpy().copy() for k, v in self.model.state_dict().items()}
        return PlaygroundState(self.cfg, weights, self.epoch, list(self.history), self.run_id, self.diverged)

    @property
    def n_classes(self) -> int:
        return self.cfg.n_classes

    def adjust(self, cfg: PlaygroundConfig) -> None:
        """Apply a new learning rate, batch size or regularization to the network."""
        if cfg.structure() != self.cfg.structure():
            raise ValueError("the data or the network changed: reset the playground")
        self.cfg = cfg  # read at every step (penalty) or epoch (batch size)
        for g in self.optimizer.param_groups:
            g["lr"] = cfg.lr

    def penalty(self) -> torch.Tensor:
        c, m = self.cfg, len(self.train[1])
        if c.regularization == "L2":
            return l2_penalty(weight_matrices(self.model), c.reg_rate, m)
        if c.regularization == "L1":
            return l1_penalty(weight_matrices(self.model), c.reg_rate, m)
        return torch.zeros(())

    def measure(self, epoch: int) -> dict[str, float]:
        """Loss and accuracy (a classification's) on the whole training and test sets, in eval mode."""
        acc = self.cfg.task == "classification"
        tr = evaluate(self.model, *self.train, self.loss_fn, device=torch.device("cpu"), measure_accuracy=acc)
        te = evaluate(self.model, *self.test, self.loss_fn, device=torch.device("cpu"), measure_accuracy=acc)
        row = {"epoch": epoch, "train_loss": tr["loss"], "test_loss": te["loss"]}
        if acc:
            row.update(train_accuracy=tr["accuracy"], test_accuracy=te["accuracy"])
        return row

    def loop(self, callbacks=(), cancel=None) -> Loop:
        """The :class:`Loop` that trains this playground epoch by epoch (it may be run again and again)."""
        return Loop(PlaygroundStep(self), callbacks=[_Count(self), *callbacks], cancel=cancel)

    def train_epochs(self, epochs: int, cancel=None, on_epoch=None) -> None:
        """Train ``epochs`` more epochs on one CPU thread (these nets are tiny); after each, the
        measured row goes to ``on_epoch``. A divergence is remembered (``diverged``) and raised as
        :class:`TrainingDiverged`; Stop raises :class:`TrainingCancelled`."""
        if self.diverged:
            raise ValueError("the network diverged: reset the playground")
        rows = [_Rows(self, on_epoch)] if on_epoch is not None else []
        with cpu_threads(1):
            try:
                self.loop(rows, cancel).run(epochs)
            except TrainingDiverged as exc:
                self.diverged = str(exc)
                raise

    @torch.no_grad()
    def frame(self, resolution: int = 60, neuron_resolution: int = 24) -> Frame:
        """The decision map and every neuron's output over the plane, in eval mode."""
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
        return Frame(self.epoch, gx, gx, probs, neurons, names, weights, self.cfg.task)

    def _grid(self, g: np.ndarray) -> torch.Tensor:
        xx, yy = np.meshgrid(g, g)  # rows follow y
        return torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1))

    def _probs(self, g: np.ndarray) -> np.ndarray:
        """[R, R, K] class probabilities over the grid, or [R, R, 1] the predicted value of a regression."""
        out = self.model(feature_matrix(self._grid(g), self.cfg.features))
        if self.cfg.task == "classification":
            out = torch.softmax(out, 1)
        return out.reshape(len(g), len(g), -1).numpy()

    @torch.no_grad()
    def grid_summary(self, resolution: int = 40) -> dict[str, Any]:
        """The decision map as small plain data (what a run logs as ``decision_grid.json``, for a ghost of
        it over a later run's map): the grid's coordinates, the value per grid point (row = y) and the
        ``levels`` where the boundary lies — p(class 1) at 0.5 for two classes, the predicted class at
        k − ½ for more, the predicted value at 0 for a regression."""
        was = self.model.training
        self.model.eval()
        try:
            g = np.linspace(-SCALE * 1.15, SCALE * 1.15, resolution, dtype=np.float32)
            probs = self._probs(g)
        finally:
            self.model.train(was)
        if self.cfg.task == "regression":
            z, levels = probs[..., 0], [0.0]
        elif probs.shape[-1] == 2:
            z, levels = probs[..., 1], [0.5]
        else:
            z, levels = probs.argmax(-1).astype(np.float32), [k + 0.5 for k in range(probs.shape[-1] - 1)]
        axis = np.asarray(g, dtype=np.float64).round(4).tolist()
        return {"task": self.cfg.task, "x": axis, "y": axis,
                "z": np.nan_to_num(np.asarray(z, dtype=np.float64)).round(4).tolist(), "levels": levels}

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
    """What :func:`play` is asked to do (the job's config): the network as a click left it."""

    state: PlaygroundState
    epochs: int = MAX_EPOCHS  # Play runs until paused (or this many epochs); Step runs one
    frame_every_s: float = 0.3


@dataclass
class PlayResult:
    """The network after a Play or a Step, and its last frame."""

    state: PlaygroundState
    frame: Frame


class _Live(Callback):
    """Per epoch: the measured row to the run and the page; a fresh frame every ``every`` seconds."""

    def __init__(self, ctx: JobContext | None, run: tracking.TrackedRun, pg: Playground, req: PlayRequest) -> None:
        self.ctx, self.run, self.pg, self.req = ctx, run, pg, req
        self.start, self.last = pg.epoch, 0.0

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        row = self.pg.history[-1]
        self.run.log_metrics({k: v for k, v in row.items() if k != "epoch"}, int(row["epoch"]))
        if self.ctx is None:
            return
        self.ctx.push("curve", **row)
        now, done, req = time.perf_counter(), self.pg.epoch - self.start, self.req
        if now - self.last >= req.frame_every_s or done >= req.epochs:
            self.last = now
            self.ctx.image("frame", self.pg.frame())
            self.ctx.report(done / req.epochs if req.epochs < MAX_EPOCHS else 0.0, f"epoch {self.pg.epoch}")


def play(ctx: JobContext | None, req: PlayRequest) -> PlayResult:
    """Background job: train the playground until paused (Stop) or ``req.epochs`` are done.

    The playground's tracked run continues across Play and Step (one run per reset): metrics per
    epoch (train/test loss and accuracy), params from the set-up, a final decision-map image; a
    Pause ends this stretch FINISHED (the next Play resumes the run), a divergence ends it FAILED
    with the sentence. Returns the network as plain data for the session.
    """
    pg = Playground.from_state(req.state)
    if pg.diverged:
        raise ValueError("the network diverged: reset the playground")
    with LaneRun(ctx, PAGE, {**pg.cfg.params(), "section": "playground"}, name="playground",
                 run_name=f"playground {pg.cfg.dataset}", tags={tracking.TAG_KIND: "playground"},
                 resume=pg.run_id) as lane:
        if pg.epoch == 0 and pg.run_id is None:
            lane.run.log_metrics({k: v for k, v in pg.history[0].items() if k != "epoch"}, 0)
        with cpu_threads(1):  # these nets are tiny: one thread is faster than two spinning ones
            lane.fit(pg.loop([_Live(ctx, lane.run, pg, req)]), req.epochs, live=False)
        if lane.lane.stopped:
            lane.lane.status = FINISHED  # a Pause: the run goes on with the next Play
        pg.diverged = lane.lane.error
        lane.run.set_tags({tracking.TAG_EPOCHS: str(pg.epoch)})
        probs = pg.frame(resolution=200).probs
        lane.run.log_figure("decision_map_png", "decision_map", value_probs(probs) if pg.cfg.task == "regression"
                            else probs, CLASS_RGB)
        lane.run.log_text(json.dumps(pg.grid_summary()), GRID_ARTIFACT)
    pg.run_id = lane.lane.run_id
    return PlayResult(pg.state(), pg.frame())
