"""The real app in headless Chromium: home, the Optimizers page with a tiny race, the Runs page."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser



def test_deep_link_into_a_fresh_server_gets_the_lab_navigation(page, app_url):
    """The first visit of a fresh server goes straight to a page (this test runs first)."""
    page.goto(f"{app_url}/optimizers")
    wait_idle(page)
    shot(page, "deep-link-first-visit")
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Foundations" in nav and "Tracking" in nav, nav
    assert "app" not in nav.split("\n"), nav  # not Streamlit's automatic pages/ list
    assert page.get_by_text("Global seed").is_visible()
    assert page.get_by_role("heading", name="Optimizers").is_visible()


def test_home_page(page, app_url):
    page.goto(app_url)
    wait_idle(page)
    assert page.get_by_role("heading", name="Deep Learning Lab").is_visible()
    assert page.get_by_text("Tracked runs").is_visible()
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_text("Optimizers").is_visible() and nav.get_by_text("Runs").is_visible()
    no_exception(page)
    shot(page, "home")


def test_optimizer_lab_race_and_runs(page, app_url):
    page.goto(f"{app_url}/optimizers")
    wait_idle(page)
    page.get_by_role("tab", name="Loss-surface lab").click()
    wait_idle(page)
    lab = page.get_by_role("tabpanel", name="Loss-surface lab")
    assert lab.locator('[data-testid="stPlotlyChart"]').count() >= 2
    lab.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    no_exception(page)
    shot(page, "optimizers-lab")

    page.get_by_role("tab", name="Race on a real network").click()
    wait_idle(page)
    race = page.get_by_role("tabpanel", name="Race on a real network")
    race.get_by_role("button", name="Start the race").click()
    race.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    assert race.locator('[data-testid="stPlotlyChart"]').count() >= 3  # loss, dev accuracy, final bars
    assert race.get_by_text("Final dev accuracy").count() >= 1 or race.locator("text=Final dev accuracy").count() >= 1
    no_exception(page)
    shot(page, "optimizers-race")

    page.goto(f"{app_url}/runs")
    wait_idle(page)
    no_exception(page)
    for name in ("Gradient descent", "Momentum", "RMSprop", "Adam"):
        assert page.get_by_text(name).count() >= 1 or page.locator(f"text={name}").count() >= 1
    shot(page, "runs")


def test_a_race_finishes_and_is_tracked_after_the_tab_is_closed(browser, app_url, app_data):
    import time

    from core import tracking

    uri = f"sqlite:///{app_data / 'mlflow.db'}"
    before = len(tracking.search_runs(uri=uri))
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(f"{app_url}/optimizers")
    wait_idle(page)
    page.get_by_role("tab", name="Race on a real network").click()
    wait_idle(page)
    race = page.get_by_role("tabpanel", name="Race on a real network")
    race.get_by_test_id("stRadioGroup").get_by_text("stochastic", exact=True).click()  # a race of some seconds
    page.wait_for_timeout(500)
    race.get_by_role("button", name="Start the race").click()
    page.get_by_text("training with").first.wait_for(timeout=60_000)
    ctx.close()  # the learner closes the tab mid-race
    deadline = time.time() + 180
    while time.time() < deadline:
        runs = tracking.search_runs(uri=uri)
        if len(runs) - before == 4 and set(runs["status"][: len(runs) - before]) == {"FINISHED"}:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the race did not finish after the tab closed: {runs[['run_name', 'status']]}")
