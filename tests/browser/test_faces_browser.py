"""The Face recognition page in headless Chromium: the explorer, a quick siamese training, its
one-shot evaluation, a real photo of a digit uploaded for verification (stored sideways with
an EXIF turn), and a text file posing as a PNG refused with a plain message."""

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _digit_photo(tmp_path) -> str:
    """A handwritten 3 from scikit-learn's digits as dark ink on light paper, saved as a JPEG
    stored sideways and tagged "rotate 90° clockwise to view"."""
    from sklearn.datasets import load_digits

    d = load_digits()
    ink = d.images[int(np.flatnonzero(d.target == 3)[0])] / 16.0
    paper = (255 - 200 * np.kron(ink, np.ones((24, 24)))).astype(np.uint8)
    img = Image.fromarray(np.pad(paper, 32, constant_values=255)).convert("RGB").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "digit three sideways.jpg"
    img.save(path, "JPEG", exif=exif, quality=92)
    return str(path)


def test_explore_train_evaluate_and_verify_an_upload(page, app_url, tmp_path):
    page.goto(f"{app_url}/faces")
    wait_idle(page)
    assert page.get_by_role("heading", name="Face recognition").first.is_visible()
    explorer = page.get_by_role("tabpanel", name="Triplet loss")
    explorer.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    explorer.get_by_role("button", name="Hard", exact=True).click()
    wait_idle(page)
    assert explorer.get_by_text("Hard: N is at least as close").first.is_visible()
    no_exception(page)
    shot(page, "faces-explorer")

    page.get_by_role("tab", name="One-shot evaluation").click()
    evaluation = page.get_by_role("tabpanel", name="One-shot evaluation")
    evaluation.get_by_role("button", name="Train a quick network on digits for this tab").click()
    page.get_by_role("tab", name="Train a siamese network").click()
    train = page.get_by_role("tabpanel", name="Train a siamese network")
    train.get_by_text("Finished in").wait_for(timeout=120_000)
    wait_idle(page)
    train.get_by_text("ROC AUC on unseen identities").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    no_exception(page)
    shot(page, "faces-trained")

    page.get_by_role("tab", name="One-shot evaluation").click()
    wait_idle(page)
    assert evaluation.get_by_text("Accuracy at the best τ").first.is_visible()
    evaluation.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    no_exception(page)
    shot(page, "faces-evaluation")

    page.get_by_role("tab", name="Verify two images").click()
    verify = page.get_by_role("tabpanel", name="Verify two images")
    assert verify.get_by_text("Squared distance d of the embeddings").first.is_visible()
    verify.get_by_text("Your own images").click()
    wait_idle(page)
    verify.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    upload = verify.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    upload.set_input_files(_digit_photo(tmp_path))
    wait_idle(page)
    assert verify.get_by_text("turned upright using the photo's orientation tag").first.is_visible()
    assert verify.get_by_text("Squared distance d of your two images").first.is_visible()
    assert verify.get_by_text("it has never seen a face").first.is_visible()
    no_exception(page)
    shot(page, "faces-verify-upload")

    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    upload.set_input_files(str(bad))
    wait_idle(page)
    assert verify.get_by_text("is not an image we can read").first.is_visible()
    assert verify.get_by_text("Squared distance d of your two images").count() == 0
    no_exception(page)
    shot(page, "faces-verify-bad-upload")
