"""The GAN tabs of the GANs and VAEs page in headless Chromium: a short DCGAN on the offline digits
with its timeline, curves, coverage and Fréchet distance; the 2-D toy's collapse preset."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_train_a_small_gan_and_the_toy(page, app_url):
    page.goto(f"{app_url}/generative")
    wait_idle(page)
    assert page.get_by_role("heading", name="GANs and VAEs").first.is_visible()
    page.get_by_role("tab", name="GAN on digits").click()
    gan = page.get_by_role("tabpanel", name="GAN on digits")
    gan.get_by_text("Training images").first.wait_for()
    gan.locator('[data-testid="stSelectbox"]').nth(1).click()
    page.get_by_role("option", name="scikit-learn digits").click()
    wait_idle(page)
    epochs = gan.get_by_role("slider").nth(1)  # after k: Epochs (passes of D over the images)
    epochs.focus()
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # 4 epochs
    gan.get_by_role("button", name="Train the GAN").click()
    gan.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    gan.get_by_text("The fixed noise batch, epoch by epoch").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    assert gan.get_by_text("Classes covered").first.is_visible()
    gan.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    no_exception(page)
    shot(page, "generative-gan")

    page.get_by_role("tab", name="Mode collapse in 2-D").click()
    toy = page.get_by_role("tabpanel", name="Mode collapse in 2-D")
    toy.get_by_text("Collapse: G's learning rate").click()
    wait_idle(page)
    toy.get_by_role("button", name="Train the toy GAN").click()
    toy.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    toy.get_by_text("Modes covered (last frame)").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    toy.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    no_exception(page)
    shot(page, "generative-toy")
