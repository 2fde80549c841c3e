"""The VAE core: the KL term against torch.distributions, the reparameterization trick's
moments and gradients against the closed form, the Bernoulli reconstruction term against
PyTorch's BCE, the packed output against the objective, the views' helpers, and tiny
tracked trainings on digits (the loss goes down, β = 0 lets the KL term run away, a huge
learning rate ends the run FAILED with the sentence while the job finishes, a Stop keeps the
partial model), each handing back plain data and a model the page loads from the run."""

import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.distributions import Normal
from torch.distributions import kl_divergence as torch_kl

from core import tracking
from core.artifacts import image_grid
from core.cnn.data import ImageData
from core.generative import VAE, VAEConfig, VAEObjective, kl_divergence, reconstruction_loss, reparameterize
from core.generative.vae import (
    decode_latents,
    encode_mean,
    interpolate,
    latent_2d,
    latent_grid,
    load_vae,
    load_vae_images,
    pack_images,
    reconstruct,
    run_vae,
    sample_prior,
    unpack_images,
)
from core.jobs import FINISHED, KILLED, Recorder, run_job
from core.plots.vae import image_mosaic, latent_scatter, loss_terms
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits() -> ImageData:
    data = load_vae_images(VAEConfig(dataset="digits", max_train=600))
    return ImageData(data.spec, data.train, (data.dev[0][:200], data.dev[1][:200]))


@pytest.mark.parametrize("shape", [(1, 1), (5, 2), (7, 16), (3, 4, 6), (4,)])
def test_kl_divergence_is_torchs_summed_over_latents_and_averaged_over_the_batch(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    mu = torch.randn(shape, generator=gen, dtype=torch.float64) * 2
    logvar = torch.randn(shape, generator=gen, dtype=torch.float64)
    ref = torch_kl(Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    expected = ref.sum(-1).mean() if len(shape) > 1 else ref.sum()
    torch.testing.assert_close(kl_divergence(mu, logvar), expected)
    assert float(kl_divergence(torch.zeros(shape), torch.zeros(shape))) == 0.0
    assert float(kl_divergence(mu, logvar)) > 0
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence(mu, logvar[..., :0])


def test_reparameterize_has_the_right_moments_and_gradients():
    mu = torch.tensor([[0.5, -2.0, 3.0]], dtype=torch.float64).repeat(200_000, 1)
    logvar = torch.tensor([[0.0, np.log(4.0), np.log(0.01)]], dtype=torch.float64).repeat(200_000, 1)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 2.0, 0.1], dtype=torch.float64), atol=0.01, rtol=0)
    again = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again, z)  # the same draws from the same seed
    # gradients: dz/dμ = 1 and dz/dlogvar = ½·σ·ε, with ε recovered from the same seed
    m = torch.tensor([[0.3, -1.0]], requires_grad=True)
    lv = torch.tensor([[0.4, -0.6]], requires_grad=True)
    z = reparameterize(m, lv, generator=torch.Generator().manual_seed(7))
    eps = torch.randn((1, 2), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(z.detach(), m.detach() + (0.5 * lv.detach()).exp() * eps)
    z.sum().backward()
    torch.testing.assert_close(m.grad, torch.ones(1, 2))
    torch.testing.assert_close(lv.grad, 0.5 * (0.5 * lv.detach()).exp() * eps)


def test_reconstruction_loss_is_bce_summed_over_pixels_averaged_over_the_batch():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 1, 8, 8, generator=gen) * 3
    x = torch.rand(6, 1, 8, 8, generator=gen)
    expected = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 6
    torch.testing.assert_close(reconstruction_loss(logits, x), expected)
    torch.testing.assert_close(reconstruction_loss(logits.flatten(1), x), expected)
    # −log p(x|z) of a Bernoulli per pixel, written out
    p = torch.sigmoid(logits)
    nll = -(x * p.log() + (1 - x) * (1 - p).log()).sum() / 6
    torch.testing.assert_close(reconstruction_loss(logits, x), nll, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("arch,size", [("MLP", 8), ("conv", 8), ("MLP", 28), ("conv", 28)])
def test_the_packed_output_gives_the_objective_its_terms(arch, size):
    torch.manual_seed(0)
    model = VAE(arch, image_size=size, latent_dim=3, hidden=16, width=4)
    x = torch.rand(5, 1, size, size)
    out = model(x)
    assert out.shape == (5, size * size + 6)
    logits, mu, logvar = model.split(out)
    m2, lv2 = model.encode(x)
    torch.testing.assert_close(mu, m2)
    torch.testing.assert_close(logvar, lv2)
    obj = VAEObjective(beta=0.5, latent_dim=3)
    loss = obj(out, x)
    torch.testing.assert_close(loss, reconstruction_loss(logits, x) + 0.5 * kl_divergence(mu, logvar))
    assert model.decode(mu).shape == (5, 1, size, size)
    popped = obj.pop()
    assert set(popped) == {"train_recon", "train_kl"} and obj.pop() == {}
    with pytest.raises(ValueError, match="columns"):
        VAEObjective(1.0, 4)(out, x)


def test_a_conv_vae_needs_a_size_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        VAE("conv", image_size=30)
    with pytest.raises(ValueError, match="unknown architecture"):
        VAE("rnn")


@pytest.mark.parametrize("kw,message", [
    (dict(dataset="cifar10"), "Images for the VAE: 'cifar10' is not one of"),
    (dict(arch="GAN"), "Encoder and decoder: 'GAN' is not one of"),
    (dict(latent_dim=1), "Latent size L: 1 is not one of"), (dict(latent_dim=65), "Latent size L: 65 is not one of"),
    (dict(beta=-1), "β"), (dict(beta=float("nan")), "β"), (dict(epochs=0), "Epochs must be between 1 and 200"),
    (dict(batch_size=0), "Mini-batch size: 0 is not one of"), (dict(lr=0), "Learning rate"),
    (dict(lr=float("inf")), "Learning rate"), (dict(max_train=-1), "Training images used"), (dict(seed=-1), "Seed"),
])
def test_config_validation_says_what_is_wrong(kw, message):
    with pytest.raises(ValueError, match=message):
        VAEConfig(**kw)


def test_views_helpers():
    torch.manual_seed(0)
    model = VAE("MLP", image_size=8, latent_dim=4, hidden=16).eval()
    x = torch.rand(6, 1, 8, 8)
    mu, lv = encode_mean(model, x)
    assert mu.shape == lv.shape == (6, 4)
    np.testing.assert_allclose(reconstruct(model, x), torch.sigmoid(model.decode(torch.from_numpy(mu)))[:, 0].detach(),
                               atol=1e-6)
    grid = latent_grid(model, 5, dims=(1, 3))
    assert grid.shape == (5, 5, 8, 8) and grid.min() >= 0 and grid.max() <= 1
    z = np.zeros((1, 4), np.float32)
    z[0, 1], z[0, 3] = -2.5, 2.5  # the top-left corner: lowest horizontal, highest vertical
    np.testing.assert_allclose(grid[0, 0], decode_latents(model, z)[0], atol=1e-6)
    with pytest.raises(ValueError, match="two different"):
        latent_grid(model, 5, dims=(2, 2))
    path = interpolate(model, x[0], x[1], 5)
    np.testing.assert_allclose(path[0], decode_latents(model, mu[:1])[0], atol=1e-6)
    np.testing.assert_allclose(path[-1], decode_latents(model, mu[1:2])[0], atol=1e-6)
    np.testing.assert_array_equal(sample_prior(model, 9, seed=3), sample_prior(model, 9, seed=3))
    assert not np.array_equal(sample_prior(model, 9, seed=3), sample_prior(model, 9, seed=4))
    # 2-D latents as they are; otherwise PCA (the projection keeps the most variance)
    coords, how = latent_2d(mu[:, :2])
    np.testing.assert_array_equal(coords, mu[:, :2]) and "two latent dimensions" in how
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(300, 6)) * np.array([5, 3, 0.1, 0.1, 0.1, 0.1])
    coords, how = latent_2d(pts)
    from sklearn.decomposition import PCA

    ref = PCA(2).fit_transform(pts)
    np.testing.assert_allclose(np.abs(coords), np.abs(ref), atol=1e-8)
    assert "principal components" in how
    assert image_grid(np.ones((5, 8, 8)), 3, 1, background=0.5).shape == (2 * 9 + 1, 3 * 9 + 1)
    assert image_mosaic(image_grid(grid.reshape(-1, 8, 8), 5, 1), "t", row_labels=["a"]).layout.title.text == "t"
    assert len(latent_scatter(coords, np.arange(300) % 3, ["a", "b", "c"], how=how, highlight={"A": (0, 0)}).data) == 4
    fig = loss_terms([{"epoch": 1, "train_recon": 3.0, "dev_recon": 2.0, "dev_kl": 1.0}], beta=1.0)
    assert len(fig.data) == 3


def test_a_tiny_vae_is_tracked_and_learns(fresh_store, digits):
    cfg = assert_plain(VAEConfig(dataset="digits", latent_dim=4, epochs=4, batch_size=32, lr=3e-3, hidden=64), "config")
    res = run_vae(None, cfg, device=CPU, data=digits)
    assert res.lane.status == "FINISHED" and not res.stopped and res.has_model
    plain = assert_plain(res)
    torch.testing.assert_close(plain.images(), digits.dev[0])  # the dev images the views use, as trained on
    np.testing.assert_array_equal(plain.dev_labels, digits.dev[1].numpy())
    dev = [r["dev_loss"] for r in res.terms]
    assert [r["epoch"] for r in res.terms] == [1, 2, 3, 4]
    assert dev[-1] < dev[0] - 3, dev
    for r in res.terms:
        assert r["dev_loss"] == pytest.approx(r["dev_recon"] + r["dev_kl"])
        assert r["dev_kl"] > 0 and r["train_recon"] > 0
    assert res.lane.history.epochs[-1]["dev_loss"] == pytest.approx(res.terms[-1]["dev_loss"])  # fit's own dev loss
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["experiment"] == "generative" and run["params.arch"] == "MLP"
    assert run["metrics.final_dev_recon"] == pytest.approx(res.terms[-1]["dev_recon"])
    assert run["metrics.final_dev_kl"] == pytest.approx(res.terms[-1]["dev_kl"])
    for key in ("dev_recon", "dev_kl", "train_recon", "train_kl"):
        hist = tracking.metric_history(run["run_id"], key)
        assert hist["step"].tolist() == [1, 2, 3, 4]
        np.testing.assert_allclose(hist["value"], [r[key] for r in res.terms], rtol=1e-6)
    images = dict(tracking.image_artifacts(run["run_id"]))
    assert {"images/reconstructions.png", "images/prior_samples.png", "images/latent_grid.png"} <= set(images)
    # the model the page loads from the run's weights is the trained one: it draws the logged prior samples
    model = load_vae(res.lane.run_id)
    assert not model.training and model.latent_dim == 4
    drawn = image_grid(sample_prior(model, 64, cfg.seed), cols=8)
    logged = np.asarray(Image.open(io.BytesIO(images["images/prior_samples.png"])))
    np.testing.assert_array_equal(logged, (np.clip(drawn, 0, 1) * 255).round().astype(np.uint8))


def test_without_the_kl_term_the_codes_drift_away_from_the_prior(fresh_store, digits):
    kl = {}
    for beta in (0.0, 1.0):
        cfg = VAEConfig(dataset="digits", latent_dim=8, beta=beta, epochs=5, batch_size=32, lr=3e-3, hidden=64)
        res = run_vae(None, cfg, device=CPU, data=digits)
        kl[beta] = [r["dev_kl"] for r in res.terms]
    assert kl[0.0][-1] > kl[0.0][0]  # nothing holds the codes back: KL keeps growing
    assert kl[0.0][-1] > 3 * kl[1.0][-1], kl


def test_a_huge_learning_rate_fails_the_run_with_one_sentence_and_the_job_finishes(fresh_store, digits):
    cfg = assert_plain(VAEConfig(dataset="digits", latent_dim=4, epochs=3, batch_size=32, lr=1e4, hidden=64), "config")
    ctx = Recorder("generative.vae")
    ending = run_job(lambda c, cf: run_vae(c, cf, device=CPU, data=digits), ctx, cfg)
    assert ending.status == FINISHED and ending.error is None  # a diverged training is not a failed job
    res = assert_plain(ending.result)
    assert res.lane.status == "FAILED" and not res.stopped and not res.has_model
    assert re.fullmatch(r"the loss became (NaN|infinite) at step \d+ — try a smaller learning rate", res.lane.error)
    assert ctx.snapshot().diverged == (("VAE", res.lane.error),)  # said once, for the job panel
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FAILED" and run[f"tags.{tracking.TAG_ERROR}"] == res.lane.error
    with pytest.raises(ValueError, match="saved no weights"):
        load_vae(run["run_id"])


def test_a_stop_keeps_the_partial_model(fresh_store, digits):
    cfg = assert_plain(VAEConfig(dataset="digits", epochs=200, batch_size=16, hidden=32), "config")
    ctx = StopAfter("vae/terms", 1, "generative.vae")
    ending = run_job(lambda c, cf: run_vae(c, cf, device=CPU, data=digits), ctx, cfg)
    assert ending.status == KILLED  # the job hands back its typed partial outcome
    res = assert_plain(ending.result)
    assert res.stopped and res.lane.status == "KILLED" and res.has_model and len(res.terms) == 1
    row = ctx.snapshot().metrics["vae/terms"][0]
    assert row["epoch"] == 1 and {"dev_recon", "dev_kl", "train_recon", "train_kl"} <= set(row)
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"] and runs.iloc[0]["run_id"] == res.lane.run_id
    model = load_vae(res.lane.run_id)  # what was trained until Stop, from the run's weights
    assert model.latent_dim == cfg.latent_dim and np.isfinite(sample_prior(model, 4)).all()


def test_images_travel_packed_without_loss():
    eight_bit = torch.randint(0, 256, (5, 1, 4, 4)).float() / 255
    packed = pack_images(eight_bit)
    assert packed.dtype == np.uint8  # 4× smaller than float32
    torch.testing.assert_close(unpack_images(packed), eight_bit, rtol=0, atol=1e-7)
    sixteen_levels = torch.randint(0, 17, (5, 1, 4, 4)).float() / 16  # scikit-learn's digits
    packed = pack_images(sixteen_levels)
    assert packed.dtype == np.float32
    torch.testing.assert_close(unpack_images(packed), sixteen_levels, rtol=0, atol=0)
