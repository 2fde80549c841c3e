"""The Transformer on the Sequence models page in headless Chromium: train it beside the RNN with
attention on a few dates, read its row of the scores, and open its per-head cross-attention."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _lowest(panel, page, name: str, steps_right: int = 0) -> None:
    """Move a slider to its smallest value, then ``steps_right`` steps up."""
    panel.get_by_role("slider", name=name).first.focus()
    page.keyboard.press("Home")
    for _ in range(steps_right):
        page.keyboard.press("ArrowRight")


def test_transformer_beside_the_rnn(page, app_url):
    page.goto(f"{app_url}/seq2seq")
    wait_idle(page)
    dates = page.get_by_role("tabpanel", name="Date translation")
    dates.get_by_role("button", name="transformer", exact=True).click()  # beside the default "attention"
    _lowest(dates, page, "Epochs", 1)
    _lowest(dates, page, "Training pairs", 1)  # 1,000 dates
    dates.get_by_text("Transformer settings").first.click()
    _lowest(dates, page, "Transformer epochs", 2)
    dates.get_by_role("button", name="Train", exact=True).click()
    dates.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    assert dates.get_by_text("Exact match (transformer)").first.is_visible()
    assert dates.get_by_text("Exact match (attention)").first.is_visible()
    assert dates.get_by_text("Exact match by source length").first.is_visible()
    no_exception(page)

    dates.get_by_role("radiogroup", name="Model").get_by_text("transformer", exact=True).click()  # translate with it
    wait_idle(page)
    dates.get_by_text("Cross-attention per layer and head").first.click()
    wait_idle(page)
    dates.get_by_text("Cross-attention of every layer (rows) and head (columns)").first.wait_for(state="visible")
    assert dates.get_by_text("layer 2, head 4").first.is_visible()
    no_exception(page)
    shot(page, "seq2seq-transformer")
