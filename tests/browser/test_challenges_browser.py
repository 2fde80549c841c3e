"""Challenges in headless Chromium: a tiny playground training meets a goal, and Home's board says so."""

import re

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _epoch(panel) -> int:
    metric = panel.locator('[data-testid="stMetric"]').filter(has_text="Epoch").first
    return int(re.sub(r"\D", "", metric.locator('[data-testid="stMetricValue"]').inner_text()))


def test_a_met_goal_shows_on_the_home_board(page, app_url):
    # circles, no hidden layer, inputs x1² and x2²: a straight line in those features separates the rings
    page.goto(f"{app_url}/basics?data=circles&layers=0&feat=2,3&lr=0.1&noise=0")
    wait_idle(page)
    page.get_by_role("tab", name="Playground").click()
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Playground")
    panel.get_by_role("button", name="Play").click()
    panel.get_by_role("button", name="Pause").wait_for(timeout=30_000)
    for _ in range(240):
        if _epoch(panel) >= 30:
            break
        page.wait_for_timeout(250)
    panel.get_by_role("button", name="Pause").click()
    panel.get_by_role("button", name="Play").wait_for(timeout=30_000)
    wait_idle(page)

    board = None
    for _ in range(8):  # the runs are read again every few seconds
        page.goto(app_url)
        wait_idle(page)
        board = page.get_by_text(re.compile(r"^\d+ of \d+ goals met$")).first
        board.wait_for(timeout=30_000)
        if board.inner_text().startswith("1 of"):
            break
        page.wait_for_timeout(3000)
    assert board is not None and board.inner_text().startswith("1 of"), board.inner_text() if board else ""
    page.get_by_role("heading", name="Your challenges").scroll_into_view_if_needed()
    page.get_by_text("Every goal").click()
    page.get_by_text("Separate the circles without a hidden layer").scroll_into_view_if_needed()
    no_exception(page)
    shot(page, "challenges-home-board")

    # the met goal links to its run: the Runs page opens with that run picked for comparison
    page.get_by_role("button", name="Open playground circles").click()
    page.get_by_text("1 run selected.").wait_for(timeout=60_000)
    no_exception(page)
