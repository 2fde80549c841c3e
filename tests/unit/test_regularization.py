"""Regularization: the course's formulas against references (numpy, autograd, torch's
BatchNorm1d), augmentation transforms, and the page's tracked experiments on tiny set-ups."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.colors import PALETTE
from core.experiment import series_with_suffix
from core.jobs import FINISHED, KILLED, Recorder, run_job
from core.nets import mlp, weight_matrices
from core.plots.regularization import (
    bn_stats_chart,
    error_bars,
    preview_figure,
    step_losses,
    sweep_chart,
    train_dev_curves,
    weight_histogram_chart,
    weight_norm_bars,
)
from core.regularization import InvertedDropout, batch_norm, l2_penalty
from core.regularization.augment import (
    add_noise,
    adjust_colour,
    augment,
    augment_spec,
    augmented_training_set,
    crop,
    hflip,
    preview,
    rotate,
)
from core.regularization.experiments import (
    AugmentConfig,
    BatchNormConfig,
    EarlyStopConfig,
    OverfitConfig,
    SweepConfig,
    run_augmentation,
    run_batch_norm,
    run_early_stopping,
    run_overfit,
    run_sweep,
    sweep_points,
)
from core.regularization.lab import (
    RegLane,
    RegResult,
    Setup,
    diagnosis,
    lane_spec,
    parse_values,
    prepare_setup,
    results_table,
)
from core.regularization.measures import BatchNormLook, look_inside_batch_norm, weight_histograms, weight_values
from core.regularization.report import (
    bn_checks,
    bn_look_intro,
    comparison_caption,
    curve_title,
    download_names,
    early_stop_marks,
    early_stop_summary,
    early_stopped_lane,
    error_rows,
    growth_caption,
    lambda_sq_norms,
    lane_diagnoses,
    preview_cell,
    preview_grid,
    preview_titles,
    results_frame,
    step_series,
    transform_legend,
)
from core.training import History, evaluate
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")


# ------------------------------------------------------------------------------ L2


def test_l2_penalty_is_lambda_over_2m_times_sum_of_squared_frobenius_norms():
    g = torch.Generator().manual_seed(0)
    weights = [torch.randn(5, 3, generator=g), torch.randn(4, 5, generator=g), torch.randn(2, 3, 3, generator=g)]
    lam, m = 0.7, 13
    ref = lam / (2 * m) * sum(np.linalg.norm(w.numpy().reshape(w.shape[0], -1), "fro") ** 2 for w in weights)
    assert l2_penalty(weights, lam, m).item() == pytest.approx(ref, rel=1e-6)
    assert l2_penalty(weights, 0.0, m).item() == 0.0
    assert l2_penalty([], lam, m).item() == 0.0


def test_l2_gradient_adds_lambda_over_m_times_w_to_dw():
    """dW = (from backprop) + (λ/m)·W, through autograd on a real network."""
    torch.manual_seed(0)
    model = mlp(6, (8, 7), 3)
    X, y = torch.randn(20, 6), torch.randint(0, 3, (20,))
    lam, m = 3.0, len(y)

    def grads(with_penalty: bool) -> list[torch.Tensor]:
        model.zero_grad()
        loss = F.cross_entropy(model(X), y)
        if with_penalty:
            loss = loss + l2_penalty(weight_matrices(model), lam, m)
        loss.backward()
        return [w.grad.clone() for w in weight_matrices(model)]

    plain, regularized = grads(False), grads(True)
    for w, d0, d1 in zip(weight_matrices(model), plain, regularized):
        torch.testing.assert_close(d1, d0 + lam / m * w.detach(), rtol=1e-5, atol=1e-6)
    biases = [mod.bias for mod in model.modules() if isinstance(mod, nn.Linear)]
    model.zero_grad()
    l2_penalty(weight_matrices(model), lam, m).backward()
    assert all(b.grad is None for b in biases)  # biases are not penalised


@pytest.mark.parametrize("lam, m, msg", [(-0.1, 10, "λ"), (1.0, 0, "at least 1")])
def test_l2_penalty_rejects_bad_arguments(lam, m, msg):
    with pytest.raises(ValueError, match=msg):
        l2_penalty([torch.ones(2, 2)], lam, m)


# ------------------------------------------------------------------------- dropout


def test_inverted_dropout_is_identity_in_eval_and_at_keep_prob_one():
    a = torch.randn(50, 40)
    d = InvertedDropout(0.6).eval()
    assert torch.equal(d(a), a)
    assert torch.equal(InvertedDropout(1.0).train()(a), a)


def test_inverted_dropout_zeroes_or_scales_by_one_over_keep_prob_and_keeps_the_mean():
    torch.manual_seed(0)
    keep = 0.7
    a = torch.rand(1000, 1000) + 0.5  # positive, so a dropped unit is exactly 0
    out = InvertedDropout(keep).train()(a)
    kept = out != 0
    torch.testing.assert_close(out[kept], a[kept] / keep)
    assert kept.float().mean().item() == pytest.approx(keep, abs=3e-3)
    assert out.mean().item() == pytest.approx(a.mean().item(), rel=5e-3)  # E[A·D/keep_prob] = A


@pytest.mark.parametrize("keep", [0.0, -0.2, 1.5])
def test_inverted_dropout_rejects_bad_keep_prob(keep):
    with pytest.raises(ValueError, match="keep_prob"):
        InvertedDropout(keep)


# ----------------------------------------------------------------------- batch norm


def test_batch_norm_formula_matches_torch_with_batch_and_running_statistics():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(16, 5, generator=g) * 3 + 2
    gamma, beta = torch.rand(5, generator=g) + 0.5, torch.randn(5, generator=g)
    ref = F.batch_norm(z, None, None, gamma, beta, training=True, eps=1e-5)
    torch.testing.assert_close(batch_norm(z, gamma, beta, 1e-5), ref)
    rm, rv = torch.randn(5, generator=g), torch.rand(5, generator=g) + 0.1
    ref = F.batch_norm(z, rm, rv, gamma, beta, training=False, eps=1e-5)
    torch.testing.assert_close(batch_norm(z, gamma, beta, 1e-5, rm, rv), ref)
    with pytest.raises(ValueError, match="both"):
        batch_norm(z, gamma, beta, mean=rm)
    with pytest.raises(ValueError, match="at least 2"):
        batch_norm(z[:1], gamma, beta)


def test_running_stats_are_the_exponentially_weighted_average_of_batch_stats_and_eval_uses_them():
    torch.manual_seed(0)
    momentum = 0.1  # torch's momentum is 1 − β of the course's exponentially weighted average
    bn = nn.BatchNorm1d(4, momentum=momentum).train()
    mean, var = torch.zeros(4), torch.ones(4)  # where the averages start
    for t in range(7):
        z = torch.randn(10, 4) * (t + 1) + t
        bn(z)
        mean = (1 - momentum) * mean + momentum * z.mean(0)
        var = (1 - momentum) * var + momentum * z.var(0, unbiased=True)  # torch keeps the unbiased variance
    torch.testing.assert_close(bn.running_mean, mean)
    torch.testing.assert_close(bn.running_var, var)
    bn.eval()
    z = torch.randn(6, 4)
    expected = bn.weight * (z - mean) / torch.sqrt(var + bn.eps) + bn.bias
    torch.testing.assert_close(bn(z), expected)


def test_look_inside_batch_norm_compares_running_and_batch_statistics():
    torch.manual_seed(0)
    model = mlp(6, (8,), 3, batch_norm=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        X = torch.randn(32, 6) * 2 + 1
        opt.zero_grad()
        F.cross_entropy(model(X), torch.randint(0, 3, (32,))).backward()
        opt.step()
    bn = model[2]
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    X = torch.randn(16, 6) * 2 + 1
    look = look_inside_batch_norm(model, X)
    z = model[1](model[0](X))  # the BN layer's input Z
    np.testing.assert_allclose(look.batch_mean, z.mean(0).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(look.batch_var, z.var(0, unbiased=False).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(look.running_mean, bn.running_mean.numpy())
    assert look.eval_vs_running < 1e-5 and look.train_vs_batch < 1e-5 and look.eval_vs_batch > 1e-3
    assert all(torch.equal(before[k], v) for k, v in bn.state_dict().items())  # buffers untouched
    assert model.training
    with pytest.raises(ValueError, match="no batch-norm"):
        look_inside_batch_norm(mlp(6, (8,), 3), X)


# --------------------------------------------------------------------- augmentation


def test_flip_is_exact_and_transforms_keep_shape_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 8, 8, generator=g)
    np.testing.assert_array_equal(hflip(x).numpy(), x.numpy()[..., ::-1])
    assert torch.equal(hflip(hflip(x)), x)
    spec = augment_spec(("flip", "rotate", "crop", "colour", "noise"), copies=2, max_degrees=30, brightness=0.5,
                       contrast=0.8, noise_std=0.5)
    for out in (rotate(x, 33.0), crop(x, 0.6, 0.2, -0.3), adjust_colour(x, 0.4, 1.8), add_noise(x, 0.5, g),
                augment(x, spec, g)):
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1


def test_rotate_and_crop_against_closed_forms():
    x = torch.rand(3, 1, 6, 6)
    torch.testing.assert_close(rotate(x, 90.0), torch.rot90(x, 1, (-2, -1)))  # counter-clockwise quarter turn
    torch.testing.assert_close(rotate(x, 0.0), x)
    torch.testing.assert_close(crop(x, 1.0), x)
    # the central half of a 4×4 image, stretched back to 4×4, samples at 0.75, 1.25, 1.75, 2.25 —
    # exactly the middle of a 2× bilinear upsampling (half-pixel centres)
    img = torch.rand(2, 1, 4, 4)
    up = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(crop(img, 0.5), up[..., 2:6, 2:6])
    with pytest.raises(ValueError, match="crop scale"):
        crop(x, 0.0)


def test_colour_and_noise_follow_their_formulas():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 8, 8, generator=g) * 0.5 + 0.25
    ref = np.clip((x.numpy() - x.numpy().mean(axis=(1, 2, 3), keepdims=True)) * 1.5
                  + x.numpy().mean(axis=(1, 2, 3), keepdims=True) + 0.1, 0, 1)
    np.testing.assert_allclose(adjust_colour(x, 0.1, 1.5).numpy(), ref, rtol=1e-6, atol=1e-6)
    grey = torch.full((200, 1, 28, 28), 0.5)
    diff = add_noise(grey, 0.05, g) - grey  # no clipping at 0.5 ± 10σ
    assert diff.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert diff.std().item() == pytest.approx(0.05, rel=0.01)


def test_augmented_set_appends_labelled_copies_and_the_preview_shows_them():
    x = torch.rand(10, 1, 8, 8)
    y = torch.arange(10)
    spec = augment_spec(("rotate", "noise"), copies=3)
    Xa, ya = augmented_training_set(x, y, spec, seed=4)
    assert Xa.shape == (40, 1, 8, 8) and torch.equal(ya, y.repeat(4)) and torch.equal(Xa[:10], x)
    assert not torch.equal(Xa[10:20], x)
    Xb, _ = augmented_training_set(x, y, spec, seed=4)
    assert torch.equal(Xa, Xb)  # seeded
    grid = preview(x, spec, n_examples=2, seed=4)
    assert grid.shape == (2, 4, 1, 8, 8)
    np.testing.assert_array_equal(grid[1, 2], Xa[21].numpy())  # image 1, copy 2


@pytest.mark.parametrize("kwargs, msg", [
    ({"transforms": ()}, "at least one"), ({"transforms": ("blur",)}, "unknown"), ({"copies": 0}, "copies"),
    ({"crop_scale": 0.1}, "crop"), ({"contrast": 1.0}, "contrast"), ({"noise_std": -1}, "noise"),
])
def test_augment_spec_rejects_bad_settings(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        augment_spec(**kwargs)


# ---------------------------------------------------------------- configs, reading


@pytest.mark.parametrize("make, msg", [
    (lambda: Setup(dataset="cifar10"), "image set"), (lambda: Setup(n_train=5), "training examples"),
    (lambda: Setup(hidden=()), "hidden"), (lambda: Setup(lr=0), "learning rate"),
    (lambda: OverfitConfig(lam=-1), "λ"), (lambda: OverfitConfig(keep_prob=0), "keep_prob"),
    (lambda: SweepConfig(lambdas=(), keep_probs=()), "at least one"), (lambda: SweepConfig(keep_probs=(1.2,)), "keep_prob"),
    (lambda: EarlyStopConfig(patience=0), "patience"), (lambda: EarlyStopConfig(monitor="train loss"), "watch"),
    (lambda: BatchNormConfig(learning_rates=()), "learning rates"),
    (lambda: BatchNormConfig(setup=Setup(batch_size=1)), "at least 2"),
])
def test_configs_reject_bad_settings_with_plain_messages(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_parse_values():
    assert parse_values(" 0, 0.5;2  1e-3 ", "λ values") == (0.0, 0.5, 2.0, 0.001)
    assert parse_values("", "λ values") == ()
    with pytest.raises(ValueError, match="λ values: 'abc' is not a number"):
        parse_values("1, abc", "λ values")


def test_diagnosis_reads_the_course_examples():
    assert diagnosis(0.01, 0.11) == "high variance (overfitting)"
    assert diagnosis(0.15, 0.16) == "high bias (underfitting)"
    assert diagnosis(0.15, 0.30) == "high bias and high variance"
    assert diagnosis(0.005, 0.01) == "low bias and low variance"


# ------------------------------------------------------------------- experiments


def test_overfitting_set_up_overfits_and_l2_shrinks_the_weights(fresh_store):
    setup = Setup(n_train=200, hidden=(256, 256), epochs=15, seed=0)
    result = run_sweep(None, SweepConfig(setup, lambdas=(0.0, 10.0), keep_probs=(0.5,)), device=CPU)
    base, l2, drop = result.lanes
    assert [ln.status for ln in result.lanes] == ["FINISHED"] * 3
    assert base.train_error < 0.02 and base.dev_error > base.train_error + 0.08  # high variance
    data = prepare_setup(setup)
    # independent check of the recorded errors: the run's own logged final train accuracy
    df = tracking.search_runs().set_index("params.lane")
    assert df.loc["λ=0", "metrics.final_train_accuracy"] == pytest.approx(1 - base.train_error)
    sq = [sum(v * v for v in ln.weight_norms) for ln in (base, l2)]
    assert sq[1] < 0.5 * sq[0]  # same seed and initial weights; only λ differs
    assert df.loc["λ=10", "metrics.weight_sq_norm"] == pytest.approx(sq[1], rel=1e-5)
    edges, frac = result.extras["weight_hist"]
    centre = np.abs((edges[:-1] + edges[1:]) / 2) < (edges[-1] / 10)
    assert frac["λ=10"][centre].sum() > frac["λ=0"][centre].sum()  # the distribution narrows towards 0
    assert drop.spec.keep_prob == 0.5 and drop.dev_error is not None
    assert set(df["tags.dll.comparison"]) == {result.comparison} and set(df["experiment"]) == {"regularization"}
    assert df.loc["λ=10", "params.lam"] == "10.0" and df.loc["keep_prob=0.5", "params.keep_prob"] == "0.5"
    assert len(tracking.metric_history(df.loc["λ=0", "run_id"], "train_error")) == 15  # one per epoch
    points = sweep_points(result)
    assert [p[0] for p in points["λ"]] == [0.0, 10.0] and [p[0] for p in points["keep_prob"]] == [0.5]
    assert len(results_table(result)) == 3 and data.sizes["train"] == 200


def test_early_stopping_returns_the_best_epochs_weights(fresh_store):
    setup = Setup(n_train=200, epochs=30, seed=0)
    result = run_early_stopping(None, EarlyStopConfig(setup, patience=3, compare=True), device=CPU)
    full, es = result.lanes
    hist = es.history
    assert hist.stopped_early and len(hist.epochs) == hist.best_epoch + 3 < 30
    best = min(hist.epochs, key=lambda r: r["dev_loss"])
    assert best["epoch"] == hist.best_epoch
    assert es.final["dev_loss"] == pytest.approx(best["dev_loss"], rel=1e-6)  # the restored network
    assert es.final["dev_loss"] < full.final["dev_loss"]  # the dev loss went up after the best epoch
    # same start and batches: early stopping saw exactly the first epochs of the full run
    assert [r["dev_loss"] for r in hist.epochs] == pytest.approx([r["dev_loss"] for r in full.history.epochs[: len(hist.epochs)]])
    df = tracking.search_runs().set_index("params.lane")
    assert df.loc["early stopping", "metrics.best_epoch"] == hist.best_epoch
    assert df.loc["early stopping", "metrics.returned_model_dev_loss"] == pytest.approx(best["dev_loss"], rel=1e-6)
    assert df.loc["early stopping", "params.patience"] == "3" and set(df["status"]) == {"FINISHED"}


def test_early_stopping_restores_weights_checked_by_evaluate():
    """The same through fit directly: evaluate() on the returned model gives the best epoch's dev loss."""
    from core.training import EarlyStopping, fit

    data = prepare_setup(Setup(dataset="digits", n_train=100))
    torch.manual_seed(0)
    model = mlp(data.n_features, (128, 128), data.n_classes)
    hist = fit(model, data.train, torch.optim.Adam(model.parameters(), 3e-3), dev=data.dev, epochs=60, batch_size=16,
               early_stopping=EarlyStopping(patience=2), device=CPU)
    assert hist.best_epoch is not None
    assert evaluate(model, *data.dev)["loss"] == pytest.approx(hist.epochs[hist.best_epoch - 1]["dev_loss"], rel=1e-6)


def test_stop_kills_the_current_lane_and_skips_the_rest(fresh_store):
    cfg = SweepConfig(Setup(dataset="digits", n_train=500, batch_size=8, epochs=200), lambdas=(0.0, 1.0), keep_probs=())
    ending = run_job(run_sweep, StopAfter("λ=0/train", 2, "regularization.sweep"), cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    result = ending.result
    assert result.stopped and [ln.status for ln in result.lanes] == ["KILLED", "SKIPPED"]
    assert [ln.spec.lam for ln in result.lanes] == [0.0, 1.0]  # a skipped lane keeps its spec for the table
    assert len(result.lanes[0].history.epochs) == 2 and result.lanes[1].run_id is None
    df = tracking.search_runs()
    assert df["status"].tolist() == ["KILLED"] and df.iloc[0]["run_id"] == result.lanes[0].run_id
    assert df.iloc[0]["tags.dll.comparison"] == result.comparison
    assert len(tracking.metric_history(result.lanes[0].run_id, "train_loss")) == result.lanes[0].steps
    assert "weight_hist" not in result.extras  # no λ lane finished
    rows = results_table(result)
    assert [r["status"] for r in rows] == ["KILLED", "SKIPPED"] and rows[0]["train error"] is None


def test_a_diverging_lane_fails_with_the_sentence_and_the_next_one_trains(fresh_store):
    # plain gradient descent with α·λ/m = 5: each step multiplies the weights by 1 − 5 = −4 until they overflow
    setup = Setup(dataset="digits", n_train=100, hidden=(32,), optimizer="Gradient descent", lr=0.5, batch_size=10,
                  epochs=5, seed=0)
    ctx = Recorder("regularization.sweep")
    ending = run_job(run_sweep, ctx, SweepConfig(setup, lambdas=(1000.0, 0.0), keep_probs=()))
    assert ending.status == FINISHED and not ending.result.stopped  # a diverged lane does not fail the job
    blown, plain = ending.result.lanes
    assert blown.status == "FAILED" and blown.final == {} and blown.dev_error is None
    assert blown.error == f"the loss became infinite at step {blown.steps} — try a smaller learning rate"
    assert ctx.snapshot().diverged == (("λ=1000", blown.error),)  # said once, for the job panel
    assert plain.status == "FINISHED" and plain.dev_error is not None  # the next lane trained
    df = tracking.search_runs().set_index("params.lane")
    assert df.loc["λ=1000", "status"] == "FAILED" and df.loc["λ=1000", "tags.dll.error"] == blown.error
    assert sweep_points(ending.result) == {"λ": [(0.0, plain.train_error, plain.dev_error)], "keep_prob": []}
    assert results_table(ending.result)[0]["status"] == "FAILED"


TINY = Setup(dataset="digits", n_train=24, hidden=(16,), batch_size=8, epochs=2, seed=0)
JOBS = {  # each job function with a tiny config, and the live series whose first rows press Stop
    "overfit": (run_overfit, OverfitConfig(TINY, lam=1.0, keep_prob=0.5), "no regularization"),
    "augment": (run_augmentation, AugmentConfig(TINY, augment_spec(("rotate",), copies=1)), "without augmentation"),
    "early": (run_early_stopping, EarlyStopConfig(TINY, patience=1), "all epochs"),
    "bn": (run_batch_norm, BatchNormConfig(TINY, learning_rates=(0.05,), n_train=24, epochs=2), "no BN, α=0.05"),
    "sweep": (run_sweep, SweepConfig(TINY, lambdas=(0.0, 1.0), keep_probs=(0.5,)), "λ=0"),
}


@pytest.mark.parametrize("job", list(JOBS))
def test_every_job_takes_and_returns_plain_data_finished_and_stopped(job, fresh_store):
    fn, cfg, first = JOBS[job]
    assert assert_plain(cfg, "config") == cfg
    ending = run_job(fn, Recorder(f"regularization.{job}"), cfg)
    assert ending.status == FINISHED, ending.error
    result = assert_plain(ending.result)
    assert isinstance(result, RegResult) and not result.stopped
    assert all(ln.status == "FINISHED" and ln.final for ln in result.lanes)
    assert result.comparison == ending.result.comparison and results_table(result) == results_table(ending.result)
    if job == "bn":
        assert result.extras["bn_lane"] == "BN, α=0.05" and len(result.extras["bn_look"].running_mean) == 16
    if job == "sweep":
        assert set(result.extras["weight_hist"][1]) == {"λ=0", "λ=1"}

    stopped = run_job(fn, StopAfter(first, 1, f"regularization.{job}"), cfg)  # Stop in the first epoch
    assert stopped.status == KILLED
    result = assert_plain(stopped.result)
    assert result.stopped and result.lanes[0].status == "KILLED"
    assert {ln.status for ln in result.lanes[1:]} <= {"SKIPPED"} and len(result.lanes) == len(ending.result.lanes)


# --------------------------------------------------------------------------- plots


def test_train_dev_curves_dash_train_and_mark_epochs():
    epochs = {"a": [{"epoch": 1, "dev_accuracy": 0.5, "dev_loss": 1.0}, {"epoch": 2, "dev_accuracy": 0.7, "dev_loss": 0.8}]}
    train = {"a": [{"epoch": 1, "train_accuracy": 0.6, "train_loss": 0.9}, {"epoch": 2, "train_accuracy": 1.0, "train_loss": 0.1}]}
    fig = train_dev_curves(epochs, train, metric="error", marks={"a": {"best": 2}})
    dev, tr, star = fig.data
    assert list(dev.y) == pytest.approx([0.5, 0.3]) and list(tr.y) == pytest.approx([0.4, 0.0])
    assert tr.line.dash == "dash" and dev.line.color == tr.line.color
    assert star.x == (2,) and star.y == pytest.approx((0.3,)) and len(fig.layout.shapes) == 1
    assert list(train_dev_curves(epochs, train, metric="loss").data[0].y) == [1.0, 0.8]
    with pytest.raises(ValueError):
        train_dev_curves(epochs, train, metric="auc")


def test_other_regularization_figures():
    assert len(error_bars([("a", 0.0, 0.2), ("b", None, None)]).data) == 2
    fig = sweep_chart({"λ": [(10.0, 0.1, 0.3), (0.0, 0.0, 0.2)], "keep_prob": []})
    assert list(fig.data[1].x) == ["0", "10"] and list(fig.data[1].y) == [0.2, 0.3]
    edges, frac = weight_histograms({"λ=0": np.linspace(-1, 1, 1001), "λ=9": np.zeros(10)}, bins=10)
    assert len(edges) == 11 and frac["λ=9"].sum() == pytest.approx(1.0) and frac["λ=0"].sum() == pytest.approx(1.0)
    assert len(weight_histogram_chart(edges, frac).data) == 2
    images = np.random.rand(2, 3, 1, 8, 8)
    grid = preview_figure(images, col_titles=["original", "copy 1", "copy 2"])
    assert len(grid.data) == 1 and grid.data[0].z.shape == (2 * 8 + 3, 3 * 8 + 4, 3)  # 6 tiles, 1-pixel lines
    np.testing.assert_array_equal(grid.data[0].z[1:9, 10:18, 0], (images[0, 1, 0] * 255).round())  # image 0, copy 1
    assert [a.text for a in grid.layout.annotations] == ["original", "copy 1", "copy 2"]
    with pytest.raises(ValueError):
        preview_figure(np.zeros((2, 8, 8)))
    look = bn_stats_chart(np.zeros(20), np.ones(20), np.ones(20), np.ones(20), units=5)
    assert len(look.data) == 4 and len(look.data[0].x) == 5
    rows = {"ok": [{"step": i, "loss": 2.0 / i} for i in range(1, 30)],
            "boom": [{"step": i, "loss": 2.0 * 10**i} for i in range(1, 30)]}
    fig = step_losses(rows)
    assert fig.layout.yaxis.range[1] == pytest.approx(math.log10(5 * 20.0))  # the blown-up lane leaves the top
    assert weight_values(mlp(3, (4,), 2)).shape == (3 * 4 + 4 * 2,)
    bars = weight_norm_bars({"λ=0": 300.0, "λ=10": 30.0})
    assert list(bars.data[0].y) == ["λ=0", "λ=10"] and list(bars.data[0].marker.color) == [PALETTE[0], PALETTE[1]]


# ---------------------------------------------------------------- what the page shows


def _lane(name, errors=None, *, patience=0, epochs=(), best=None, stopped=False, norms=()):
    """A lane built by hand: ``errors`` = (train error, dev error, dev loss) of a finished one."""
    final = {} if errors is None else dict(zip(("train_error", "dev_error", "dev_loss"), errors))
    spec = lane_spec(Setup(), "test", name, patience=patience, monitor="dev loss" if patience else "")
    return RegLane(name, "FINISHED" if final else "KILLED", "run-" + name, History(epochs=list(epochs), best_epoch=best,
                   stopped_early=stopped), spec=spec, final=final, weight_norms=tuple(norms))


def _result(*lanes):
    return RegResult("test-1234abcd", list(lanes), kind="test", sizes={"train": 200, "dev": 1000})


def test_live_series_are_picked_by_name():
    metrics = {"a": [{"step": 1}], "a/epochs": [{"epoch": 1}], "b/epochs": [{"epoch": 2}], "a/train": [{"epoch": 3}]}
    assert series_with_suffix(metrics, "/epochs") == {"a": [{"epoch": 1}], "b": [{"epoch": 2}]}
    assert series_with_suffix(metrics, "/train") == {"a": [{"epoch": 3}]}
    assert series_with_suffix({}, "/train") == {}
    assert step_series(metrics) == {"a": [{"step": 1}]}
    with pytest.raises(ValueError, match="suffix"):
        series_with_suffix(metrics, "")
    assert curve_title("error") == "Error per epoch: train dashed, dev solid"
    assert curve_title("loss", train=False) == "Dev loss per epoch"


def test_error_rows_and_diagnoses_of_a_result():
    result = _result(_lane("a", (0.01, 0.11, 0.4)), _lane("b", (0.15, 0.16, 0.9)), _lane("c"))
    assert error_rows(result) == [("a", 0.01, 0.11), ("b", 0.15, 0.16), ("c", None, None)]
    assert error_rows(_result(_lane("c"))) == []  # nothing finished: no bars
    assert lane_diagnoses(result) == [
        "- **a**: train error 1.0%, dev error 11.0% → high variance (overfitting)",
        "- **b**: train error 15.0%, dev error 16.0% → high bias (underfitting)",
    ]


def test_results_frame_csv_caption_and_download_names():
    result = _result(_lane("a", (0.1, 0.3, 0.75), norms=(3.0, 4.0)), _lane("b"))
    table = results_frame(result)
    assert list(table["lane"]) == ["a", "b"] and list(table["status"]) == ["FINISHED", "KILLED"]
    assert table.loc[0, "gap (dev − train)"] == pytest.approx(0.2) and table.loc[0, "Σ‖W‖²"] == pytest.approx(25.0)
    text = table.to_csv(index=False)  # what the page's download button sends
    assert text.splitlines()[0].startswith("lane,status,λ,keep_prob,batch norm,α,augmentation,patience,train error")
    assert text.splitlines()[1].startswith("a,FINISHED,0.0,1.0,False,0.001,none,,0.1,0.3,")
    assert len(text.splitlines()) == 3  # header and two lanes, no index column
    assert comparison_caption(result) == "Comparison tag `test-1234abcd` · data sizes {'train': 200, 'dev': 1000}"
    assert download_names("overfitting") == ("regularization_overfitting.csv", "Download overfitting results (CSV)")
    assert download_names("early-stopping") == ("regularization_early_stopping.csv", "Download early-stopping results (CSV)")
    assert download_names("batch-norm") == ("regularization_batch_norm.csv", "Download batch-norm results (CSV)")
    with pytest.raises(ValueError, match="name"):
        download_names(" ")


def test_early_stopping_marks_and_summary():
    rows = [{"epoch": e, "dev_loss": loss} for e, loss in enumerate((0.9, 0.6, 0.5, 0.55, 0.7), start=1)]
    full = _lane("all epochs", (0.0, 0.2, 0.7), epochs=rows, best=3)  # patience 0: not early stopping
    es = _lane("early stopping", (0.02, 0.15, 0.5), patience=2, epochs=rows, best=3, stopped=True)
    result = _result(full, es)
    assert early_stopped_lane(result) is es
    assert early_stop_marks(result) == {"early stopping": {"best": 3, "stopped": 5}}
    assert early_stop_marks(None) is None and early_stop_marks(_result(full)) is None
    assert early_stop_summary(es) == ("Early stopping stopped early after epoch 5 and went back to epoch 3. "
                                      "Dev loss of the returned network: **0.5000** (at epoch 3 it was 0.5000).")
    kept_on = _lane("early stopping", (0.0, 0.1, 0.5), patience=9, epochs=rows[:3], best=3)
    assert early_stop_summary(kept_on).startswith(
        "Early stopping ran all epochs (the dev set kept improving) after epoch 3 and went back to epoch 3.")
    assert early_stop_summary(None) is None
    assert early_stop_summary(_lane("early stopping", patience=2, epochs=rows[:2], best=1)) is None  # stopped: no final


def test_batch_norm_look_texts_and_sweep_norms():
    look = BatchNormLook(0, 32, np.zeros(3), np.ones(3), np.zeros(3), np.ones(3), 1e-7, 2e-7, 0.25)
    assert bn_look_intro(look, "BN, α=2") == (
        "**Inside the first batch-norm layer** of *BN, α=2*, fed one dev mini-batch of 32 examples: the running "
        "averages (used in eval mode) next to the batch's own statistics (used in training).")
    checks = bn_checks(look)
    assert list(checks.columns) == ["check", "largest difference"]
    assert list(checks["largest difference"]) == [1e-7, 2e-7, 0.25]
    assert checks["check"].str.startswith(("eval-mode output − formula", "training-mode output − formula",
                                           "eval-mode output − training-mode")).all()
    result = _result(_lane("λ=0", (0, 0, 0), norms=(3.0, 4.0)), _lane("λ=10", (0, 0, 0), norms=(1.0, 2.0)),
                     _lane("λ=30"), _lane("keep_prob=0.5", (0, 0, 0), norms=(5.0,)))
    assert lambda_sq_norms(result) == {"λ=0": 25.0, "λ=10": 5.0}


def test_augmentation_preview_labels_and_grid():
    legend = transform_legend()
    assert legend.startswith("**flip**: mirror left-right (half of the copies) · **rotate**: ")
    assert legend.count(" · ") == 4 and legend.endswith("**noise**: add Gaussian pixel noise")
    assert preview_titles(3) == ["original", "copy 1", "copy 2", "copy 3"]
    assert preview_cell("digits") == 95 and preview_cell("mnist_sample") == 110
    assert growth_caption(50, 3) == "The training set grows from 50 to 200 images."
    setup = Setup(dataset="digits", n_train=20, seed=3)
    grid = preview_grid(setup, augment_spec(("rotate",), copies=2, max_degrees=30))
    assert grid.shape == (4, 3, 1, 8, 8)
    np.testing.assert_array_equal(grid[:, 0], prepare_setup(setup).train[0][:4].numpy())  # the originals, untouched
    assert not np.array_equal(grid[:, 1], grid[:, 0])
