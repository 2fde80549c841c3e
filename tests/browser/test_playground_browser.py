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


def _playground(page, link: str):
    """Open ``link`` and its Playground tab; returns the tab's panel."""
    page.goto(link)
    wait_idle(page)
    page.get_by_role("tab", name="Playground").click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name="Playground")


def test_your_csv_and_a_clicked_weight(page, app_url, tmp_path):
    """Upload your own points, click a connection's dot in the network and set its weight."""
    rows = "\n".join(f"{(i % 8) - 4},{(i // 8) - 2.5},{1 if (i % 8) < 4 else 2}" for i in range(48))
    csv = tmp_path / "my_points.csv"
    csv.write_text(f"x1,x2,label\n{rows}\n", encoding="utf-8")
    panel = _playground(page, f"{app_url}/basics?data=csv&layers=3&feat=0,1")
    panel.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    panel.get_by_text("48 points, 2 classes (1, 2)").wait_for(timeout=60_000)
    wait_idle(page)
    # the network's clickable dots are the last trace of the first chart (the neuron maps)
    net = panel.locator('[data-testid="stPlotlyChart"]').first
    dot = net.locator(".scatterlayer .trace").last.locator("path.point").nth(4)  # x2 → layer 1, neuron 2
    dot.wait_for(state="visible", timeout=30_000)
    box = dot.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_idle(page)
    conn = panel.get_by_role("combobox", name="Connection")
    for _ in range(100):
        if conn.input_value() == "x2 → layer 1, neuron 2":
            break
        page.wait_for_timeout(200)
    assert conn.input_value() == "x2 → layer 1, neuron 2"  # the clicked dot's connection
    weight = panel.get_by_role("spinbutton", name="Weight")
    weight.fill("3.25")
    weight.press("Tab")
    panel.get_by_role("button", name="Set weight").click()
    wait_idle(page)
    page.wait_for_function("() => [...document.querySelectorAll('input[aria-label=\"Weight\"]')]"
                           ".some(e => e.value === '3.2500')", timeout=30_000)
    no_exception(page)
    shot(page, "playground-csv-weight")


def test_a_focused_regression_exercise(page, app_url):
    """A teacher's link: the multi-Gaussian regression, an activation per layer, noise and learning rate hidden."""
    panel = _playground(page, f"{app_url}/basics?data=multi-gaussian&layers=6,4&act=tanh,ReLU&feat=0,1,2,3&hide=noise,lr")
    panel.get_by_role("button", name="Step").click()
    wait_idle(page)
    panel.get_by_text("Test loss (MSE)").wait_for(timeout=30_000)
    sliders = panel.locator('[data-testid="stSlider"]')
    assert sliders.filter(has_text="Noise").count() == 0 and sliders.filter(has_text="Learning rate").count() == 0
    assert sliders.filter(has_text="Batch size").count() == 1
    assert panel.get_by_role("combobox", name="Layer 2 activation").input_value() == "ReLU"
    assert "hide=noise%2Clr" in page.url or "hide=noise,lr" in page.url
    no_exception(page)
    shot(page, "playground-regression-focused")
