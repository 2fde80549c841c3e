"""The "Transformer language model" tab in headless Chromium: train a tiny decoder-only Transformer on
first names, see its samples, type the start of a name and see the next-character probabilities and
the attention heads."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _lowest(panel, page, name: str) -> None:
    panel.get_by_role("slider", name=name).first.focus()
    page.keyboard.press("Home")


def test_train_sample_and_probe(page, app_url):
    page.goto(f"{app_url}/seq2seq")
    wait_idle(page)
    page.get_by_role("tab", name="Transformer language model").click()
    lm = page.get_by_role("tabpanel", name="Transformer language model")
    wait_idle(page)
    for name in ("Layers (blocks)", "Model size d_model", "Epochs"):  # 1 layer, d = 16, 1 epoch
        _lowest(lm, page, name)
    lm.get_by_role("button", name="Train the Transformer").click()
    lm.get_by_text("Sample from the trained Transformer").wait_for(timeout=180_000)
    wait_idle(page)
    assert lm.get_by_text("Samples after epoch 1").first.is_visible()
    box = lm.get_by_label("Type a text (at most 400 characters)")
    box.fill("Jo")
    box.press("Enter")
    wait_idle(page)
    lm.get_by_text("Causal self-attention, layer by layer").first.wait_for(state="visible")
    assert lm.get_by_text("Probability of the next character").first.is_visible()
    no_exception(page)
    lm.get_by_text("What it expects next").first.scroll_into_view_if_needed()
    shot(page, "transformer-lm-probe")
