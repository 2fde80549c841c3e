"""The Transfer learning page under AppTest: the example classes on the first visit, uploads (several at once,
bad files, the per-class limit), the camera, class names, removing pictures and classes, training offline
with and without ImageNet weights in the torch hub cache, predictions and the export.

No network: every test runs with the ``offline`` fixture (empty TORCH_HOME, refused sockets). The
"ImageNet weights" of the pretrained runs are a random-init ResNet-18 state dict saved at the exact file
torch hub would download; references are the tracking store, the class-set rules of core.transfer.data
and the files' own loaders (torch.jit.load, zipfile).
"""

from __future__ import annotations

import io
import json

import pytest
import torch
import torchvision
from PIL import Image

from core import tracking
from core.pretrained import hub_path
from core.transfer.backbones import spec
from core.transfer.data import EXAMPLE_PER_CLASS, MAX_IMAGES_PER_CLASS
from tests.app.helpers import by_label, chart, page, plotly_array, run_until, texts
from ui.jobs import divergence_line

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _jpeg(color=(200, 30, 30), size=(90, 60), seed: int = 0) -> bytes:
    img = Image.new("RGB", size, color)
    img.putpixel((seed % size[0], 0), (seed % 256, 0, 0))  # every picture different (they are de-duplicated)
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def _png_truncated() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buf, "PNG")
    return buf.getvalue()[:300]


def _runs():
    runs = tracking.search_runs()
    return runs[runs["experiment"] == "transfer"] if len(runs) else runs


def _fresh():
    at = page("transfer", timeout=180)
    at.run()
    assert not at.exception, at.exception
    return at


def _count(at, class_index: int = 0) -> str:
    return [m.value for m in at.markdown if "pictures · at most" in str(m.value)][class_index]


def _plant_weights(seed: int = 0, nan: bool = False) -> None:
    torch.manual_seed(seed)
    path = hub_path(spec("ResNet-18").url)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = torchvision.models.resnet18().state_dict()
    if nan:  # weights that hold the right shapes but a NaN: the frozen network's loss is NaN at once
        state["layer4.1.bn2.running_var"][0] = float("nan")
    torch.save(state, path)


def _train(at, *, epochs: int = 2, size: int = 64):
    at.slider(key="transfer.epochs").set_value(epochs)
    at.select_slider(key="transfer.size").set_value(size)
    by_label(at.button, "Train").click()
    at.run()
    assert not at.exception, at.exception
    return run_until(at, lambda a: "Finished in" in texts(a) or "stopped" in texts(a).lower(), timeout=300)


def test_first_visit_has_the_example_classes_ready(offline, fresh_store):
    at = _fresh()
    assert [t.label for t in at.tabs] == ["1 · Your classes", "2 · Train", "3 · Try it and export"]
    names = [t.value for t in at.text_input if t.label == "Class name"]
    assert names == ["brick", "grass", "gravel"]
    assert all(f"**{EXAMPLE_PER_CLASS}** pictures" in _count(at, i) for i in range(3))
    assert "Ready: 3 classes, 60 pictures" in texts(at)
    assert "Train a network in the *Train* tab first" in texts(at)  # nothing to predict with yet
    # the other example set replaces the classes
    at.selectbox(key="transfer.example").set_value("Shapes: circle, square, triangle")
    by_label(at.button, "Load the example set").click()
    at.run()
    assert [t.value for t in at.text_input if t.label == "Class name"] == ["circle", "square", "triangle"]
    assert offline.count == 0


def test_uploads_several_at_once_with_bad_files_and_the_limit(offline, fresh_store):
    at = _fresh()
    uploader = by_label(at.file_uploader, "Add pictures to “brick”")
    uploader.set_value([("a.jpg", _jpeg(seed=1), "image/jpeg"), ("b.jpg", _jpeg(seed=2), "image/jpeg"),
                        ("notes.png", b"this is not a picture", "image/png"),
                        ("cut.png", _png_truncated(), "image/png"), ("empty.jpg", b"", "image/jpeg"),
                        ("again.jpg", _jpeg(seed=1), "image/jpeg")])
    at.run()
    assert not at.exception, at.exception
    page_text = texts(at)
    assert f"**{EXAMPLE_PER_CLASS + 2}** pictures" in _count(at, 0)
    assert "Added 2 pictures." in page_text
    assert "notes.png is not an image we can read" in page_text
    assert "cut.png" in page_text and "empty.jpg is empty" in page_text
    assert "1 picture was already in “brick” and not added again." in page_text
    # the uploader was emptied (a new one under a new key), so a rerun adds nothing twice
    at.run()
    assert f"**{EXAMPLE_PER_CLASS + 2}** pictures" in _count(at, 0)

    # the per-class limit: the rest of a big upload is refused with a sentence
    room = MAX_IMAGES_PER_CLASS - (EXAMPLE_PER_CLASS + 2)
    files = [(f"p{i}.jpg", _jpeg(seed=100 + i), "image/jpeg") for i in range(room + 3)]
    by_label(at.file_uploader, "Add pictures to “brick”").set_value(files)
    at.run()
    assert f"**{MAX_IMAGES_PER_CLASS}** pictures" in _count(at, 0)
    assert f"“brick” is full ({MAX_IMAGES_PER_CLASS} images per class): 3 pictures were not added." in texts(at)
    assert offline.count == 0


def test_camera_class_names_and_removing(offline, fresh_store):
    at = _fresh()
    at.toggle(key=next(t.key for t in at.toggle if t.label == "Take pictures with the camera")).set_value(True)
    at.run()
    at.camera_input[0].set_value(("shot.jpg", _jpeg((10, 200, 10)), "image/jpeg"))
    at.run()
    assert not at.exception, at.exception
    assert "Added 1 picture." in texts(at) and f"**{EXAMPLE_PER_CLASS + 1}** pictures" in _count(at, 0)

    # a picture's remove button (the newest is shown first)
    remove = [b for b in at.button if b.label == "Remove" and b.key.startswith("transfer.rm.")]
    remove[0].click()
    at.run()
    assert f"**{EXAMPLE_PER_CLASS}** pictures" in _count(at, 0)

    # a name that is taken (in another case) is refused; a new class needs pictures before training
    at.text_input(key="transfer.new_name").set_value("Grass")
    by_label(at.button, "Add class").click()
    at.run()
    assert "There is already a class called “Grass”." in texts(at)
    at.text_input(key="transfer.new_name").set_value("mug")
    by_label(at.button, "Add class").click()
    at.run()
    assert [t.value for t in at.text_input if t.label == "Class name"][-1] == "mug"
    assert "Class “mug” has 0 images; it needs at least 4" in texts(at)
    by_label(at.button, "Train").click()
    at.run()
    assert "The classes are not ready" in texts(at) and "Fix them in the first tab." in texts(at)
    assert len(_runs()) == 0  # nothing was trained

    # renaming a class to nothing is reported; removing classes down to one is reported too
    first = next(t for t in at.text_input if t.label == "Class name")
    first.set_value("   ")
    at.run()
    assert "A class needs a name." in texts(at)
    for _ in range(3):
        by_label(at.button, "Remove class").click()
        at.run()
    assert "Add at least 2 classes (there is 1)." in texts(at)
    assert not at.exception


def test_offline_without_weights_trains_from_scratch_then_predicts_and_exports(offline, fresh_store):
    at = _fresh()
    at = _train(at)
    page_text = texts(at)
    assert "The ImageNet weights of ResNet-18 are not on this machine and could not be downloaded" in page_text
    assert "from-scratch run only" in page_text
    runs = _runs()
    assert list(runs["run_name"]) == ["from scratch"] and list(runs["status"]) == ["FINISHED"]
    assert list(runs["tags.dll.weights"]) == ["random"] and list(runs["params.pretrained"]) == ["false"]
    assert json.loads(runs["params.classes"].iloc[0]) == ["brick", "grass", "gravel"]
    assert json.loads(runs["params.images_per_class"].iloc[0]) == [EXAMPLE_PER_CLASS] * 3
    assert not hub_path(spec("ResNet-18").url).exists()  # no partial download left behind

    # the third tab: a fresh example picture, its probabilities and map
    probs = chart(at, "It says:")
    p = plotly_array(probs["data"][0]["y"])
    assert p.shape == (3,) and abs(p.sum() - 1) < 1e-5 and list(probs["data"][0]["x"]) == ["brick", "grass", "gravel"]
    by_label(at.button, "Prepare the downloads").click()
    at.run()
    assert not at.exception, at.exception
    downloads = {d.label for d in at.get("download_button")}
    assert {"Everything (.zip)", "TorchScript (.pt)", "ONNX (.onnx)", "Labels (.txt)"} <= downloads
    assert "torch.jit.load" in texts(at)


def test_pretrained_from_the_hub_cache_against_scratch(offline, fresh_store):
    _plant_weights()
    at = _fresh()
    assert "on this machine already" in texts(at)
    at = _train(at)
    runs = _runs()
    assert sorted(runs["run_name"]) == ["from scratch", "pretrained, frozen"] and offline.count == 0
    assert set(runs["status"]) == {"FINISHED"} and runs["tags.dll.comparison"].nunique() == 1
    assert dict(zip(runs["run_name"], runs["tags.dll.trained"], strict=True))["pretrained, frozen"] == "head on cached features"
    page_text = texts(at)
    assert "could not be downloaded" not in page_text
    bars = chart(at, "Dev accuracy on")
    assert set(bars["data"][0]["y"]) == {"pretrained, frozen", "from scratch"}
    cm = chart(at, "Confusion matrix")
    counts = plotly_array(cm["data"][0]["text"])
    assert counts.sum() == 15 and list(counts.sum(1)) == [5, 5, 5]  # 3 classes × 5 dev pictures (a quarter of 20)
    assert "comparison tag" in page_text
    # the third tab predicts with the frozen network too: its head from the run, its body from the hub cache
    at.radio(key="transfer.use_lane").set_value("pretrained, frozen").run()
    assert not at.exception, at.exception
    p = plotly_array(chart(at, "It says:")["data"][0]["y"])
    assert p.shape == (3,) and abs(p.sum() - 1) < 1e-5


def test_fine_tuning_with_augmentation_from_the_hub_cache(offline, fresh_store):
    _plant_weights(seed=1)
    at = _fresh()
    at.radio(key="transfer.method").set_value("fine-tuning")
    at.slider(key="transfer.blocks.ResNet-18").set_value(2)
    at.checkbox(key="transfer.scratch").set_value(False)
    at.checkbox(key="transfer.aug_flip").set_value(True)
    at.checkbox(key="transfer.aug_color").set_value(True)
    at = _train(at, epochs=1)
    runs = _runs()
    assert list(runs["run_name"]) == ["pretrained, last 2 blocks tuned"] and list(runs["status"]) == ["FINISHED"]
    assert list(runs["tags.dll.trained"]) == ["head and body"] and list(runs["params.fine_tune_blocks"]) == ["2"]
    assert list(runs["params.augment.flip"]) == ["true"] and list(runs["params.augment.crop"]) == ["false"]
    # layer3, layer4 and the head learned: the trained-parameter count is theirs (ResNet-18, 3 classes)
    import torchvision as tv

    net = tv.models.resnet18()
    expected = sum(p.numel() for m in (net.layer3, net.layer4) for p in m.parameters()) + 512 * 3 + 3
    assert float(runs["metrics.trainable_parameters"].iloc[0]) == expected
    assert offline.count == 0


def test_a_diverged_lane_is_said_once_by_the_job_panel_and_the_other_lane_is_used(offline, fresh_store):
    _plant_weights(nan=True)
    at = _fresh()
    at = _train(at, epochs=1)
    sentence = "the loss became NaN at step 1 — try a smaller learning rate"
    assert [e.value for e in at.error] == [divergence_line("pretrained, frozen", sentence)]  # and no other word
    assert "Finished in" in texts(at)  # the job itself finished: the other lane trained
    runs = _runs().set_index("run_name")
    assert runs.loc["pretrained, frozen", "status"] == "FAILED" and runs.loc["from scratch", "status"] == "FINISHED"
    assert runs.loc["pretrained, frozen", "tags.dll.error"] == sentence
    table = next(d.value for d in at.dataframe if "network" in d.value.columns)
    assert dict(zip(table["network"], table["status"], strict=True)) == {"pretrained, frozen": "FAILED",
                                                                         "from scratch": "FINISHED"}
    # the third tab offers the network that finished, and predicts with it
    lanes = at.radio(key="transfer.use_lane")
    assert lanes.value == "from scratch" and len(lanes.options) == 1
    p = plotly_array(chart(at, "It says:")["data"][0]["y"])
    assert p.shape == (3,) and abs(p.sum() - 1) < 1e-5
    assert offline.count == 0
