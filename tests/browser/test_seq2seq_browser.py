"""The Sequence models page in headless Chromium: train a small date translator, read its
exact match and BLEU, translate a typed date and see the attention heatmap, run beam
search on it, and score a sentence in the BLEU tab."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def test_train_translate_beam_and_bleu(page, app_url):
    page.goto(f"{app_url}/seq2seq")
    wait_idle(page)
    assert page.get_by_role("heading", name="Sequence models").first.is_visible()
    dates = page.get_by_role("tabpanel", name="Date translation")
    # a small, quick model: 1,000 English dates, 2 epochs
    dates.get_by_role("slider", name="Epochs").first.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    pairs = dates.get_by_role("slider", name="Training pairs").first
    pairs.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    dates.get_by_role("button", name="Train", exact=True).click()
    dates.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    assert dates.get_by_text("Exact match (attention)").first.is_visible()
    assert dates.get_by_text("BLEU (attention)").first.is_visible()
    no_exception(page)

    box = dates.get_by_label("A date, written any way (at most 60 characters)")
    box.fill("")
    box.press("Enter")
    wait_idle(page)
    assert dates.get_by_text("the box is empty").first.is_visible()
    box.fill("Saturday, 3 May 1997")
    box.press("Enter")
    wait_idle(page)
    dates.locator('[data-testid="stPlotlyChart"] .main-svg').last.wait_for(state="visible")
    assert dates.get_by_text("Attention: where each output character looked").first.is_visible()
    no_exception(page)
    shot(page, "seq2seq-dates-trained")

    page.get_by_role("tab", name="Beam search").click()
    beam = page.get_by_role("tabpanel", name="Beam search")
    wait_idle(page)
    beam.get_by_text("Beam search tree").first.wait_for(state="visible")
    assert beam.get_by_text("Greedy search").first.is_visible()
    no_exception(page)
    shot(page, "seq2seq-beam")

    page.get_by_role("tab", name="BLEU").click()
    bleu = page.get_by_role("tabpanel", name="BLEU")
    cand = bleu.get_by_label("Candidate (the machine's output)")
    cand.fill("the the the the the the the")
    cand.press("Enter")
    wait_idle(page)
    assert bleu.get_by_text("Brevity penalty BP").first.is_visible()
    assert bleu.get_by_text("no match").first.is_visible()
    no_exception(page)
    shot(page, "seq2seq-bleu")

    page.get_by_role("tab", name="Number words").click()
    numbers = page.get_by_role("tabpanel", name="Number words")
    wait_idle(page)
    assert numbers.get_by_text("needs a trained number words model").first.is_visible()
    no_exception(page)
    shot(page, "seq2seq-numbers")
