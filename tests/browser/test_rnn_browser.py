"""The RNNs page in headless Chromium: the gate viewer and the gradient charts, a small
character language model trained to "Finished", an uploaded .txt corpus and a binary file
posing as .txt refused with a plain message, and a small uni- vs bidirectional comparison."""

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _tab(page, name: str):
    page.get_by_role("tab", name=name, exact=True).click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name=name)


def _slide(panel, label: str, presses: int) -> None:
    """Move a slider to its minimum, then ``presses`` steps up, with the keyboard."""
    thumb = panel.get_by_role("slider", name=label)
    thumb.focus()
    thumb.press("Home")
    for _ in range(presses):
        thumb.press("ArrowRight")


def test_cells_gradients_and_a_small_language_model(page, app_url, tmp_path):
    page.goto(f"{app_url}/rnn")
    wait_idle(page)
    assert page.get_by_role("heading", name="RNNs").first.is_visible()
    cells = page.get_by_role("tabpanel", name="Cells and gates")
    cells.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert cells.get_by_text("An untrained LSTM cell with random weights").first.is_visible()
    box = cells.get_by_role("textbox", name="Text to read (at most 200 characters)")
    box.fill("price: 10 €")
    box.press("Enter")
    wait_idle(page)
    assert cells.get_by_text("Not in this cell's vocabulary").first.is_visible()
    box.fill("banana banana")
    box.press("Enter")
    wait_idle(page)
    assert cells.get_by_role("button", name="Download the gate values (CSV)").is_visible()
    no_exception(page)
    shot(page, "rnn-cells")

    grads = _tab(page, "Vanishing gradients")
    grads.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert grads.get_by_text("Global norm after clipping").first.is_visible()
    no_exception(page)
    shot(page, "rnn-gradients")

    lm = _tab(page, "Character language model")
    _slide(lm, "Hidden size", 1)  # 32
    _slide(lm, "Epochs", 2)  # 3 epochs
    lm.get_by_role("button", name="Train the language model").click()
    lm.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    lm.get_by_text("Samples after epoch 3").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    assert lm.get_by_text("Dev perplexity").first.is_visible()
    assert lm.get_by_role("button", name="Download every epoch's samples (.txt)").is_visible()
    assert lm.get_by_text("Sample from the trained model").first.is_visible()
    no_exception(page)
    shot(page, "rnn-lm-trained")



def test_uploaded_corpus_and_a_binary_file(page, app_url, tmp_path):
    page.goto(f"{app_url}/rnn")
    wait_idle(page)
    lm = _tab(page, "Character language model")
    lm.get_by_role("combobox", name="Text to learn").click()
    page.get_by_role("option", name="Your own text (.txt upload)").click()
    wait_idle(page)
    good = tmp_path / "poem.txt"
    good.write_text("Shall I compare thee to a summer's day?\nThou art more lovely and more temperate.\n" * 6,
                    encoding="utf-8")
    upload = lm.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    upload.set_input_files(str(good))
    wait_idle(page)
    assert lm.get_by_text("poem.txt").first.is_visible()
    assert lm.get_by_text("Shall I compare thee").first.is_visible()
    no_exception(page)
    shot(page, "rnn-lm-upload")

    bad = tmp_path / "picture.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    upload.set_input_files(str(bad))
    wait_idle(page)
    assert lm.get_by_text("looks like a binary file, not text").first.is_visible()
    no_exception(page)
    shot(page, "rnn-lm-bad-upload")


def test_bidirectional_comparison(page, app_url):
    page.goto(f"{app_url}/rnn")
    wait_idle(page)
    bi = _tab(page, "Bidirectional")
    _slide(bi, "Hidden size (each direction)", 0)  # 4
    _slide(bi, "String length", 0)  # 4
    _slide(bi, "Training strings", 0)  # 200
    _slide(bi, "Epochs", 1)  # 2 (a flow check: the accuracies are tested in tests/unit)
    bi.get_by_role("button", name="Train both taggers").click()
    bi.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    bi.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert bi.get_by_role("button", name="Download the accuracy per position (CSV)").is_visible()
    no_exception(page)
    shot(page, "rnn-bidirectional")
