"""The CNNs page in headless Chromium: a real photo uploaded into the convolution explorer
(and a damaged one refused), an architecture's counts, a training, and a digit drawn with
the mouse and classified by the trained network."""

import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _photo(tmp_path) -> str:
    """A real photo (scikit-image's rocket) saved as a JPEG that needs its EXIF turn."""
    import skimage.data

    img = Image.fromarray(skimage.data.rocket()).rotate(90, expand=True)  # stored sideways…
    exif = Image.Exif()
    exif[0x0112] = 8  # …and tagged "rotate 90° clockwise to view"
    path = tmp_path / "rocket sideways.jpg"
    img.save(path, "JPEG", exif=exif)
    return str(path)


def _upload(panel, page, path: str) -> None:
    panel.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    panel.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(path)
    wait_idle(page)


def _stroke(page, box) -> None:
    """A vertical line down the middle of the canvas (a "1"), drawn with the mouse."""
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 30)
    page.wait_for_timeout(100)
    page.mouse.down()
    for k in range(16):
        page.mouse.move(x, box["y"] + 30 + k * 10, steps=3)
        page.wait_for_timeout(10)
    page.mouse.up()


def test_explorer_upload_and_architectures(page, app_url, tmp_path):
    page.goto(f"{app_url}/cnn")
    wait_idle(page)
    assert page.get_by_role("heading", name="Convolutional networks").first.is_visible()
    no_exception(page)
    explorer = page.get_by_role("tabpanel", name="Convolution explorer")
    _upload(explorer, page, _photo(tmp_path))
    assert explorer.get_by_text("turned upright using the photo's orientation tag").first.is_visible()
    explorer.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert explorer.get_by_text("= 128").count() + explorer.get_by_text("= 126").count() > 0  # the size formula
    no_exception(page)
    shot(page, "cnn-explorer-upload")

    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    explorer.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(bad))
    wait_idle(page)
    assert explorer.get_by_text("is not an image we can read").first.is_visible()
    cut = tmp_path / "cut.png"
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    explorer.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(cut))
    wait_idle(page)
    assert explorer.get_by_text("looks damaged or cut short").first.is_visible()
    no_exception(page)

    page.get_by_role("tab", name="Architectures").click()
    arch = page.get_by_role("tabpanel", name="Architectures")
    arch.get_by_role("combobox", name="Architecture to inspect").click()
    page.get_by_role("option", name="ResNet-50").click()
    wait_idle(page)
    assert arch.get_by_text("25,557,032").first.is_visible()
    no_exception(page)
    shot(page, "cnn-architectures-resnet50")


def test_train_then_classify_a_drawn_digit(page, app_url):
    page.goto(f"{app_url}/cnn")
    wait_idle(page)
    page.get_by_role("tab", name="Train a CNN").click()
    train = page.get_by_role("tabpanel", name="Train a CNN")
    limit = train.get_by_role("spinbutton", name="Training images (0 = all)")
    limit.fill("1500")
    limit.press("Tab")  # Enter would submit the form itself; the learner presses Train
    train.get_by_role("button", name="Train", exact=True).click()
    train.get_by_text("Finished in").wait_for(timeout=240_000)
    wait_idle(page)
    train.get_by_text("Confusion matrix (dev set)").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    assert train.get_by_role("button", name="Download the trained weights (.pt)").is_visible()
    no_exception(page)
    shot(page, "cnn-trained")

    page.get_by_role("tab", name="Inside the network").click()
    inside = page.get_by_role("tabpanel", name="Inside the network")
    assert inside.get_by_role("combobox", name="Network to look into").input_value().startswith(
        "The network trained in this session")
    inside.get_by_text("Your own image").click()
    wait_idle(page)
    inside.get_by_role("radio", name="Draw").first.click()
    wait_idle(page)
    canvas = inside.locator("canvas.upper-canvas").first
    canvas.wait_for(state="visible", timeout=30_000)
    canvas.evaluate("e => e.scrollIntoView({block: 'center'})")  # strokes near the viewport's edge get lost
    answer = inside.get_by_text("Your image: the network says")
    for _ in range(3):  # the drawing library binds its mouse handlers a moment after mounting
        page.wait_for_timeout(1000)
        _stroke(page, canvas.bounding_box())
        try:
            answer.wait_for(timeout=15_000)
            break
        except PlaywrightTimeout:
            continue
    wait_idle(page)
    assert inside.get_by_text("What the network sees (28×28)").first.is_visible()
    no_exception(page)
    shot(page, "cnn-inside-drawn")
