"""Every uploader of the lab gets the awkward files of tests/awkward.py: an empty file, a text file named
.png, a truncated PNG, a CMYK JPEG, a 16-bit PNG, an animated GIF, an RGBA PNG and a 12,000 × 12,000
PNG (a decompression bomb) — and the text uploader gets empty, binary, Latin-1, UTF-16 and oversized
files. Each must give a plain message naming the file or a sensible result, never an exception, and the
page must keep working afterwards (a good file is taken after all the bad ones).

Uploaders that need a trained network first (the Transfer learning prediction, the CNN page's "Inside the
network", Face recognition's verification pair) get a one-epoch training before their files.
"""

from __future__ import annotations

import pytest

from core.rnn.corpora import MAX_UPLOAD_BYTES
from tests.app.helpers import by_label, page, run_until, texts
from tests.awkward import AWKWARD_TEXTS, awkward_images

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

# (page, the image_input label); every one of these is drawn without training anything first
IMAGE_INPUTS = [
    ("cnn", "Explorer image"),
    ("detection", "Photo"),
    ("style", "Content image"),
    ("style", "Style image"),
    ("style", "Image A"),
    ("style", "Image B"),
]


def _errors_about(at, name: str) -> list[str]:
    return [str(e.value) for e in at.error if name in str(e.value)]


def _feed(at, label: str) -> None:
    """Upload every awkward image into the uploader ``label`` of ``at``, checking each answer."""
    for name, (data, mime, accepted) in awkward_images().items():
        by_label(at.file_uploader, label).set_value((name, data, mime))
        at.run()
        assert not at.exception, f"{name}: {at.exception}"
        errors = _errors_about(at, name)
        if accepted:
            assert not errors, f"{name} should be taken: {errors}"
        else:
            assert len(errors) == 1 and errors[0].endswith((".", "first.")), f"{name}: {errors}"
            assert "Traceback" not in errors[0] and "Error:" not in errors[0]
    by_label(at.file_uploader, label).set_value(("fine.png", awkward_images()["transparent.png"][0], "image/png"))
    at.run()
    assert not at.exception and not _errors_about(at, "fine.png")


@pytest.mark.parametrize(("name", "label"), IMAGE_INPUTS, ids=[f"{p}-{lbl}" for p, lbl in IMAGE_INPUTS])
def test_every_image_uploader_takes_awkward_files(offline, fresh_store, name, label):
    at = page(name, timeout=180).run()
    assert not at.exception, at.exception
    by_label(at.segmented_control, f"{label}: source").set_value("Upload")
    at.run()
    _feed(at, f"{label}: upload")
    assert offline.count == 0


def test_bomb_message_names_its_size(offline, fresh_store):
    at = page("detection", timeout=120).run()
    by_label(at.segmented_control, "Photo: source").set_value("Upload")
    at.run()
    data, mime, _ = awkward_images()["bomb.png"]
    by_label(at.file_uploader, "Photo: upload").set_value(("bomb.png", data, mime))
    at.run()
    assert not at.exception
    (message,) = _errors_about(at, "bomb.png")
    assert message.startswith("bomb.png is 12000 × 12000 pixels (144") and message.endswith("scale it down first.")


def test_transfer_class_uploader_takes_them_all_at_once(offline, fresh_store):
    at = page("transfer", timeout=180).run()
    files = [(n, d, m) for n, (d, m, _) in awkward_images().items()]
    by_label(at.file_uploader, "Add pictures to “brick”").set_value(files)
    at.run()
    assert not at.exception, at.exception
    good = [n for n, (_, _, ok) in awkward_images().items() if ok]
    bad = [n for n, (_, _, ok) in awkward_images().items() if not ok]
    assert f"Added {len(good)} pictures." in texts(at)
    warnings = [str(w.value) for w in at.warning]
    for name in bad:
        assert sum(name in w for w in warnings) == 1, (name, warnings)
    assert f"**{20 + len(good)}** pictures" in next(m.value for m in at.markdown if "pictures · at most" in m.value)


def test_transfer_prediction_uploader_after_a_training(offline, fresh_store):
    at = page("transfer", timeout=180).run()
    at.slider(key="transfer.epochs").set_value(1)
    at.select_slider(key="transfer.size").set_value(64)
    by_label(at.button, "Train").click()
    at.run()
    at = run_until(at, lambda a: "Finished in" in texts(a), timeout=300)
    by_label(at.segmented_control, "Picture: source").set_value("Upload")
    at.run()
    _feed(at, "Picture: upload")


def test_text_uploader_takes_awkward_text(offline, fresh_store):
    at = page("rnn", timeout=120).run()
    at.selectbox(key="rnn.lm_corpus").set_value("upload")
    at.run()
    files = {**AWKWARD_TEXTS, "huge.txt": (b"abcdefgh\n" * (MAX_UPLOAD_BYTES // 9 + 10), False)}
    for name, (data, accepted) in files.items():
        by_label(at.file_uploader, f"A plain-text file (UTF-8, at most {MAX_UPLOAD_BYTES // 1_000_000} MB)").set_value(
            (name, data, "text/plain"))
        at.run()
        assert not at.exception, f"{name}: {at.exception}"
        errors = _errors_about(at, name)
        assert (not errors) if accepted else len(errors) == 1, (name, errors)
    assert "poem.txt" not in " ".join(str(e.value) for e in at.error)


def test_cnn_inside_uploader_after_a_training(offline, fresh_store):
    at = page("cnn", timeout=180).run()
    by_label(at.selectbox, "Training data").set_value("digits")
    by_label(at.number_input, "Training images (0 = all)").set_value(300)
    by_label(at.slider, "Epochs ").set_value(1)
    by_label(at.button, "Train").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a)).run()
    by_label(at.radio, "Image to look at").set_value("Your own image").run()
    by_label(at.segmented_control, "Image to classify: source").set_value("Upload").run()
    _feed(at, "Image to classify: upload")


def test_face_verification_uploaders_after_a_training(offline, fresh_store):
    at = page("faces", timeout=180).run()
    by_label(at.selectbox, "Identities to train on").set_value("digits")
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.select_slider, "Channels of the first convolution").set_value(8)
    by_label(at.select_slider, "Embedding size").set_value(8)
    by_label(at.button, "Train the siamese network").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a)).run()
    by_label(at.radio, "Images to compare").set_value("Your own images").run()
    for side in ("First image", "Second image"):
        by_label(at.segmented_control, f"{side}: source").set_value("Upload").run()
        _feed(at, f"{side}: upload")
