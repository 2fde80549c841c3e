"""Ghost runs in headless Chromium: an earlier race (tracked into the served app's store) is drawn faded
and dotted under the live curves of a new race; an earlier overfitting experiment is offered before the first
training and drawn under the new one's train/dev curves."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _open_after(page, url: str, app_data, monkeypatch, train) -> None:
    """``train()`` an earlier tracked comparison into the served app's store (every lane finishes), then open
    ``url``."""
    monkeypatch.setenv("DLL_DATA_DIR", str(app_data))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    earlier = train()
    assert all(lane.status == "FINISHED" for lane in earlier.lanes)
    page.goto(url)
    wait_idle(page)


def test_a_race_shows_the_previous_race_as_a_ghost(page, app_url, app_data, monkeypatch):
    from core.optimizers.race import RaceConfig, run_race

    _open_after(page, f"{app_url}/optimizers", app_data, monkeypatch,
                lambda: run_race(None, RaceConfig(learning_rates=(0.02, 0.02, 0.0005, 0.0005), epochs=3)))
    page.get_by_role("tab", name="Race on a real network").click()
    race = page.get_by_role("tabpanel", name="Race on a real network")
    race.get_by_role("button", name="Start the race").click()
    race.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    legend = race.locator('[data-testid="stPlotlyChart"] .legendtext')
    legend.filter(has_text="ghost: Adam lr=0.0005").first.wait_for(timeout=30_000)
    assert legend.filter(has_text="ghost: Gradient descent lr=0.02").count() >= 1
    box = race.locator('[data-testid="stSelectbox"]').filter(has_text="Ghost run")
    shown = box.inner_text() + " ".join(i.input_value() for i in box.locator("input").all())
    assert "My previous run (Adam lr=0.0005 + 3 more" in shown  # the default ghost: that race
    no_exception(page)
    shot(page, "ghost-race")


def test_a_regularization_experiment_offers_and_draws_its_earlier_run(page, app_url, app_data, monkeypatch):
    from core.regularization.experiments import OverfitConfig, run_overfit
    from core.regularization.lab import Setup
    from tests.browser.test_regularization_browser import _slider_to

    _open_after(page, f"{app_url}/regularization", app_data, monkeypatch,  # an earlier run with another α
                lambda: run_overfit(None, OverfitConfig(Setup(n_train=50, epochs=3, lr=0.01), lam=1.0)))
    _slider_to(page, "Epochs", 2)  # 3 epochs
    _slider_to(page, "Training examples", 3)  # 50 examples
    fit = page.get_by_role("tabpanel", name="Overfitting, L2 and dropout")
    box = fit.locator('[data-testid="stSelectbox"]').filter(has_text="Ghost run")
    box.wait_for(timeout=30_000)  # before the first training: the learner can choose already
    fit.get_by_role("button", name="Start the overfitting experiment").click()
    fit.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    legend = fit.locator('[data-testid="stPlotlyChart"] .legendtext')
    legend.filter(has_text="ghost: overfitting: λ=1 · dev").first.wait_for(timeout=30_000)
    assert legend.filter(has_text="ghost: overfitting: no regularization · dev").count() >= 1
    no_exception(page)
    fit.locator('[data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
    shot(page, "ghost-regularization")
