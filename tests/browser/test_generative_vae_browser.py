"""The VAE tab in headless Chromium: a tiny VAE on the offline digits trains as a job with
live curves, then its reconstructions, latent map, latent grid, interpolation and prior
samples appear with their downloads."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_train_a_tiny_vae_and_see_its_views(page, app_url):
    page.goto(f"{app_url}/generative")
    wait_idle(page)
    assert page.get_by_role("heading", name="GANs and VAEs").first.is_visible()
    vae = page.get_by_role("tabpanel", name="VAE")
    assert vae.get_by_text("reparameterization trick").first.is_visible()
    vae.locator(".katex").first.wait_for(state="visible")  # the loss as a formula
    vae.get_by_label("Images for the VAE").click()
    page.get_by_role("option", name="scikit-learn digits").click()
    wait_idle(page)
    epochs = vae.get_by_role("slider", name="Epochs")
    epochs.focus()
    for _ in range(12):  # 15 → 3 epochs
        epochs.press("ArrowLeft")
    vae.get_by_role("button", name="Train the VAE").click()
    vae.get_by_text("Finished in").wait_for(timeout=120_000)
    wait_idle(page)
    no_exception(page)
    for title in ("Dev images (top) and their reconstructions", "Dev images in latent space", "Latent-grid traversal",
                  "From dev image #0", "new images decoded from z ~ N(0, I)"):
        vae.get_by_text(title).first.wait_for(state="visible")
    assert vae.get_by_text("Reconstruction on dev (nats per image)").first.is_visible()
    assert vae.get_by_role("button", name="Download the samples (PNG)").is_visible()
    assert vae.get_by_role("button", name="Download the latent coordinates (CSV)").is_visible()
    assert vae.get_by_text("3 epoch(s) on digits").first.is_visible()
    shot(page, "generative-vae")
