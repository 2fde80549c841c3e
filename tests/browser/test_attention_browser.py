"""The Sequence models page's "Self-attention" tab in headless Chromium: type a sentence, see the
step-by-step heatmaps and every head's weights."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_self_attention_tab(page, app_url):
    page.goto(f"{app_url}/seq2seq")
    wait_idle(page)
    page.get_by_role("tab", name="Self-attention").click()
    tab = page.get_by_role("tabpanel", name="Self-attention")
    box = tab.get_by_role("textbox", name="A sentence")
    box.fill("the dog chased the ball")
    box.press("Tab")
    wait_idle(page)
    tab.get_by_text("Head 1: weights").first.wait_for(state="visible")
    assert tab.get_by_text("head's weights, side by side").first.is_visible()
    assert tab.get_by_text("Sinusoidal encodings").first.is_visible()
    assert tab.locator('[data-testid="stPlotlyChart"] .main-svg').count() >= 8
    no_exception(page)
    shot(page, "seq2seq-self-attention")
