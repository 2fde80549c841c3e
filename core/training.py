"""The one training loop every page uses: :func:`fit` and :func:`evaluate`.

Data are whole tensors that stay on the device (no DataLoader workers for sets that fit
in memory). Per-step losses are kept on the device and read back every ``sync_every``
steps, so a GPU is never stalled once per step; callbacks still see every step, in order.
A loss that turns NaN or infinite stops the run with :class:`TrainingDiverged`; a
:class:`CancelToken` stops it with :class:`TrainingCancelled` (the history so far is kept
on the exception).
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from core.device import autocast, pick_device, synchronize

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class CancelToken:
    """Set from another thread (the Stop button) to stop a training at the next step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


class TrainingCancelled(Exception):
    """The user stopped the training; ``history`` holds what was done until then."""

    def __init__(self, history: History) -> None:
        super().__init__(f"stopped by the user after {history.steps_done} steps")
        self.history = history


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; ``step`` is the first such step (1-based)."""

    def __init__(self, step: int, value: float, history: History) -> None:
        what = "NaN" if math.isnan(value) else "infinite"
        super().__init__(f"loss became {what} at step {step} — try a smaller learning rate")
        self.step = step
        self.history = history


@dataclass
class History:
    """What a training produced: per-step losses and one record per epoch.

    ``epochs`` rows hold ``epoch``, ``train_loss`` (mean over the epoch's steps), ``seconds``
    and, with dev data, ``dev_loss`` and ``dev_accuracy``.
    """

    step_loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def steps_done(self) -> int:
        return len(self.step_loss)

    def last(self, key: str) -> float | None:
        for row in reversed(self.epochs):
            if key in row:
                return row[key]
        return None


class Callback:
    """Hooks into :func:`fit`. Subclass and override what you need."""

    def on_step(self, step: int, epoch: int, loss: float) -> None:
        """After each optimisation step (1-based ``step``)."""

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        """After each epoch and its evaluation (1-based ``epoch``)."""


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved for ``patience`` epochs; optionally restore
    the weights of the best epoch."""

    patience: int = 5
    monitor: str = "dev_loss"
    mode: str = "min"
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ValueError("patience must be at least 1 epoch")
        if self.mode not in ("min", "max"):
            raise ValueError("mode must be 'min' or 'max'")


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
    """Train ``model`` on ``train = (X, y)`` and return its :class:`History`.

    ``batch_size``: ``None`` (or ≥ N) = full batch (batch gradient descent), ``1`` =
    stochastic, anything between = mini-batch; batches are reshuffled each epoch with
    ``seed``. ``X`` is [N, ...], ``y`` [N] (class indices for the default cross-entropy).
    ``penalty`` (e.g. an L2 term) is called each step and added to the data loss before
    the backward pass; the step losses then record the regularised cost J_reg, while the
    epoch's ``dev_loss`` stays the plain data loss.
    ``measure_accuracy=False`` leaves ``dev_accuracy`` out of the epoch records (for
    outputs that are not class scores).
    Raises :class:`TrainingDiverged` on a NaN/inf loss and :class:`TrainingCancelled`
    when ``cancel`` is set; both carry the history so far.
    """
    X, y = train
    n = len(y)
    if n == 0:
        raise ValueError("the training set is empty")
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    if batch_size is not None and batch_size < 1:
        raise ValueError("batch size must be at least 1 (or None for the full batch)")
    device = device or pick_device()
    bs = n if batch_size is None else min(batch_size, n)
    X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if dev is not None:
        dev = (dev[0].to(device, non_blocking=True), dev[1].to(device, non_blocking=True))
    gen = torch.Generator().manual_seed(seed)
    history = History()
    pending: list[torch.Tensor] = []  # per-step losses not yet read back, on the device
    pending_epoch: list[int] = []
    stopper = early_stopping
    best_value: float | None = None
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    step = 0

    def drain() -> None:
        """Read pending losses back to the host, check them, feed the callbacks."""
        if not pending:
            return
        values = torch.stack(pending).float().tolist()
        for value, ep in zip(values, pending_epoch, strict=True):
            history.step_loss.append(value)
            s = len(history.step_loss)
            if not math.isfinite(value):
                pending.clear()
                pending_epoch.clear()
                raise TrainingDiverged(s, value, history)
            for cb in callbacks:
                cb.on_step(s, ep, value)
        pending.clear()
        pending_epoch.clear()

    model.to(device)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen).to(device) if bs < n else None
        epoch_start_step = step
        for i in range(0, n, bs):
            if cancel is not None and cancel.cancelled:
                drain()
                raise TrainingCancelled(history)
            if order is None:
                xb, yb = X, y
            else:
                idx = order[i : i + bs]
                xb, yb = X[idx], y[idx]
            with autocast(device, amp):
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            if penalty is not None:
                loss = loss + penalty()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            pending.append(loss.detach())
            pending_epoch.append(epoch)
            if len(pending) >= sync_every:
                drain()
        drain()
        synchronize(device)
        epoch_losses = history.step_loss[epoch_start_step:step]
        record: dict[str, float] = {
            "epoch": epoch,
            "train_loss": sum(epoch_losses) / max(len(epoch_losses), 1),
            "seconds": time.perf_counter() - t0,
        }
        if dev is not None and len(dev[1]) > 0:
            ev = evaluate(model, dev[0], dev[1], loss_fn, device=device, measure_accuracy=measure_accuracy)
            record["dev_loss"] = ev["loss"]
            if measure_accuracy:
                record["dev_accuracy"] = ev["accuracy"]
        history.epochs.append(record)
        for cb in callbacks:
            cb.on_epoch_end(epoch, record, model)
        if stopper is not None and stopper.monitor in record:
            value = record[stopper.monitor]
            better = best_value is None or (
                value < best_value - stopper.min_delta
                if stopper.mode == "min"
                else value > best_value + stopper.min_delta
            )
            if better:
                best_value, bad_epochs, history.best_epoch = value, 0, epoch
                if stopper.restore_best:
                    best_state = copy.deepcopy(model.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs >= stopper.patience:
                    history.stopped_early = True
                    break
    if best_state is not None and stopper is not None and stopper.restore_best:
        model.load_state_dict(best_state)
    return history
