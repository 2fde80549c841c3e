"""GANs (core.generative.gan, .classifier, .toy): the losses against the course's V(D, G), the
saturating gradient of the minimax loss, k D-steps per G-step in the one loop, tracked runs (FINISHED,
FAILED with the sentence when a loss explodes, KILLED on Stop, each handing back plain data and a
generator the page can load), the Fréchet distance against closed forms and scipy, class and mode
coverage on hand-made sets, the toy presets, config validation and the figures."""

import math
import re

import numpy as np
import pytest
import scipy.linalg
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from core import artifacts, tracking
from core.generative import classifier
from core.generative.classifier import class_coverage, digit_classifier, frechet_distance, gaussian_stats
from core.generative.gan import EXPLODED, SAMPLE_TILES, GanConfig, GanStep, load_generator, run_gan
from core.generative.losses import discriminator_loss, generator_loss, value_function
from core.generative.nets import generate, noise, to_pixels
from core.generative.toy import (
    PRESETS,
    SIGMA,
    ToyConfig,
    build_toy_pair,
    mode_coverage,
    run_toy,
    toy_centers,
    toy_data,
)
from core.jobs import FINISHED, KILLED, Recorder, run_job  # a job's statuses (a run's are upper case)
from core.plots.gan import class_coverage_bars, d_output_curves, fd_curve, gan_loss_curves, sample_grid, toy_frames
from core.training import Hooks, Loop, TrainingDiverged
from tests.contexts import StopAfter
from tests.plain import assert_plain

TINY = dict(dataset="digits", max_train=192, batch_size=64, width=8, z_dim=16, eval_samples=100, n_timeline=16)
# the sentence of a GAN whose loss explodes (the old loop's, less its "the game diverged;": the job panel says it)
EXPLODED_SENTENCE = re.compile(r"the (generator|discriminator) loss became (NaN|infinite|huge \(\S+\)) at generator "
                               r"step \d+ — try smaller learning rates \(2e-4 is the DCGAN paper's\)")


def _course_v(real_logits, fake_logits):
    """V(D, G) = E[log D(x)] + E[log(1 − D(G(z)))], written with log and sigmoid as in the course."""
    return torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean()


def _run(run_id):
    runs = tracking.search_runs()
    return runs[runs["run_id"] == run_id].iloc[0]


def _last_grid_from_the_logged_generator(res):
    """The fixed noise batch's samples drawn by the generator loaded from the run, as run_gan keeps them."""
    G = load_generator(res.run_id)
    cfg = res.config
    side = math.isqrt(cfg.n_timeline)
    n_fixed = G.n_classes * side if G.n_classes else cfg.n_timeline
    z = noise(n_fixed, G.z_dim, torch.Generator().manual_seed(cfg.seed + 1))
    labels = torch.arange(n_fixed) // side if G.n_classes else None
    return to_pixels(generate(G, z, labels)).reshape(-1, side, 28, 28)


# ------------------------------------------------------------------------------------------ the losses


def test_losses_are_the_course_value_function():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, generator=g) * 3, torch.randn(70, generator=g) * 3
    v = _course_v(real, fake)
    assert value_function(real, fake).item() == pytest.approx(v.item(), rel=1e-5)
    assert discriminator_loss(real, fake).item() == pytest.approx(-v.item(), rel=1e-5)  # D ascends V
    minimax = torch.log(1 - torch.sigmoid(fake)).mean()  # G descends the part of V it controls
    assert generator_loss(fake, "minimax").item() == pytest.approx(minimax.item(), rel=1e-5)
    assert generator_loss(fake, "non-saturating").item() == pytest.approx(-torch.log(torch.sigmoid(fake)).mean().item(), rel=1e-5)
    # stable where the written formula overflows: D(G(z)) rounds to 1 at a logit of 40
    assert math.isfinite(discriminator_loss(torch.tensor([40.0]), torch.tensor([40.0])).item())
    with pytest.raises(ValueError, match="generator loss"):
        generator_loss(fake, "wasserstein")


def test_minimax_saturates_where_non_saturating_does_not():
    """When D easily rejects G's samples (D(G(z)) ≈ 0), ∂/∂ℓ log(1 − σ(ℓ)) = −σ(ℓ) ≈ 0 but
    ∂/∂ℓ −log σ(ℓ) = −(1 − σ(ℓ)) ≈ −1: the minimax generator gets almost no gradient."""
    for value in (-12.0, -8.0, 0.0, 3.0):
        grads = {}
        for kind in ("minimax", "non-saturating"):
            logit = torch.tensor([value], requires_grad=True)
            generator_loss(logit, kind).backward()
            grads[kind] = logit.grad.item()
        s = 1 / (1 + math.exp(-value))
        assert grads["minimax"] == pytest.approx(-s, abs=1e-6)
        assert grads["non-saturating"] == pytest.approx(-(1 - s), abs=1e-6)
        if value <= -8:
            assert abs(grads["minimax"]) < 1e-3 and grads["non-saturating"] == pytest.approx(-1, abs=1e-3)


def test_k_discriminator_steps_per_generator_step():
    pair = build_toy_pair(ToyConfig(hidden=8))
    X, _ = toy_data("ring", 64, seed=1)
    d_params = {id(p) for p in pair.D.parameters()}
    counts = {"D": 0, "G": 0}

    def hook(opt, args, kwargs):
        first = opt.param_groups[0]["params"][0]
        counts["D" if id(first) in d_params else "G"] += 1

    handle = register_optimizer_step_post_hook(hook)
    try:
        rows = []
        step = GanStep(pair, X, k=3, batch_size=8, device="cpu")
        hist = Loop(step, callbacks=[Hooks(lambda s, e, v: rows.append({"step": s, **v}))], sync_every=4).run(3)
    finally:
        handle.remove()
    assert counts == {"D": 24, "G": 8} and step.d_steps == 24 and step.g_steps == 8  # 8 batches × 3 epochs, every 3rd
    assert [r["step"] for r in rows] == list(range(1, 9)) and hist.steps_done == 8  # the loop counts G steps
    assert all(0 <= r["d_real"] <= 1 and 0 <= r["d_fake"] <= 1 and r["V"] == pytest.approx(-r["d_loss"]) for r in rows)
    assert hist.step_loss == [r["g_loss"] for r in rows]  # the monitored value: G's loss
    step = GanStep(build_toy_pair(ToyConfig(hidden=8)), X, batch_size=8, device="cpu")
    assert Loop(step).run(5, max_steps=11).steps_done == 11 and step.g_steps == 11


def test_the_step_declares_its_explosion_bound_and_names_both_players():
    step = GanStep(build_toy_pair(ToyConfig(hidden=8)), toy_data("ring", 64)[0], batch_size=8, device="cpu")
    assert step.bound == EXPLODED == 1e6 and step.monitor == "g_loss" and step.unit == "generator step"
    exc = TrainingDiverged(3, 2e6, what=step.labels["d_loss"], unit=step.unit, advice=step.advice)
    assert str(exc) == "the discriminator loss became huge (2e+06) at generator step 3 — try smaller learning rates " \
                       "(2e-4 is the DCGAN paper's)"


# ------------------------------------------------------------------------------------------ tracked runs


@pytest.mark.parametrize("model", ["mlp", "cgan", "dcgan"])
def test_a_tiny_gan_run_is_tracked_finished_with_one_timeline_entry_per_epoch(model):
    cfg = assert_plain(GanConfig(model=model, epochs=2, **TINY), "config")
    ctx = Recorder("generative.gan")
    res = run_gan(ctx, cfg, device="cpu")
    assert res.status == "FINISHED" and not res.stopped and res.error is None
    assert res.epochs_done == len(res.timeline) == 2 and [r["epoch"] for r in res.epochs] == [1, 2]
    rows = 10 if model == "cgan" else 4  # the conditional timeline has one row per class
    assert res.timeline[0].shape == (rows, 4, 28, 28) and res.timeline[0].dtype == np.uint8
    snap = ctx.snapshot()
    assert len(res.rows) == 2 * (192 // 64) and snap.metrics["gan"] == res.rows  # the live rows are the result's
    assert [r["fd"] for r in snap.metrics["gan/epochs"]] == [r["fd"] for r in res.epochs]
    assert all(math.isfinite(r["fd"]) and r["fd"] >= 0 and 1 <= r["classes_covered"] <= 10 for r in res.epochs)
    assert sum(res.coverage) == 100 and res.classes == tuple("0123456789")
    assert (res.n_classes == 10) == (model == "cgan")
    plain = assert_plain(res)
    np.testing.assert_array_equal(plain.timeline[-1], res.timeline[-1])
    # the page's generator, loaded from the run's weights, is the one that drew the last epoch's samples
    np.testing.assert_array_equal(_last_grid_from_the_logged_generator(res), res.timeline[-1])
    run = _run(res.run_id)
    assert run["experiment"] == "generative" and run["status"] == "FINISHED" and run["params.model"] == model
    assert tracking.metric_history(res.run_id, "fd")["step"].tolist() == [1, 2]
    assert len(tracking.metric_history(res.run_id, "d_loss")) == len(res.rows)
    names = [name for name, _ in tracking.image_artifacts(res.run_id, limit=20)]
    assert any("samples_epoch_001" in n for n in names) and any("samples_epoch_002" in n for n in names)
    assert any("by_label" in n for n in names) == (model == "cgan")


def test_a_huge_learning_rate_fails_the_run_with_one_sentence_and_the_job_finishes():
    cfg = assert_plain(GanConfig(model="mlp", epochs=3, lr_g=1e3, lr_d=1e3, **{**TINY, "eval_samples": 0}), "config")
    ctx = Recorder("generative.gan")
    ending = run_job(run_gan, ctx, cfg)
    assert ending.status == FINISHED  # a diverged training is not a failed job
    res = assert_plain(ending.result)
    assert res.status == "FAILED" and res.diverged and not res.stopped and not res.has_generator
    assert EXPLODED_SENTENCE.fullmatch(res.error), res.error
    assert ctx.snapshot().diverged == (("GAN", res.error),)  # said once, for the job panel
    run = _run(res.run_id)
    assert run["status"] == "FAILED" and run[f"tags.{tracking.TAG_ERROR}"] == res.error
    assert res.timeline == [] and res.rows == []  # it exploded at the first generator step


def test_stop_keeps_the_timeline_so_far_and_ends_killed():
    cfg = assert_plain(GanConfig(model="mlp", epochs=5, **{**TINY, "eval_samples": 0}), "config")
    ending = run_job(run_gan, StopAfter("gan/epochs", 2, "generative.gan"), cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    res = assert_plain(ending.result)
    assert res.stopped and res.status == "KILLED" and len(res.timeline) == 2 and len(res.rows) == 2 * (192 // 64)
    assert _run(res.run_id)["status"] == "KILLED"
    # the weights of a stopped run are logged: the page can still sample what was trained
    assert res.has_generator
    np.testing.assert_array_equal(_last_grid_from_the_logged_generator(res), res.timeline[-1])


def test_stop_while_the_digit_classifier_trains_ends_killed_before_the_gan(fresh_store):
    cfg = GanConfig(model="mlp", epochs=2, **{**TINY, "seed": 5})  # a seed no other test has a classifier for
    ending = run_job(run_gan, StopAfter("classifier", 3, "generative.gan"), cfg)
    assert ending.status == KILLED
    res = assert_plain(ending.result)
    assert res.stopped and res.run_id is None and res.timeline == [] and not res.has_generator
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["tags.dll.kind"] == "classifier"
    assert ("digits", 5) not in classifier._CACHE  # a half-trained classifier is not kept


def test_the_digit_classifier_is_trained_once_and_reads_digits():
    clf = digit_classifier("digits", seed=0)
    assert digit_classifier("digits", seed=0) is clf and clf.accuracy > 0.8
    from core.generative.data import load_gan_data

    data = load_gan_data("digits")
    x, y = data.dev
    assert (clf.predict(x[:200]) == y[:200].numpy()).mean() > 0.8
    assert clf.features(x[:10]).shape == (10, 128)


# ------------------------------------------------------------------------------------------ measures


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu_r, mu_g = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_r, var_g = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu_r - mu_g) ** 2).sum() + ((np.sqrt(var_r) - np.sqrt(var_g)) ** 2).sum()  # 7.25 + 5
    assert frechet_distance(mu_r, np.diag(var_r), mu_g, np.diag(var_g)) == pytest.approx(expected) == pytest.approx(12.25)
    assert frechet_distance([0.0], [[1.0]], [3.0], [[4.0]]) == pytest.approx(9 + 1)  # 1-D: (μ)² + (σ_r − σ_g)²


def test_frechet_distance_matches_scipy_sqrtm_on_random_covariances():
    rng = np.random.default_rng(0)
    for d in (2, 5, 20):
        a, b = rng.standard_normal((d, d + 3)), rng.standard_normal((d, d + 3))
        s_r, s_g = a @ a.T / d, b @ b.T / d
        mu_r, mu_g = rng.standard_normal(d), rng.standard_normal(d)
        covmean = scipy.linalg.sqrtm(s_r @ s_g).real
        ref = ((mu_r - mu_g) ** 2).sum() + np.trace(s_r + s_g - 2 * covmean)
        assert frechet_distance(mu_r, s_r, mu_g, s_g) == pytest.approx(ref, rel=1e-6, abs=1e-8)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    f = np.random.default_rng(1).standard_normal((500, 16))
    assert frechet_distance(*gaussian_stats(f), *gaussian_stats(f)) == pytest.approx(0, abs=1e-6)
    assert frechet_distance(*gaussian_stats(f), *gaussian_stats(f + 2.0)) == pytest.approx(16 * 4, rel=1e-6)
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_class_coverage_on_hand_made_predictions():
    collapsed = class_coverage(np.full(1000, 3))
    assert collapsed.covered == 1 and collapsed.entropy_bits == 0 and collapsed.counts[3] == 1000
    uniform = class_coverage(np.arange(1000) % 10)
    assert uniform.covered == 10 and uniform.entropy_bits == pytest.approx(math.log2(10))
    two = class_coverage(np.array([1] * 500 + [7] * 499 + [5]))  # one stray 5: below 2 %
    assert two.covered == 2 and two.entropy_bits == pytest.approx(1.0, abs=0.02) and two.counts[5] == 1
    with pytest.raises(ValueError):
        class_coverage(np.array([10]))


def test_mode_coverage_on_hand_made_samples():
    centers, sigma = toy_centers("ring"), SIGMA["ring"]
    at_three = np.repeat(centers[[0, 2, 5]], 100, axis=0)
    cov = mode_coverage(at_three, centers, sigma)
    assert cov.covered == 3 and cov.quality == 1 and cov.counts[2] == 100
    inside = centers[[1]] + [[2.9 * sigma, 0]]
    outside = centers[[1]] + [[3.1 * sigma, 0]]
    assert mode_coverage(inside, centers, sigma).counts[1] == 1
    assert mode_coverage(outside, centers, sigma).quality == 0
    assert mode_coverage(np.zeros((50, 2)), centers, sigma).covered == 0  # the centre of the ring is no mode
    real, _ = toy_data("grid", 5000, seed=0)
    assert mode_coverage(real, toy_centers("grid"), SIGMA["grid"]).covered == 25  # real data cover every mode
    few = np.concatenate([np.repeat(centers[[0]], 990, axis=0), np.repeat(centers[[4]], 10, axis=0)])
    assert mode_coverage(few, centers, sigma).covered == 1  # 1 % < a fifth of a fair share (2.5 %)


def test_the_toy_presets_collapse_and_stay_healthy_with_the_default_seed():
    healthy = run_toy(None, assert_plain(ToyConfig(**PRESETS["healthy"]), "config"))
    collapse = run_toy(None, ToyConfig(**PRESETS["collapse"]))
    assert healthy.final_coverage >= 7
    assert collapse.final_coverage <= 4
    assert len(healthy.frames) == 1 + healthy.config.steps // healthy.config.every
    assert _run(healthy.run_id)["status"] == "FINISHED" and healthy.status == "FINISHED" and not healthy.stopped
    assert assert_plain(healthy).final_coverage == healthy.final_coverage


def test_stop_keeps_the_toy_frames_so_far_and_ends_killed():
    cfg = assert_plain(ToyConfig(steps=500, every=10, hidden=16), "config")
    ending = run_job(run_toy, StopAfter("toy", 25, "generative.toy"), cfg)
    assert ending.status == KILLED
    res = assert_plain(ending.result)
    assert res.stopped and len(res.rows) == 25 and [f.step for f in res.frames] == [0, 10, 20]
    assert _run(res.run_id)["status"] == "KILLED"


def test_a_toy_gan_that_explodes_ends_failed_with_the_sentence():
    cfg = ToyConfig(steps=200, every=10, hidden=16, lr_g=1e3, lr_d=1e3)
    ctx = Recorder("generative.toy")
    ending = run_job(run_toy, ctx, cfg)
    assert ending.status == FINISHED
    res = assert_plain(ending.result)
    assert res.diverged and EXPLODED_SENTENCE.fullmatch(res.error), res.error
    assert ctx.snapshot().diverged == (("toy GAN", res.error),)
    assert _run(res.run_id)["status"] == "FAILED" and res.frames[0].step == 0


# ------------------------------------------------------------------------------------------ config, figures


@pytest.mark.parametrize("bad", [dict(model="vae"), dict(loss="hinge"), dict(k=0), dict(epochs=0), dict(lr_d=0.0),
                                 dict(lr_g=float("nan")), dict(n_timeline=10), dict(eval_samples=10), dict(z_dim=0),
                                 dict(dataset="cifar10")])
def test_gan_config_refuses_bad_settings(bad):
    with pytest.raises(ValueError):
        GanConfig(**bad)


@pytest.mark.parametrize("bad", [dict(kind="moons"), dict(loss="x"), dict(k=11), dict(batch_size=5000), dict(every=0)])
def test_toy_config_refuses_bad_settings(bad):
    with pytest.raises(ValueError):
        ToyConfig(**bad)


def test_image_grid_and_figures():
    imgs = torch.linspace(-1, 1, 5 * 28 * 28).view(5, 1, 28, 28)
    pixels = to_pixels(imgs)
    assert pixels.shape == (5, 28, 28) and pixels.dtype == np.uint8 and pixels.max() == 255 and pixels.min() == 0
    grid = artifacts.image_grid(pixels / 255, 3, **SAMPLE_TILES)  # as the run logs and the page shows them
    assert grid.shape == (2 * 28 + 2, 3 * 28 + 4) and grid.max() == 1 and grid.min() == 0
    assert grid[28, 0] == pytest.approx(90 / 255)  # the dark-grey gap between rows
    rows = [dict(step=i, d_loss=1.0, g_loss=0.7, d_real=0.6, d_fake=0.4) for i in range(1, 6)]
    assert len(gan_loss_curves(rows).data) == 2 and len(d_output_curves(rows).data) == 2
    assert fd_curve([dict(epoch=1, fd=100.0), dict(epoch=2, fd=50.0)]).data[0].y.tolist() == [100.0, 50.0]
    assert sample_grid((grid * 255).round().astype(np.uint8)).data[0].z.shape == grid.shape
    assert list(class_coverage_bars([1, 0, 3], ["a", "b", "c"]).data[0].y) == [0.25, 0, 0.75]
    res = run_toy(None, ToyConfig(steps=20, every=10, hidden=8))
    fig = toy_frames(res.frames, res.real, res.extent)
    assert [f.name for f in fig.frames] == ["0", "10", "20"] and len(fig.layout.sliders[0].steps) == 3
