"""The Regularization page in headless Chromium: the set-up, the augmentation preview and a
small sweep run to the end with its charts."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser



def _slider_to(page, label: str, presses: int) -> None:
    """Move a slider to its minimum, then ``presses`` steps up, with the keyboard."""
    thumb = page.locator('[data-testid="stSlider"]').filter(has_text=label).first.get_by_role("slider")
    thumb.focus()
    page.keyboard.press("Home")
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    wait_idle(page)


def test_regularization_page_preview_and_sweep(page, app_url):
    page.goto(f"{app_url}/regularization")
    wait_idle(page)
    assert page.get_by_role("heading", name="Regularization").first.is_visible()
    no_exception(page)
    _slider_to(page, "Epochs", 2)  # 3 epochs
    _slider_to(page, "Training examples", 3)  # 50 examples

    page.get_by_role("tab", name="Data augmentation").click()
    wait_idle(page)
    aug = page.get_by_role("tabpanel", name="Data augmentation")
    aug.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert aug.get_by_text("The training set grows from 50 to 200 images.").is_visible()
    no_exception(page)
    shot(page, "reg-augmentation-preview")

    page.get_by_role("tab", name="Sweep λ and keep_prob").click()
    wait_idle(page)
    sweep = page.get_by_role("tabpanel", name="Sweep λ and keep_prob")
    sweep.get_by_role("button", name="Start the sweep").click()
    sweep.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    assert sweep.locator('[data-testid="stPlotlyChart"]').count() >= 4  # live curves, sweep, histogram, norms
    assert sweep.get_by_role("button", name="Download sweep results (CSV)").is_visible()
    no_exception(page)
    shot(page, "reg-sweep")


def test_a_diverged_lane_shows_the_panels_sentence(page, app_url):
    page.goto(f"{app_url}/regularization")
    wait_idle(page)
    page.get_by_role("combobox", name="Dataset", exact=True).click()
    page.get_by_role("option", name="scikit-learn digits (8×8)").click()
    wait_idle(page)
    page.get_by_role("combobox", name="Optimizer", exact=True).click()
    page.get_by_role("option", name="Gradient descent").click()
    wait_idle(page)
    rate = page.get_by_label("Learning rate α", exact=True)
    rate.fill("0.5")
    rate.press("Enter")
    wait_idle(page)
    # plain gradient descent with α·λ/m = 5: each step multiplies the weights by −4 until they overflow
    _slider_to(page, "Training examples", 8)  # 100 examples
    _slider_to(page, "Hidden layers", 0)  # 1 layer
    _slider_to(page, "Units per hidden layer", 0)  # 32 units
    _slider_to(page, "Epochs", 4)  # 5 epochs
    _slider_to(page, "Mini-batch size", 0)  # 8

    page.get_by_role("tab", name="Sweep λ and keep_prob").click()
    wait_idle(page)
    sweep = page.get_by_role("tabpanel", name="Sweep λ and keep_prob")
    sweep.get_by_role("textbox", name="λ values (comma-separated)").fill("1000, 0")
    sweep.get_by_role("textbox", name="keep_prob values (comma-separated)").fill("")
    sweep.get_by_role("button", name="Start the sweep").click()
    sweep.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    alert = sweep.get_by_text("λ=1000 diverged: the loss became")
    assert alert.count() == 1 and alert.inner_text().endswith("try a smaller learning rate. Its run is tracked as FAILED.")
    assert sweep.locator('[data-testid="stAlertContentError"]').count() == 1  # the panel's sentence, nothing else
    assert sweep.get_by_role("button", name="Download sweep results (CSV)").is_visible()
    no_exception(page)
    shot(page, "reg-sweep-diverged")
