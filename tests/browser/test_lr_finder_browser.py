"""The learning-rate finder in headless Chromium on the CNNs page: sweep, see the curve with the
suggestion, and put the suggested rate into the training form with one click."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_find_a_learning_rate_then_use_it(page, app_url):
    page.goto(f"{app_url}/cnn")
    wait_idle(page)
    page.get_by_role("tab", name="Train a CNN").click()
    train = page.get_by_role("tabpanel", name="Train a CNN")
    lr_box = train.get_by_role("spinbutton", name="Learning rate α")
    before = lr_box.input_value()
    train.get_by_text("Find a learning rate (LR range test)").click()
    steps = train.get_by_role("spinbutton", name="Sweep steps")
    steps.fill("40")
    steps.press("Tab")  # Enter would submit the form itself
    train.get_by_role("button", name="Find a learning rate").click()
    use = train.get_by_role("button", name="Use this rate")
    use.wait_for(timeout=240_000)
    wait_idle(page)
    train.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    use.click()
    wait_idle(page)
    train.get_by_text("The training form's learning rate is now").wait_for(timeout=30_000)
    after = lr_box.input_value()
    assert after != before and float(after) > 0
    no_exception(page)
    shot(page, "lr-finder-cnn")
