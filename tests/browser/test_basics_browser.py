"""The Network basics page in headless Chromium: every tab this page's author owns renders without
an exception, backprop by hand agrees with autograd, and a small vectorization timing runs to the end."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser



def _open_tab(page, name):
    page.get_by_role("tab", name=name).click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name=name)


def test_basics_tabs_and_a_small_timing(page, app_url):
    page.goto(f"{app_url}/basics")
    wait_idle(page)
    assert page.get_by_role("heading", name="Network basics").is_visible()
    for name in ("Neuron", "Playground", "Backpropagation by hand", "Loss functions", "Vectorization"):
        assert page.get_by_role("tab", name=name).is_visible()

    neuron = _open_tab(page, "Neuron")
    assert neuron.locator('[data-testid="stPlotlyChart"]').count() >= 2  # activations, gradient per layer
    neuron.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert neuron.get_by_text("0.3775").count() >= 1  # a = σ(−0.5) with the default sliders
    no_exception(page)
    shot(page, "basics-neuron")

    bp = _open_tab(page, "Backpropagation by hand")
    bp.get_by_text("gradients agree with autograd").wait_for()
    bp.get_by_role("button", name="New random network").click()
    wait_idle(page)
    bp.get_by_text("gradients agree with autograd").wait_for()
    no_exception(page)
    shot(page, "basics-backprop")

    loss = _open_tab(page, "Loss functions")
    assert loss.locator('[data-testid="stPlotlyChart"]').count() == 2
    no_exception(page)
    shot(page, "basics-loss")

    vec = _open_tab(page, "Vectorization")
    for n in (64, 128, 256, 512, 1024):  # keep sizes 16 and 32: a few seconds at most
        vec.get_by_role("button", name=f"Remove {n}").click()
    vec.get_by_role("button", name="Start timing").click()
    vec.get_by_text("Finished in").wait_for(timeout=120_000)
    wait_idle(page)
    vec.get_by_text("same layer output at every size").wait_for()
    assert vec.locator('[data-testid="stPlotlyChart"]').count() == 1
    assert vec.get_by_role("button", name="Download the timings (CSV)").is_visible()
    no_exception(page)
    shot(page, "basics-vectorization")
