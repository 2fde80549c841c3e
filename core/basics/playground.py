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

import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from core import tracking
from core.colors import CLASS_RGB
from core.data.toy import TOY_KINDS, make_toy
from core.device import cpu_threads, seed_everything
from core.experiment import FINISHED, LaneRun
from core.jobs import JobContext
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
MAX_EPOCHS = 5000
# What the page's select sliders offer (the settings below allow any value in their range: a shared link may
# carry one).
POINTS = (100, 200, 500, 1000, 2000)
LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REG_RATES = (0.0, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class PlaygroundConfig(Settings):
    """The whole set-up (what the URL carries). ``hidden``: neurons per hidden layer."""

    dataset: str = setting("circles", choices=TOY_KINDS, label="Data set")
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

    def check(self) -> None:
        if self.n_classes > 2 and self.dataset not in MULTICLASS_KINDS:
            raise ValueError(f"more than two classes needs {' or '.join(MULTICLASS_KINDS)}")

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
class PlaygroundState:
    """A playground's network as plain data: what the session keeps between clicks and a Play or
    Step job carries to the worker and back."""

    cfg: PlaygroundConfig
    weights: dict[str, np.ndarray]
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)  # one measured row per epoch, epoch 0 first
    run_id: str | None = None
    diverged: str | None = None  # the sentence, once the network has diverged


class PlaygroundStep(SupervisedStep):
    """The playground's mini-batch step: gradient descent with the set-up's batch size, and its own
    shuffle per epoch (seeded by the seed and the epoch, so Play, Pause and Step give the same
    network as one long Play). At the end of an epoch it measures the loss and accuracy on the
    whole training and test sets (the epoch's ``train_loss`` is that measured one)."""

    def __init__(self, pg: Playground) -> None:
        super().__init__(pg.model, pg.train, pg.optimizer, penalty=pg.penalty, batch_size=pg.cfg.batch_size,
                         device=torch.device("cpu"), seed=pg.cfg.seed, amp=False)
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
        pg.history.append({"epoch": pg.epoch, **{k: record[k] for k in MEASURED}})


class _Rows(Callback):
    """Hands each epoch's measured row to ``on_epoch``."""

    def __init__(self, pg: Playground, on_epoch) -> None:
        self.pg, self.on_epoch = pg, on_epoch

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        self.on_epoch(self.pg.history[-1])


MEASURED = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")


class Playground:
    """A network and its data, built from a set-up (a fresh network) or from a :class:`PlaygroundState`
    (the network a click left): it trains, measures and draws frames."""

    def __init__(self, cfg: PlaygroundConfig, state: PlaygroundState | None = None) -> None:
        self.cfg = cfg
        c = cfg
        X, y = make_toy(c.dataset, n=c.points, noise=c.noise / 2, seed=c.seed, n_classes=c.n_classes)
        X = X * SCALE
        perm = np.random.default_rng(c.seed + 1).permutation(len(y))
        tr, te = perm[: c.n_train], perm[c.n_train :]
        self.points = (X[tr], y[tr], X[te], y[te])  # Xtr, ytr, Xte, yte
        self.train = (feature_matrix(torch.from_numpy(X[tr]), c.features), torch.from_numpy(y[tr]))
        self.test = (feature_matrix(torch.from_numpy(X[te]), c.features), torch.from_numpy(y[te]))
        seed_everything(c.seed)
        self.model = mlp(len(c.features), c.hidden, c.n_classes, activation=c.activation)
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
        """Loss and accuracy on the whole training and test sets, in eval mode."""
        tr = evaluate(self.model, *self.train, device=torch.device("cpu"))
        te = evaluate(self.model, *self.test, device=torch.device("cpu"))
        return {"epoch": epoch, "train_loss": tr["loss"], "test_loss": te["loss"],
                "train_accuracy": tr["accuracy"], "test_accuracy": te["accuracy"]}

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
    with LaneRun(ctx, PAGE, {**asdict(pg.cfg), "section": "playground"}, name="playground",
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
        lane.run.log_figure("decision_map_png", "decision_map", pg.frame(resolution=200).probs, CLASS_RGB)
    pg.run_id = lane.lane.run_id
    return PlayResult(pg.state(), pg.frame())
