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
    Loop,
    Step,
    SupervisedStep,
    TrainingCancelled,
    TrainingDiverged,
    accuracy,
    divergence,
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

    def on_step(self, step, epoch, values):
        self.steps.append((step, epoch, values["loss"]))

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
    assert re.fullmatch(r"the loss became (NaN|infinite) at step \d+ — try a smaller learning rate", msg)
    hist = info.value.history
    assert info.value.step == hist.steps_done
    assert all(math.isfinite(v) for v in hist.step_loss[:-1]) and not math.isfinite(hist.step_loss[-1])


def test_cancel_token_stops_and_keeps_history():
    X, y = _data()
    model = _model()
    token = CancelToken()

    class StopAt(Callback):
        def on_step(self, step, epoch, values):
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


def test_driving_the_loop_epoch_by_epoch_equals_one_run():
    """The playground's Play/Step: run() again goes on where it stopped (epochs, history, shuffles)."""
    X, y = _data()
    a, b = _model(), _model()
    whole = fit(a, (X, y), torch.optim.SGD(a.parameters(), lr=0.1), epochs=3, batch_size=16, device=CPU, seed=5)
    loop = Loop(SupervisedStep(b, (X, y), torch.optim.SGD(b.parameters(), lr=0.1), batch_size=16, device=CPU, seed=5))
    for _ in range(3):
        hist = loop.run(1)
    assert loop.epoch == 3 and [r["epoch"] for r in hist.epochs] == [1, 2, 3]
    assert hist.step_loss == pytest.approx(whole.step_loss, rel=1e-6)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


class Scripted(Step):
    """Reports prepared values, one per step; None entries are steps that report nothing."""

    def __init__(self, values, bound=None):
        self.values, self.bound, self.i = list(values), bound, 0
        self.labels = {"loss": "generator loss"}
        self.unit = "generator step"

    def batches(self, epoch):
        return range(len(self.values))

    def __call__(self, batch):
        v = self.values[self.i]
        self.i += 1
        return None if v is None else {"loss": torch.tensor(v), "other": torch.tensor(0.5)}


def test_one_divergence_rule_nan_and_inf_always_a_bound_only_where_declared():
    assert divergence({"a": 1.0, "b": float("nan")}) == ("b", pytest.approx(float("nan"), nan_ok=True))
    assert divergence({"a": float("-inf")}) == ("a", float("-inf"))
    assert divergence({"a": 1e300}) is None and divergence({"a": 1e300}, bound=1e6) == ("a", 1e300)
    assert divergence({"a": -2e6}, bound=1e6) == ("a", -2e6) and divergence({"a": 1e6}, bound=1e6) is None
    Loop(Scripted([1.0, 5e6, 2.0])).run(1)  # no bound declared: a large finite value is fine
    with pytest.raises(TrainingDiverged) as info:
        Loop(Scripted([1.0, None, 5e6, 2.0], bound=1e6), sync_every=2).run(1)
    assert str(info.value) == "the generator loss became huge (5e+06) at generator step 2 — try a smaller learning rate"
    assert info.value.history.step_loss == [1.0, 5e6] and info.value.history.step_values == {"other": [0.5, 0.5]}


def test_steps_that_report_nothing_are_not_counted_and_max_steps_ends_the_run():
    rec = Recorder()
    hist = Loop(Scripted([None, 1.0, None, 2.0, 3.0, 4.0]), callbacks=[rec], sync_every=3).run(5, max_steps=2)
    assert hist.step_loss == [1.0, 2.0] and [s for s, _, _ in rec.steps] == [1, 2] and len(hist.epochs) == 1
