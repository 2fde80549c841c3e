"""The learning-rate finder (core.lr_finder) against references: fast.ai's smoothing written out by hand,
np.geomspace for the schedule, np.gradient for the steepest descent, and a real sweep through the one
loop, tracked. Each check has a case that passes and a near miss that must not."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.experiment import FINISHED
from core.jobs.api import Recorder
from core.lr_finder import (
    FinderStep,
    LrFinderConfig,
    lr_schedule,
    smooth_losses,
    suggest,
    sweep,
    view_range,
)
from core.training import Loop


def _fastai_smooth(losses, beta):
    """fast.ai's SmoothenValue, as in its source: mov_avg = β·mov_avg + (1−β)·v; value = mov_avg / (1 − β^n)."""
    out, avg = [], 0.0
    for n, v in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**n))
    return np.array(out)


def test_smoothing_is_fastai_bias_corrected_ema():
    rng = np.random.default_rng(0)
    losses = 2.0 + rng.normal(0, 0.3, 200).cumsum() * 0.01
    np.testing.assert_allclose(smooth_losses(losses, 0.98), _fastai_smooth(losses, 0.98), rtol=1e-12)
    # closed form: a constant loss is its own smoothed value from the first step (what bias correction is for)
    np.testing.assert_allclose(smooth_losses(np.full(10, 3.0), 0.98), 3.0, rtol=1e-12)
    # near misses: another β, or the plain EMA without the correction, differ
    assert not np.allclose(smooth_losses(losses, 0.98), _fastai_smooth(losses, 0.97), rtol=1e-6)
    plain = np.array(_fastai_smooth(losses, 0.98)) * (1 - 0.98 ** np.arange(1, 201))
    assert not np.allclose(smooth_losses(losses, 0.98), plain, rtol=1e-3)


def test_schedule_is_geometric():
    np.testing.assert_allclose(lr_schedule(1e-7, 10.0, 100), np.geomspace(1e-7, 10.0, 100), rtol=1e-12)
    np.testing.assert_allclose(lr_schedule(1e-3, 1.0, 2), [1e-3, 1.0], rtol=1e-12)
    assert not np.allclose(lr_schedule(1e-7, 10.0, 100), np.geomspace(1e-7, 10.0, 101)[:100], rtol=1e-6)
    for bad in ((0.0, 1.0, 10), (1.0, 1.0, 10), (1e-3, 1.0, 1)):
        with pytest.raises(ValueError):
            lr_schedule(*bad)


def test_steepest_descent_on_a_curve_with_a_known_answer():
    lrs = np.geomspace(1e-6, 1.0, 121)  # 20 points per decade: 1e-3 is one of them
    u = np.log(lrs / 1e-3)
    loss = 2.0 - np.tanh(u)  # falls fastest (per log lr) exactly at lr = 1e-3
    found = suggest(lrs, loss)
    ref = lrs[np.argmin(np.gradient(loss, np.log(lrs)))]
    assert found.steep == pytest.approx(ref) == pytest.approx(1e-3, rel=1e-9)
    # a curve whose steepest point is a decade later is not mistaken for it
    assert suggest(lrs, 2.0 - np.tanh(np.log(lrs / 1e-2))).steep == pytest.approx(1e-2, rel=1e-9)
    # the minimum-loss rule: the lowest loss is at 1e-2, so 1e-3 is suggested beside it
    bowl = (np.log10(lrs) + 2) ** 2
    found = suggest(lrs, bowl)
    assert found.minimum == pytest.approx(1e-3, rel=1e-9) and found.minimum_index == 80
    assert found.minimum != pytest.approx(1e-2, rel=1e-3)


def test_suggestion_skips_the_start_and_stops_at_a_nan():
    lrs = np.geomspace(1e-5, 1.0, 51)
    loss = 2.0 - np.tanh(np.log(lrs / 1e-2))
    loss[:3] = [5.0, 2.0, 2.0]  # a noisy first step: the steepest drop of all
    assert suggest(lrs, loss).steep == pytest.approx(lrs[0])
    assert suggest(lrs, loss, skip_start=5).steep == pytest.approx(1e-2, rel=1e-9)
    loss2 = 2.0 - np.tanh(np.log(lrs / 1e-2))
    loss2[30:] = np.nan  # only the part before the NaN counts
    assert suggest(lrs, loss2).steep <= lrs[29]
    with pytest.raises(ValueError, match="too few"):
        suggest(lrs[:2], loss[:2])


def test_config_checks_its_range():
    LrFinderConfig(lr_min=1e-5, lr_max=1e-4)
    with pytest.raises(ValueError, match="smallest rate"):
        LrFinderConfig(lr_min=1e-2, lr_max=1e-2)
    with pytest.raises(ValueError):
        LrFinderConfig(steps=5)


def _regression(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g)
    y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(n, generator=g)
    return X, y


def _mse(out, y):
    return F.mse_loss(out.squeeze(-1), y)


def _step(cfg, model=None, lr=1e-3, opt=None, loss_fn=_mse):
    torch.manual_seed(0)
    model = model or nn.Linear(4, 1)
    opt = opt or torch.optim.SGD(model.parameters(), lr=lr)
    return FinderStep(model, _regression(), opt, cfg, loss_fn=loss_fn, batch_size=32, device=torch.device("cpu"),
                      seed=0, amp=False)


def test_the_sweep_ends_when_the_smoothed_loss_passes_four_times_its_best():
    cfg = LrFinderConfig(lr_min=1e-4, lr_max=10.0, steps=200)  # plain SGD on least squares explodes past lr ≈ 1
    step = _step(cfg)
    hist = Loop(step, sync_every=1).run(1)
    sm = np.array(hist.step_values["smoothed"])
    assert step.ended == "exploded" and len(sm) < 200
    assert sm[-1] > 4 * sm.min()  # the last step passed the bound …
    assert np.all(sm[:-1] <= 4 * np.minimum.accumulate(sm[:-1]))  # … and none before it did
    # the step's own running smoothing is the reference one over its losses
    np.testing.assert_allclose(sm, _fastai_smooth(hist.step_loss, 0.98), rtol=1e-6)
    np.testing.assert_allclose(hist.step_values["lr"], lr_schedule(1e-4, 10.0, 200)[: len(sm)], rtol=1e-6)
    # a larger stop factor lets the same sweep go on longer
    longer = _step(LrFinderConfig(lr_min=1e-4, lr_max=10.0, steps=200, stop_factor=50.0))
    assert len(Loop(longer, sync_every=1).run(1).step_loss) > len(sm)


def test_a_gentle_range_uses_every_rate_and_a_nan_ends_the_sweep_without_failing():
    step = _step(LrFinderConfig(lr_min=1e-5, lr_max=1e-3, steps=30))
    assert len(Loop(step, sync_every=1).run(1).step_loss) == 30 and step.ended == ""

    calls = []

    def nan_at_12(out, y):  # a loss that turns NaN at the 12th batch, before the smoothed loss explodes
        calls.append(1)
        loss = _mse(out, y)
        return loss * float("nan") if len(calls) >= 12 else loss

    step = _step(LrFinderConfig(lr_min=1e-5, lr_max=1e-3, steps=30), loss_fn=nan_at_12)
    hist = Loop(step, sync_every=1).run(1)  # no TrainingDiverged: past that rate the sweep is over
    assert step.ended == "non-finite" and len(hist.step_loss) == 11
    assert all(math.isfinite(v) for v in hist.step_loss)


def test_parameter_groups_keep_their_ratio():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    opt = torch.optim.SGD([{"params": model[1].parameters(), "lr": 1e-3},
                           {"params": model[0].parameters(), "lr": 1e-4}], lr=1e-3)
    step = _step(LrFinderConfig(lr_min=1e-5, lr_max=1e-3, steps=10), model=model, opt=opt)
    Loop(step, sync_every=1).run(1)
    head, body = (g["lr"] for g in opt.param_groups)
    assert head == pytest.approx(1e-3) and body == pytest.approx(1e-4)


def test_a_real_sweep_is_tracked_and_suggests_a_rate_in_range(fresh_store):
    torch.manual_seed(0)
    X = torch.randn(400, 8)
    y = (X[:, 0] + X[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    cfg = LrFinderConfig(lr_min=1e-5, lr_max=10.0, steps=80)
    ctx = Recorder()
    res = sweep(ctx, "demo", {"sweep": cfg}, model, (X, y), torch.optim.Adam(model.parameters(), lr=1e-3), cfg,
                batch_size=32, device=torch.device("cpu"))
    assert res.status == FINISHED and res.suggestion is not None
    assert 1e-5 <= res.suggestion.steep <= 10.0 and res.suggestion.steep <= res.lrs[-1]
    assert 1e-4 < res.suggestion.steep < 1.0  # Adam on a small MLP: the usual 1e-3–1e-1 band
    rows = ctx.snapshot().metrics["lr_finder"]
    assert [r["lr"] for r in rows] == pytest.approx(res.lrs)
    run = tracking.search_runs().iloc[0]
    assert run["tags.dll.kind"] == "lr-finder" and run["status"] == "FINISHED"
    assert run["metrics.suggested_lr"] == pytest.approx(res.suggestion.steep)
    assert len(tracking.metric_history(res.run_id, "lr")) == len(res.lrs)
    assert len(tracking.metric_history(res.run_id, "loss")) == len(res.lrs)
    assert any(path.endswith("lr_finder.png") for path, _ in tracking.image_artifacts(res.run_id))


def test_view_range_keeps_the_start_of_the_explosion():
    lo, hi = view_range([2.0, 1.0, 50.0], [2.0, 1.5, 9.0])
    assert lo < 1.0 and 3.0 < hi < 3.2  # up to 1.5× the first smoothed loss, padded
    assert view_range([], []) is None
