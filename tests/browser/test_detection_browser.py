"""The Object detection page in headless Chromium: every tab opens and draws, the NMS tab switches to
per-class NMS, a small detector trains to its held-out scenes before and after NMS, a real photo is uploaded to the pretrained detector (offline: the one-sentence message
and the way to the shapes detector; with the weights: labelled boxes), and a text file named .png is
refused with a plain message."""

import pytest
from PIL import Image

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


def _photo(tmp_path) -> str:
    """A real photo (scikit-image's coffee cup) saved as a JPEG."""
    import skimage.data

    path = tmp_path / "coffee.jpg"
    Image.fromarray(skimage.data.coffee()).save(path, "JPEG", quality=90)
    return str(path)


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name=name)


def _charts_drawn(panel, n: int) -> None:
    panel.locator('[data-testid="stPlotlyChart"] .main-svg').nth(n - 1).wait_for(state="visible")


def test_explainer_tabs(page, app_url):
    page.goto(f"{app_url}/detection")
    wait_idle(page)
    assert page.get_by_role("heading", name="Object detection").first.is_visible()
    loc = page.get_by_role("tabpanel", name="Localization")
    _charts_drawn(loc, 1)
    assert loc.get_by_text("the encoding loses nothing").first.is_visible()
    no_exception(page)
    shot(page, "detection-localization")

    iou = _tab(page, "IoU")
    _charts_drawn(iou, 1)
    assert iou.get_by_text("torchvision.ops.box_iou gives 0.1437").first.is_visible()
    shot(page, "detection-iou")

    nms = _tab(page, "Non-max suppression")
    _charts_drawn(nms, 3)  # before, after, the rounds
    assert nms.get_by_text("torchvision.ops.nms on the boxes above the score threshold keeps the same boxes").first.is_visible()
    nms.locator('[data-testid="stCheckbox"] label').first.click()  # the "Per-class NMS" switch
    assert nms.get_by_role("switch", name="Per-class NMS").is_checked()
    wait_idle(page)
    assert nms.get_by_text("torchvision.ops.batched_nms on the boxes above the score threshold keeps the same boxes").first.is_visible()
    no_exception(page)
    shot(page, "detection-nms-per-class")

    grid = _tab(page, "Anchors and the grid")
    _charts_drawn(grid, 2)
    assert grid.get_by_text("(1, 2)").first.is_visible()  # the default box's cell
    no_exception(page)
    shot(page, "detection-grid")

    families = _tab(page, "R-CNN vs YOLO")
    assert families.get_by_text("Region Proposal Network", exact=False).first.is_visible()
    assert families.get_by_role("link", name="https://arxiv.org/abs/1506.02640").is_visible()
    no_exception(page)
    shot(page, "detection-rcnn-vs-yolo")



def test_train_a_tiny_detector(page, app_url):
    page.goto(f"{app_url}/detection")
    wait_idle(page)
    train = _tab(page, "Train a detector")
    for label, value in (("Training scenes", "100"), ("Held-out scenes", "20")):
        box = train.get_by_role("spinbutton", name=label)
        box.fill(value)
        box.press("Tab")  # Enter would submit the form (and start a training) with the other fields unset
    epochs = train.get_by_role("slider", name="Epochs")
    epochs.focus()
    epochs.press("Home")  # 1 epoch
    train.get_by_role("button", name="Train the detector").click()
    train.get_by_text("Finished in").wait_for(timeout=180_000)
    wait_idle(page)
    train.get_by_text("mAP@0.5 (held-out scenes)").first.wait_for(timeout=60_000)  # the page's rerun after the job ends draws it
    assert train.get_by_text("Seconds per epoch").first.is_visible()
    held_out = train.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("Held-out scenes", exact=True)).first
    assert held_out.locator('[data-testid="stMetricValue"]').inner_text().strip() == "20"  # the form's values trained
    assert train.get_by_text("before NMS:", exact=False).first.is_visible()
    assert train.get_by_text("after NMS:", exact=False).first.is_visible()
    assert train.get_by_role("button", name="Download these scenes (PNG)").is_visible()
    no_exception(page)
    shot(page, "detection-trained")


def test_photo_upload_to_the_pretrained_detector(page, app_url, tmp_path):
    page.goto(f"{app_url}/detection")
    wait_idle(page)
    photo = _tab(page, "Detect in a photo")
    photo.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    uploader = photo.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    uploader.set_input_files(_photo(tmp_path))
    wait_idle(page)
    no_exception(page)
    download = photo.get_by_role("button", name="Download the weights", exact=False)
    if download.count():  # the usual case here: no weights in the torch cache yet
        download.first.click()
        wait_idle(page)
    offline = photo.get_by_text("could not be downloaded", exact=False)
    found = photo.get_by_text("Boxes after NMS")
    if offline.count():
        sentence = offline.first.inner_text().strip()
        assert sentence.endswith(".") and ". " not in sentence and "shapes detector" in sentence
        assert photo.get_by_text("Open the Train a detector tab").first.is_visible()
        assert photo.get_by_role("button", name="Try the download again").is_visible()
        assert photo.get_by_text("coffee.jpg").first.is_visible()  # the upload is shown, without boxes
    else:  # weights cached on this machine (or downloaded): labelled boxes, re-filtered by the sliders
        assert found.first.is_visible()
        assert photo.get_by_role("button", name="Download the annotated image (PNG)").is_visible()
    no_exception(page)
    shot(page, "detection-photo-upload")

    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    uploader.set_input_files(str(bad))
    wait_idle(page)
    assert photo.get_by_text("is not an image we can read").first.is_visible()
    no_exception(page)
    shot(page, "detection-photo-bad-file")
