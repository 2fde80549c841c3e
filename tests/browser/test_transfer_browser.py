"""The Transfer learning page in headless Chromium: the example classes, real photos uploaded several at
once into a class (with a text file named .png refused), a shot from Chromium's fake camera, a training
offline (the ImageNet weights cannot be downloaded, so the page says so and trains from scratch), a
prediction on an uploaded photo with its activation map, and the export downloaded and loaded back."""

import io
import zipfile

import pytest
import torch
from PIL import Image

from core.data.images import sample_images
from core.transfer.data import to_tensor
from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::FutureWarning")]


def _photos(tmp_path) -> list[str]:
    paths = []
    for name in ("Coffee cup", "Astronaut", "Rocket launch"):
        path = tmp_path / f"{name.lower().replace(' ', '-')}.jpg"
        sample_images()[name]().convert("RGB").save(path, "JPEG", quality=90)
        paths.append(str(path))
    return paths


def _tab(page, name: str):
    page.get_by_role("tab", name=name).click()
    wait_idle(page)
    return page.get_by_role("tabpanel", name=name)


def test_classes_camera_training_prediction_and_export(browser, app_url, tmp_path):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"], accept_downloads=True)
    page = ctx.new_page()
    page.goto(f"{app_url}/transfer")
    wait_idle(page)
    assert page.get_by_role("heading", name="Transfer learning").first.is_visible()
    classes = page.get_by_role("tabpanel", name="1 · Your classes")
    assert classes.get_by_text("Ready: 3 classes, 60 pictures").first.is_visible()

    # several real photos at once, and a text file posing as a PNG
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    classes.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(_photos(tmp_path) + [str(bad)])
    wait_idle(page)
    assert classes.get_by_text("Added 3 pictures.").first.is_visible()
    assert classes.get_by_text("notes.png is not an image we can read").first.is_visible()
    assert classes.get_by_text("23 pictures").first.is_visible()
    no_exception(page)

    # a picture from the (fake) camera
    classes.get_by_text("Take pictures with the camera").first.click()
    wait_idle(page)
    classes.get_by_role("button", name="Take Photo").first.click(timeout=30_000)
    wait_idle(page)
    classes.get_by_text("24 pictures").first.wait_for(timeout=30_000)
    no_exception(page)
    shot(page, "transfer-classes")

    # train offline: the weights cannot be had, so the page says so and trains from scratch
    train = _tab(page, "2 · Train")
    epochs = train.get_by_role("slider", name="Epochs")
    epochs.focus()
    for _ in range(6):  # 8 → 2 epochs
        epochs.press("ArrowLeft")
    size = train.get_by_role("slider", name="Image size (pixels)")
    size.focus()
    for _ in range(2):  # 128 → 64 pixels
        size.press("ArrowLeft")
    wait_idle(page)
    train.get_by_role("button", name="Train").click()
    train.get_by_text("Finished in").wait_for(timeout=300_000)
    wait_idle(page)
    assert train.get_by_text("could not be downloaded").first.is_visible()
    assert train.get_by_text("Dev accuracy on").first.is_visible()
    train.locator('[data-testid="stPlotlyChart"] .main-svg').nth(3).wait_for(state="visible")
    no_exception(page)
    shot(page, "transfer-trained")

    # a photo of ours through the trained network
    use = _tab(page, "3 · Try it and export")
    use.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    use.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(_photos(tmp_path)[0])
    wait_idle(page)
    assert use.get_by_text("Where it looked for").first.is_visible()
    use.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    no_exception(page)

    # the export, downloaded and loaded back: the same answer as the page's network
    use.get_by_role("button", name="Prepare the downloads").click()
    use.get_by_role("button", name="Everything (.zip)").wait_for(timeout=180_000)
    wait_idle(page)
    shot(page, "transfer-predict-export")
    with page.expect_download() as info:
        use.get_by_role("button", name="Everything (.zip)").click()
    data = (tmp_path / "bundle.zip")
    info.value.save_as(data)
    with zipfile.ZipFile(data) as z:
        assert {"model.pt", "model.onnx", "labels.txt", "preprocessing.json", "README.md"} <= set(z.namelist())
        labels = z.read("labels.txt").decode().splitlines()
        model = torch.jit.load(io.BytesIO(z.read("model.pt")))
    assert labels == ["brick", "grass", "gravel"]
    x = to_tensor(Image.open(_photos(tmp_path)[0]), 64)[None]
    with torch.no_grad():
        p = model(x)[0]
    assert p.shape == (3,) and abs(float(p.sum()) - 1) < 1e-5
    assert use.get_by_text(f"It says: {labels[int(p.argmax())]}").first.is_visible()
    no_exception(page)
    ctx.close()
