"""fit()/evaluate() against hand-written plain PyTorch loops."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.training import (
    Callback,
    CancelToken,
    EarlyStopping,
    TrainingCancelled,
    TrainingDiverged,
    accuracy,
    evaluate,
    fit,
)

CPU = torch.device("cpu")


def _data(n=64, d=5, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    return X, y


def _model(d=5, k=3, seed=1):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, k))


class Recorder(Callback):
    def __init__(self):
        self.steps, self.epochs = [], []

    def on_step(self, step, epoch, loss):
        self.steps.append((step, epoch, loss))

    def on_epoch_end(self, epoch, record, model):
        self.epochs.append(dict(record))


@pytest.mark.parametrize("batch_size", [None, 16, 1])
def test_fit_matches_plain_loop(batch_size):
    X, y = _data()
    ours, ref = _model(), _model()
    rec = Recorder()
    hist = fit(ours, (X, y), torch.optim.SGD(ours.parameters(), lr=0.1), epochs=3, batch_size=batch_size,
               device=CPU, seed=7, callbacks=[rec], sync_every=4)
    # reference: the same shuffles, written out by hand
    opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(7)
    bs = len(y) if batch_size is None else batch_size
    ref_losses = []
    for _ in range(3):
        order = torch.randperm(len(y), generator=gen) if bs < len(y) else torch.arange(len(y))
        for i in range(0, len(y), bs):
            idx = order[i:i + bs]
            loss = F.cross_entropy(ref(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref_losses.append(loss.item())
    assert hist.steps_done == len(ref_losses) == 3 * math.ceil(len(y) / bs)
    assert hist.step_loss == pytest.approx(ref_losses, rel=1e-5, abs=1e-6)
    for a, b in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(a, b)
    assert [s for s, _, _ in rec.steps] == list(range(1, hist.steps_done + 1))
    assert [e["epoch"] for e in rec.epochs] == [1, 2, 3]


def test_nan_stops_with_message_at_first_bad_step():
    X, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    with pytest.raises(TrainingDiverged) as info:
        fit(model, (X, y), torch.optim.SGD(model.parameters(), lr=1e4), epochs=50, batch_size=8, device=CPU)
    msg = str(info.value)
    assert re.fullmatch(r"loss became (NaN|infinite) at step \d+ — try a smaller learning rate", msg)
    hist = info.value.history
    assert info.value.step == hist.steps_done
    assert all(math.isfinite(v) for v in hist.step_loss[:-1]) and not math.isfinite(hist.step_loss[-1])


def test_cancel_token_stops_and_keeps_history():
    X, y = _data()
    model = _model()
    token = CancelToken()

    class StopAt(Callback):
        def on_step(self, step, epoch, loss):
            if step == 5:
                token.cancel()

    with pytest.raises(TrainingCancelled) as info:
        fit(model, (X, y), torch.optim.SGD(model.parameters(), lr=0.1), epochs=10, batch_size=4, device=CPU,
            callbacks=[StopAt()], cancel=token, sync_every=1)
    assert info.value.history.steps_done == 5


def test_early_stopping_restores_best_epoch():
    X, y = _data(n=40)
    Xd, yd = _data(n=40, seed=99)  # labels unrelated to the training set: dev loss soon rises
    model = nn.Sequential(nn.Linear(5, 64), nn.ReLU(), nn.Linear(64, 3))
    snapshots = {}

    class Keep(Callback):
        def on_epoch_end(self, epoch, record, m):
            snapshots[epoch] = {k: v.clone() for k, v in m.state_dict().items()}

    hist = fit(model, (X, y), torch.optim.Adam(model.parameters(), lr=0.05), dev=(Xd, yd), epochs=60,
               early_stopping=EarlyStopping(patience=3), callbacks=[Keep()], device=CPU)
    assert hist.stopped_early
    dev_losses = [r["dev_loss"] for r in hist.epochs]
    assert hist.best_epoch == 1 + dev_losses.index(min(dev_losses))
    assert len(hist.epochs) == hist.best_epoch + 3
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, snapshots[hist.best_epoch][k])


def test_evaluate_and_accuracy_match_manual():
    X, y = _data(n=50)
    model = _model()
    ev = evaluate(model, X, y, batch_size=7)
    with torch.no_grad():
        logits = model(X)
    assert ev["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert ev["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert accuracy(logits, y) == pytest.approx(ev["accuracy"])


def test_bad_arguments():
    X, y = _data()
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="empty"):
        fit(model, (X[:0], y[:0]), opt, device=CPU)
    with pytest.raises(ValueError, match="batch size"):
        fit(model, (X, y), opt, batch_size=0, device=CPU)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
