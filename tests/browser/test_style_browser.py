"""The Neural style transfer page in headless Chromium: a real photo uploaded as the content image (a
JPEG stored sideways with an EXIF turn), a short transfer with its live image, result, download and
Gram matrices, a text file posing as a PNG refused as the style image, the costs tab and the
reconstructions from noise."""

import pytest
from PIL import Image

from core.data.images import sample_images
from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _sideways_photo(tmp_path) -> str:
    """The coffee-cup photo as a JPEG stored turned on its side, tagged "rotate 90° clockwise to view"."""
    img = sample_images()["Coffee cup"]().convert("RGB").rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "my coffee.jpg"
    img.save(path, "JPEG", exif=exif, quality=92)
    return str(path)


def _slide(panel, label: str, presses: int) -> None:
    """Move a Streamlit slider with the keyboard (each press is one step; negative = to the left)."""
    thumb = panel.get_by_role("slider", name=label)
    thumb.focus()
    for _ in range(abs(presses)):
        thumb.press("ArrowLeft" if presses < 0 else "ArrowRight")


def test_upload_transfer_download_and_reconstruct(page, app_url, tmp_path):
    page.goto(f"{app_url}/style")
    wait_idle(page)
    assert page.get_by_role("heading", name="Neural style transfer").first.is_visible()
    panel = page.get_by_role("tabpanel", name="Style transfer")
    assert panel.get_by_text("are not on this machine yet").first.is_visible()

    # a real photo as the content image
    panel.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    panel.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(_sideways_photo(tmp_path))
    wait_idle(page)
    assert panel.get_by_text("turned upright using the photo's orientation tag").first.is_visible()
    assert panel.get_by_text("Content C: my coffee.jpg").first.is_visible()

    _slide(panel, "Image size (longer side, px)", -8)  # 192 → 64 px
    _slide(panel, "Steps", -7)  # 100 → 30 steps
    wait_idle(page)
    panel.get_by_role("button", name="Start style transfer").click()
    panel.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    assert panel.get_by_text("Generated G after 30 steps").first.is_visible()
    assert panel.get_by_role("button", name="Download the image (PNG)").is_visible()
    assert panel.get_by_text("random weights").first.is_visible()  # honest about the weights
    panel.locator('[data-testid="stPlotlyChart"] .main-svg').last.wait_for(state="visible")
    no_exception(page)
    shot(page, "style-transfer-result")

    # a text file posing as a PNG, as the style image
    bad = tmp_path / "brush strokes.png"
    bad.write_text("this is not a picture")
    panel.get_by_role("radio", name="Upload").nth(1).click()
    wait_idle(page)
    panel.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(bad))
    wait_idle(page)
    assert panel.get_by_text("is not an image we can read").first.is_visible()
    assert panel.get_by_role("button", name="Start style transfer").is_disabled()
    no_exception(page)
    shot(page, "style-bad-upload")

    page.get_by_role("tab", name="Costs and Gram matrices").click()
    costs = page.get_by_role("tabpanel", name="Costs and Gram matrices")
    costs.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible", timeout=60_000)
    wait_idle(page)
    no_exception(page)
    shot(page, "style-costs")

    # the reconstructions use the first tab's pictures: put a sample style image back first
    page.get_by_role("tab", name="Style transfer").click()
    panel.get_by_role("radio", name="Sample photo").nth(1).click()
    wait_idle(page)
    page.get_by_role("tab", name="What each cost keeps").click()
    keeps = page.get_by_role("tabpanel", name="What each cost keeps")
    _slide(keeps, "Steps per image", -5)  # 80 → 30
    wait_idle(page)
    keeps.get_by_role("button", name="Rebuild from noise").click()
    keeps.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    assert keeps.get_by_text("From the style image's Gram matrices").first.is_visible()
    no_exception(page)
    shot(page, "style-reconstructions")
