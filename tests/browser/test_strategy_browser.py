"""The ML strategy page in headless Chromium: every tab renders, a preset fills the diagnosis,
and a tiny learning-curve job runs for real and ends tracked."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser



def _tab(page, name):
    page.get_by_role("tab", name=name).click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name=name)


def test_strategy_page_tabs_preset_and_a_real_job(page, app_url, app_data):
    from core import tracking

    page.goto(f"{app_url}/strategy")
    wait_idle(page)
    assert page.get_by_role("heading", name="ML strategy").is_visible()
    split = page.get_by_role("tabpanel", name="Data splits")
    split.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert split.get_by_text("6,000").is_visible()
    no_exception(page)
    shot(page, "strat-browser-split")

    diag = _tab(page, "Bias and variance")
    diag.get_by_role("button", name="High bias and high variance (15% / 30%)").click()
    wait_idle(page)
    assert diag.get_by_text("high bias and high variance").first.is_visible()
    assert diag.get_by_text("Get more training data.").is_visible() and diag.get_by_text("Train longer.").is_visible()
    no_exception(page)
    shot(page, "strat-browser-diagnosis")

    curves = _tab(page, "Learning curves")
    sizes = curves.get_by_role("textbox", name="Training-set sizes")
    sizes.fill("20, 60")
    sizes.press("Enter")
    wait_idle(page)
    curves.get_by_role("button", name="Train the learning curves").click()
    curves.get_by_text("Finished in").wait_for(timeout=300_000)  # may wait in line behind an earlier test's job
    wait_idle(page)
    curves.get_by_text("Learning curves (dev set").first.wait_for(timeout=30_000)
    no_exception(page)
    shot(page, "strat-browser-curves")
    runs = tracking.search_runs(uri=f"sqlite:///{app_data / 'mlflow.db'}")
    mine = runs[runs["run_name"].str.startswith("learning curve m=")]
    assert {"20", "60"} <= set(mine["params.train_size"])
    assert set(mine["status"]) == {"FINISHED"}

    for name in ("Metrics", "Error analysis", "Orthogonalization"):
        _tab(page, name)
        no_exception(page)
    shot(page, "strat-browser-ortho")
