"""The VAE tab of the GANs and VAEs page under AppTest: it renders, a tiny VAE on digits
trains as a job in the worker process and every view appears with numbers that match the
tracked run and the model saved with it, a huge learning rate shows the job panel's one
sentence (the run FAILED, the job finished), and a download set that cannot be had offers
the offline sample."""

import io
import json

import numpy as np
from PIL import Image

from core import tracking
from core.generative.vae import encode_mean, latent_2d, load_vae
from tests.app.helpers import by_label, chart, page, plotly_array, run_until, texts
from ui.jobs import divergence_line


def _metric(at, label: str) -> str:
    return by_label(at.metric, label).value


def _train(at, dataset: str = "digits", lr: float = 3e-3, latent: int = 2):
    by_label(at.selectbox, "Images for the VAE").set_value(dataset)
    by_label(at.select_slider, "Latent size L").set_value(latent)
    by_label(at.slider, "Epochs").set_value(2)
    by_label(at.select_slider, "Mini-batch size").set_value(64)
    by_label(at.number_input, "Learning rate (Adam)").set_value(lr)
    by_label(at.button, "Train the VAE").click()
    return at.run()


def test_the_tab_renders_with_the_loss_formula():
    at = page("generative").run()
    assert not at.exception
    assert any("D_{KL}" in e.value for e in at.get("latex"))
    assert "reparameterization trick" in texts(at)
    assert by_label(at.button, "Train the VAE")


def test_a_tiny_vae_trains_and_its_views_match_the_run(fresh_store):
    at = page("generative").run()
    at = run_until(_train(at), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]
    run = runs.iloc[0]
    assert run["experiment"] == "generative" and run["params.dataset"] == "digits" and run["params.latent_dim"] == "2"
    assert _metric(at, "Reconstruction on dev (nats per image)") == f"{run['metrics.final_dev_recon']:.2f}"
    assert _metric(at, "KL on dev (nats)") == f"{run['metrics.final_dev_kl']:.2f}"
    assert run["run_id"] in texts(at)
    result = at.session_state["generative.vae.result"]
    assert result.lane.run_id == run["run_id"]
    # the latent map: L = 2 is drawn as it is, at the means of the encoder the run saved
    spec = chart(at, "Dev images in latent space")
    assert "μ as it is" in json.dumps(spec["layout"]["title"], ensure_ascii=False)
    assert "the two latent dimensions z₁, z₂" in texts(at)
    mu, _ = encode_mean(load_vae(run["run_id"]), result.images())
    labels = result.dev_labels
    zero = [t for t in spec["data"] if t.get("name") == "0"][0]
    np.testing.assert_allclose(plotly_array(zero["x"]), mu[labels == 0, 0], rtol=1e-5, atol=1e-6)
    assert chart(at, "Latent-grid traversal") and "the whole latent plane over [−2.5, 2.5]²" in texts(at)
    assert chart(at, "their reconstructions") and chart(at, "The two terms of the loss")
    # interpolation between two chosen dev images, samples from the prior with a seed
    by_label(at.number_input, "Dev image A").set_value(3)
    by_label(at.number_input, "Dev image B").set_value(7)
    by_label(at.slider, "Steps").set_value(5).run()
    assert not at.exception
    assert chart(at, "From dev image #3") and chart(at, "5 decoded points")
    by_label(at.number_input, "Seed of the samples").set_value(11).run()
    assert chart(at, "decoded from z ~ N(0, I) (seed 11)")
    downloads = {b.label: b for b in at.get("download_button")}
    assert {"Download the samples (PNG)", "Download the latent coordinates (CSV)"} <= set(downloads)


def test_a_larger_latent_space_is_drawn_through_pca(fresh_store):
    at = page("generative").run()
    at = run_until(_train(at, latent=4), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    result = at.session_state["generative.vae.result"]
    _, how = latent_2d(encode_mean(load_vae(result.lane.run_id), result.images())[0])
    assert "principal components" in how and how in texts(at) and chart(at, "Dev images in latent space (PCA of μ)")
    by_label(at.selectbox, "Horizontal: latent dimension").set_value(3)
    by_label(at.selectbox, "Vertical: latent dimension").set_value(4).run()
    assert not at.exception and "z3 (left to right) and z4 (bottom to top)" in texts(at)


def test_a_huge_learning_rate_shows_the_panels_one_sentence(fresh_store):
    at = page("generative").run()
    at = run_until(_train(at, lr=1e4), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FAILED"]  # the run failed; the job finished
    sentence = runs.iloc[0][f"tags.{tracking.TAG_ERROR}"]
    assert sentence.startswith("the loss became") and sentence.endswith("— try a smaller learning rate")
    # the job panel's line, and no other word about it (no class name, no page-made message)
    assert [e.value for e in at.error] == [divergence_line("VAE", sentence)]
    assert "VAEDiverged" not in texts(at) and "Lower the learning rate" not in texts(at)
    assert "Dev images in latent space" not in json.dumps([c.proto.spec for c in at.get("plotly_chart")])


def test_a_download_set_that_cannot_be_had_offers_the_sample(fresh_store, offline, preloaded_runner):
    preloaded_runner("tests.fake_offline")  # the job's worker has no network either
    at = page("generative").run()
    at = run_until(_train(at, dataset="mnist"), lambda a: any("The training stopped" in e.value for e in a.error))
    assert not at.exception
    error = [e.value for e in at.error if "The training stopped" in e.value][0]
    assert "could not be downloaded" in error and "mnist_sample" in error and "DatasetUnavailable" not in error
    assert tracking.search_runs().empty  # nothing was trained
    by_label(at.button, "Use the offline MNIST sample instead").click().run()
    assert not at.exception and by_label(at.selectbox, "Images for the VAE").value == "mnist_sample"


def test_png_of_samples_is_a_picture():
    from core.artifacts import image_grid, png_bytes
    from core.generative.vae import VAE, sample_prior

    pic = image_grid(sample_prior(VAE("MLP", image_size=8, latent_dim=2, hidden=8), 16), 4, 1)
    img = Image.open(io.BytesIO(png_bytes((pic * 255).round().astype(np.uint8))))
    assert img.size == (4 * 9 + 1, 4 * 9 + 1)
