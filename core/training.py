"""The one training loop: :class:`Loop` with a pluggable :class:`Step`, and :func:`fit` / :func:`evaluate`.

:class:`Loop` owns what every training of the lab shares: epochs, the Stop check before every
step, the deferred read-back of the step values (kept on the device and read every
``sync_every`` steps, so a GPU is never stalled once per step; callbacks still see every step,
in order), the one divergence rule (:func:`divergence`), early stopping and the callbacks. A
method plugs in its :class:`Step`:

* :class:`SupervisedStep` — a model, an optimizer and (X, y) in mini-batches (what :func:`fit` runs);
* the two-player GAN step (k D-steps per G-step) in :mod:`core.generative.gan`;
* the closure step of style transfer (L-BFGS) in :mod:`core.style.transfer`;
* the playground drives a :class:`Loop` one epoch at a time (Play, Pause, Step).

A step value that turns NaN or infinite (or, for a method that declares an explosion bound,
larger than it) stops the loop with :class:`TrainingDiverged`, whose message is the sentence the
run records and the page shows; a :class:`CancelToken` stops it with :class:`TrainingCancelled`.
Both carry the :class:`History` so far. A tracked lane (:mod:`core.experiment`) turns them into
a FAILED or KILLED run and a typed outcome: nothing above the loop handles them again.
"""

from __future__ import annotations

import abc
import copy
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.device import autocast, pick_device, synchronize
from core.settings import Settings, setting

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ADVICE = "try a smaller learning rate"


class CancelToken:
    """Set from another thread (the Stop button's messenger) to stop a training at the next step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class TrainingCancelled(Exception):
    """The user stopped the training; ``history`` holds what was done until then."""

    def __init__(self, history: History | None = None) -> None:
        history = history if history is not None else History()
        super().__init__(f"stopped by the user after {history.steps_done} steps")
        self.history = history


class TrainingDiverged(RuntimeError):
    """A step value became NaN, infinite or (where the method declares a bound) too large.

    ``step`` is the first such step (1-based); the message is the one sentence the run records
    and the page shows: "the loss became NaN at step 12 — try a smaller learning rate".
    """

    def __init__(self, step: int, value: float, history: History | None = None, *, what: str = "loss",
                 unit: str = "step", advice: str = ADVICE) -> None:
        if math.isnan(value):
            became = "NaN"
        elif math.isinf(value):
            became = "infinite"
        else:
            became = f"huge ({value:.3g})"
        super().__init__(f"the {what} became {became} at {unit} {step} — {advice}")
        self.step = step
        self.value = value
        self.history = history if history is not None else History()


def divergence(values: Mapping[str, float], bound: float | None = None) -> tuple[str, float] | None:
    """The lab's one divergence rule: the first of ``values`` that is NaN or infinite — or, where a
    method declares an explosion ``bound``, whose magnitude exceeds it — as ``(key, value)``;
    ``None`` when all are fine."""
    for key, value in values.items():
        # NaN fails every comparison, so `not (|v| <= bound)` catches NaN and inf as well
        if not math.isfinite(value) or (bound is not None and not abs(value) <= bound):
            return key, value
    return None


@dataclass
class History:
    """What a training produced: per-step values and one record per epoch (plain data).

    ``step_loss``: the monitored value of every step (the loss for a supervised step);
    ``step_values``: the other values a step reports, one list per key (the GAN's D and G
    losses, style transfer's costs); ``epochs`` rows hold ``epoch``, ``train_loss`` (mean of
    the monitored value over the epoch), ``seconds`` and what the step measures at the end
    of an epoch (``dev_loss``, ``dev_accuracy``).
    """

    step_loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    step_values: dict[str, list[float]] = field(default_factory=dict)

    @property
    def steps_done(self) -> int:
        return len(self.step_loss)

    def last(self, key: str) -> float | None:
        for row in reversed(self.epochs):
            if key in row:
                return row[key]
        return None

    def rows(self) -> list[dict[str, float]]:
        """One dict per step: ``step``, the monitored value as ``loss`` and the other values."""
        keys = list(self.step_values)
        return [{"step": i + 1, "loss": v, **{k: self.step_values[k][i] for k in keys}}
                for i, v in enumerate(self.step_loss)]


class Callback:
    """Hooks into a :class:`Loop`. Subclass and override what you need."""

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        """After each step (1-based ``step``), with the values the step reported (read back)."""

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        """After each epoch and its evaluation (1-based ``epoch``)."""


class Hooks(Callback):
    """A loop callback from plain functions: ``step(step, epoch, values)`` after each reported step,
    ``epoch(epoch, record)`` after each epoch."""

    def __init__(self, step: Callable[[int, int, Mapping[str, float]], None] | None = None,
                 epoch: Callable[[int, dict[str, float]], None] | None = None) -> None:
        self._step, self._epoch = step, epoch

    def on_step(self, step: int, epoch: int, values: Mapping[str, float]) -> None:
        if self._step is not None:
            self._step(step, epoch, values)

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module | None) -> None:
        if self._epoch is not None:
            self._epoch(epoch, record)


@dataclass
class EarlyStopping(Settings):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally restore
    the weights of the best epoch."""

    patience: int = setting(5, lo=1, hi=10_000, label="Patience (epochs without improvement)", name="patience")
    monitor: str = "dev_loss"
    mode: str = setting("min", choices=("min", "max"), label="Direction of improvement", name="mode")
    min_delta: float = setting(0.0, lo=0.0, hi=1e9, label="Smallest improvement", name="min_delta")
    restore_best: bool = True


class Step(abc.ABC):
    """One method's optimisation step, plugged into :class:`Loop`.

    ``batches(epoch)`` yields what each step of that epoch consumes (one ``None`` by default:
    one step per epoch); ``__call__(batch)`` does the step and returns its values as 0-d tensors
    still on the device (the loop reads them back later), with ``monitor`` among them, or
    ``None`` for a step that reports nothing (a D-only step of a GAN). ``end_epoch`` measures
    whatever the epoch record should hold. A method that needs an explosion bound on top of
    NaN/inf declares it as ``bound``; ``labels`` name values in the divergence sentence.
    """

    monitor: str = "loss"
    bound: float | None = None
    advice: str = ADVICE
    unit: str = "step"
    labels: Mapping[str, str] = {}
    model: nn.Module | None = None  # what early stopping saves and restores, and callbacks see
    device: torch.device = torch.device("cpu")

    def batches(self, epoch: int) -> Iterable[Any]:
        return (None,)

    @abc.abstractmethod
    def __call__(self, batch: Any) -> Mapping[str, torch.Tensor] | None:
        """Do one step on ``batch``; its values as 0-d tensors on the device (or None)."""

    def end_epoch(self, epoch: int) -> dict[str, float]:
        return {}


class Loop:
    """Runs a :class:`Step` for epochs: Stop, deferred read-back, the divergence rule, early
    stopping and callbacks. ``run`` may be called again to go on where it stopped (the epoch
    count, the history and the shuffling continue): the playground's Play and Step."""

    def __init__(self, step: Step, *, callbacks: Sequence[Callback] = (), cancel: CancelToken | None = None,
                 sync_every: int = 25, early_stopping: EarlyStopping | None = None) -> None:
        if sync_every < 1:
            raise ValueError("sync_every must be at least 1")
        self.step = step
        self.callbacks = list(callbacks)
        self.cancel = cancel
        self.sync_every = sync_every
        self.early_stopping = early_stopping
        self.history = History()
        self.epoch = 0  # epochs done
        self._pending: list[tuple[int, torch.Tensor]] = []  # (epoch, stacked values) not yet read back
        self._keys: tuple[str, ...] | None = None
        self._best_value: float | None = None
        self._best_state: dict[str, torch.Tensor] | None = None
        self._bad_epochs = 0

    @property
    def steps_done(self) -> int:
        return self.history.steps_done + len(self._pending)

    def run(self, epochs: int, max_steps: int | None = None) -> History:
        """Train ``epochs`` more epochs (fewer when early stopping ends it, or after ``max_steps``
        steps in all); returns the history. Raises :class:`TrainingCancelled` or
        :class:`TrainingDiverged` with the history so far."""
        if epochs < 1:
            raise ValueError("epochs must be at least 1")
        step = self.step
        for _ in range(epochs):
            epoch = self.epoch + 1
            t0 = time.perf_counter()
            first = self.steps_done
            for batch in step.batches(epoch):
                if self.cancel is not None and self.cancel.cancelled:
                    self._drain()
                    raise TrainingCancelled(self.history)
                values = step(batch)
                if values is None:
                    continue
                if self._keys is None:
                    self._keys = tuple(values)
                    if step.monitor not in self._keys:
                        raise ValueError(f"the step must report {step.monitor!r}, got {list(self._keys)}")
                self._pending.append((epoch, torch.stack([values[k].detach().float() for k in self._keys])))
                if len(self._pending) >= self.sync_every:
                    self._drain()
                if max_steps is not None and self.steps_done >= max_steps:
                    break
            self._drain()
            synchronize(step.device)
            self.epoch = epoch
            done = self.history.step_loss[first:]
            record: dict[str, float] = {"epoch": epoch, "train_loss": sum(done) / max(len(done), 1),
                                        "seconds": time.perf_counter() - t0}
            record.update(step.end_epoch(epoch))
            bad = divergence({k: v for k, v in record.items() if k not in ("epoch", "seconds")}, step.bound)
            if bad is not None:  # a measurement of the epoch (a dev or test loss) obeys the same rule
                raise TrainingDiverged(epoch, bad[1], self.history, what=step.labels.get(bad[0], bad[0].replace("_", " ")),
                                       unit="epoch", advice=step.advice)
            self.history.epochs.append(record)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, record, step.model)
            if self._early_stop(record) or (max_steps is not None and self.steps_done >= max_steps):
                break
        if self._best_state is not None and step.model is not None:
            step.model.load_state_dict(self._best_state)
        return self.history

    def _drain(self) -> None:
        """Read pending values back to the host, apply the divergence rule, feed the callbacks."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rows = torch.stack([t for _, t in pending]).tolist()
        step, hist, keys = self.step, self.history, self._keys or ()
        for (epoch, _), row in zip(pending, rows, strict=True):
            values = dict(zip(keys, row, strict=True))
            hist.step_loss.append(values[step.monitor])
            for k, v in values.items():
                if k != step.monitor:
                    hist.step_values.setdefault(k, []).append(v)
            n = hist.steps_done
            bad = divergence(values, step.bound)
            if bad is not None:
                raise TrainingDiverged(n, bad[1], hist, what=step.labels.get(bad[0], bad[0]), unit=step.unit,
                                       advice=step.advice)
            for cb in self.callbacks:
                cb.on_step(n, epoch, values)

    def _early_stop(self, record: dict[str, float]) -> bool:
        stopper = self.early_stopping
        if stopper is None or stopper.monitor not in record:
            return False
        value = record[stopper.monitor]
        best = self._best_value
        better = best is None or (value < best - stopper.min_delta if stopper.mode == "min"
                                  else value > best + stopper.min_delta)
        if better:
            self._best_value, self._bad_epochs, self.history.best_epoch = value, 0, self.epoch
            if stopper.restore_best and self.step.model is not None:
                self._best_state = copy.deepcopy(self.step.model.state_dict())
            return False
        self._bad_epochs += 1
        if self._bad_epochs >= stopper.patience:
            self.history.stopped_early = True
            return True
        return False


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose arg-max matches ``y``; logits [N, K], y [N]."""
    return (logits.argmax(1) == y).float().mean().item()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    loss_fn: LossFn = F.cross_entropy,
    batch_size: int = 8192,
    device: torch.device | None = None,
    measure_accuracy: bool = True,
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)`` in eval mode; restores the mode.
    With ``measure_accuracy=False`` (outputs that are not class scores, e.g. embeddings or
    detection grids) only the loss is returned."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0.0, len(y)
    try:
        for i in range(0, n, batch_size):
            xb = X[i : i + batch_size].to(device, non_blocking=True)
            yb = y[i : i + batch_size].to(device, non_blocking=True)
            with autocast(device):
                out = model(xb)
            out = out.float()
            total_loss += loss_fn(out, yb).item() * len(yb)
            if measure_accuracy:
                correct += (out.argmax(1) == yb).sum().item()
    finally:
        model.train(was_training)
    if not measure_accuracy:
        return {"loss": total_loss / max(n, 1)}
    return {"loss": total_loss / max(n, 1), "accuracy": correct / max(n, 1)}


class SupervisedStep(Step):
    """One mini-batch of ``train = (X, y)`` through ``model``, ``loss_fn`` (+ ``penalty()``), backward
    and ``optimizer.step()``; the step value is the loss (the regularised cost J_reg with a penalty).

    ``batch_size``: ``None`` (or ≥ N) = full batch, ``1`` = stochastic, between = mini-batch;
    batches are reshuffled every epoch from a generator seeded with ``seed``. The data move to
    ``device`` once and stay there. At the end of an epoch the dev set (when given) is evaluated:
    ``dev_loss`` (the plain data loss) and, with ``measure_accuracy``, ``dev_accuracy``.
    """

    def __init__(self, model: nn.Module, train: tuple[torch.Tensor, torch.Tensor], optimizer: torch.optim.Optimizer,
                 *, dev: tuple[torch.Tensor, torch.Tensor] | None = None, loss_fn: LossFn = F.cross_entropy,
                 penalty: Callable[[], torch.Tensor] | None = None, batch_size: int | None = None,
                 device: torch.device | None = None, seed: int = 0, amp: bool = True,
                 measure_accuracy: bool = True) -> None:
        X, y = train
        self.n = len(y)
        if self.n == 0:
            raise ValueError("the training set is empty")
        if batch_size is not None and batch_size < 1:
            raise ValueError("batch size must be at least 1 (or None for the full batch)")
        self.device = device or pick_device()
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.penalty, self.amp = optimizer, loss_fn, penalty, amp
        self.batch_size = batch_size
        self.measure_accuracy = measure_accuracy
        self.X, self.y = X.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.dev = None if dev is None else (dev[0].to(self.device, non_blocking=True),
                                             dev[1].to(self.device, non_blocking=True))
        self.generator = torch.Generator().manual_seed(seed)

    def batches(self, epoch: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        self.model.train()
        n = self.n
        bs = n if self.batch_size is None else min(self.batch_size, n)
        if bs >= n:
            return ((self.X, self.y),)
        order = self.order(epoch, n).to(self.device)
        return ((self.X[idx], self.y[idx]) for idx in (order[i : i + bs] for i in range(0, n, bs)))

    def order(self, epoch: int, n: int) -> torch.Tensor:
        """This epoch's shuffle of the n training examples."""
        return torch.randperm(n, generator=self.generator)

    def __call__(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        xb, yb = batch
        with autocast(self.device, self.amp):
            out = self.model(xb)
        loss = self.loss_fn(out.float(), yb)
        if self.penalty is not None:
            loss = loss + self.penalty()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.detach()}

    def end_epoch(self, epoch: int) -> dict[str, float]:
        if self.dev is None or len(self.dev[1]) == 0:
            return {}
        ev = evaluate(self.model, *self.dev, self.loss_fn, device=self.device, measure_accuracy=self.measure_accuracy)
        record = {"dev_loss": ev["loss"]}
        if self.measure_accuracy:
            record["dev_accuracy"] = ev["accuracy"]
        return record


def fit(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    dev: tuple[torch.Tensor, torch.Tensor] | None = None,
    loss_fn: LossFn = F.cross_entropy,
    penalty: Callable[[], torch.Tensor] | None = None,
    epochs: int = 10,
    batch_size: int | None = None,
    callbacks: Sequence[Callback] = (),
    early_stopping: EarlyStopping | None = None,
    cancel: CancelToken | None = None,
    device: torch.device | None = None,
    seed: int = 0,
    amp: bool = True,
    sync_every: int = 25,
    measure_accuracy: bool = True,
) -> History:
    """Train ``model`` on ``train = (X, y)`` with a :class:`SupervisedStep` in a :class:`Loop`;
    returns its :class:`History`.

    ``X`` is [N, ...], ``y`` [N] (class indices for the default cross-entropy). ``penalty``
    (e.g. an L2 term) is called each step and added to the data loss before the backward pass;
    the step losses then record the regularised cost J_reg, while the epoch's ``dev_loss``
    stays the plain data loss. ``measure_accuracy=False`` leaves ``dev_accuracy`` out of the
    epoch records (for outputs that are not class scores). Raises :class:`TrainingDiverged` on a
    NaN/inf loss and :class:`TrainingCancelled` when ``cancel`` is set; both carry the history so far.
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    step = SupervisedStep(model, train, optimizer, dev=dev, loss_fn=loss_fn, penalty=penalty, batch_size=batch_size,
                          device=device, seed=seed, amp=amp, measure_accuracy=measure_accuracy)
    loop = Loop(step, callbacks=callbacks, cancel=cancel, sync_every=sync_every, early_stopping=early_stopping)
    return loop.run(epochs)
