"""The playground in headless Chromium: a shared link, play and pause, the URL following the widgets."""

import re

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser



def _epoch(panel) -> int:
    metric = panel.locator('[data-testid="stMetric"]').filter(has_text="Epoch").first
    return int(re.sub(r"\D", "", metric.locator('[data-testid="stMetricValue"]').inner_text()))


def test_shared_link_play_pause_and_url(page, app_url):
    link = f"{app_url}/basics?data=spirals&classes=3&layers=8,6&act=ReLU&feat=0,1,5,6&lr=0.03"
    page.goto(link)
    wait_idle(page)
    page.get_by_role("tab", name="Playground").click()
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Playground")
    assert panel.get_by_role("combobox", name="Data set").input_value() == "spirals"
    assert _epoch(panel) == 0
    panel.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    shot(page, "playground-start")

    panel.get_by_role("button", name="Play").click()
    panel.get_by_role("button", name="Pause").wait_for(timeout=30_000)
    for _ in range(240):  # the Epoch metric itself (not any number on the page) reaches 20
        if _epoch(panel) >= 20:
            break
        page.wait_for_timeout(250)
    shot(page, "playground-playing")
    panel.get_by_role("button", name="Pause").click()
    panel.get_by_role("button", name="Play").wait_for(timeout=30_000)
    wait_idle(page)
    paused_at = _epoch(panel)
    assert paused_at >= 20
    page.wait_for_timeout(1500)
    assert _epoch(panel) == paused_at  # paused means paused
    no_exception(page)
    shot(page, "playground-paused")

    # the URL follows the widgets: choose another data set, then open the address in a new tab
    panel.get_by_role("combobox", name="Data set").click()
    page.get_by_role("option", name="xor").click()
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('data=xor')", timeout=15_000)
    assert "layers=8%2C6" in page.url or "layers=8,6" in page.url
    other = page.context.new_page()
    other.goto(page.url)
    wait_idle(other)
    other.get_by_role("tab", name="Playground").click()
    wait_idle(other)
    again = other.get_by_role("tabpanel", name="Playground")
    assert again.get_by_role("combobox", name="Data set").input_value() == "xor"
    no_exception(other)
    other.close()
