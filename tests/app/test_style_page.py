"""The Neural style transfer page under AppTest: a tiny transfer tracked end to end (the page's numbers
against the tracked run and the downloaded PNG), Stop keeping the image so far, bad uploads and bad
settings, the reconstructions tab — all offline: VGG-19's ImageNet weights cannot be downloaded here,
so the page must say it runs with random weights."""

import io
import socket

import numpy as np
import pytest
from PIL import Image

from core import tracking
from core.style import vgg
from tests.app.helpers import by_label, page, run_until, texts


@pytest.fixture
def offline_weights(tmp_path, monkeypatch):
    """An empty torch hub cache and no network: the VGG-19 download fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def refuse(*args, **kwargs):
        raise OSError("network blocked in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _tiny(at, steps=10, size=64):
    by_label(at.slider, "Image size (longer side, px)").set_value(size)
    by_label(at.slider, "Steps").set_value(steps)
    return at.run()


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_tiny_transfer_is_tracked_and_downloadable(fresh_store, offline_weights):
    at = _tiny(page("style").run())
    assert not at.exception
    assert "not on this machine yet" in texts(at)
    by_label(at.button, "Start style transfer").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    assert "random weights" in texts(at)  # never presented as pretrained
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"]
    run = runs.iloc[0]
    assert run["tags.weights"] == "random" and run["params.steps"] == "10" and run["params.size"] == "64"
    history = tracking.metric_history(run["run_id"], "J_total")
    assert len(history) == 10
    # the page's last J_content is the tracked one
    last = tracking.metric_history(run["run_id"], "J_content")["value"].iloc[-1]
    assert float(by_label(at.metric, "J_content (last step)").value) == pytest.approx(last, rel=1e-3)
    beta = float(run["params.beta_used"])
    assert float(by_label(at.metric, "β used").value) == pytest.approx(beta, rel=1e-3)
    names = [name for name, _ in tracking.image_artifacts(run["run_id"], limit=20)]
    for want in ("content.png", "style.png", "result.png", "progress.png", "costs.png"):
        assert any(n.endswith(want) for n in names), names
    # the tracked result is the image the page shows; 64 px on the longer side of the cat photo (451×300)
    result = dict(tracking.image_artifacts(run["run_id"], limit=20))
    tracked = np.asarray(Image.open(io.BytesIO(next(v for k, v in result.items() if k.endswith("result.png")))))
    assert tracked.shape == (43, 64, 3)
    assert any("Gram" in m.value for m in at.markdown)


def test_stop_keeps_the_image_so_far(fresh_store, offline_weights):
    at = _tiny(page("style").run(), steps=1000)
    by_label(at.button, "Start style transfer").click().run()
    run_until(at, lambda a: any(b.label == "Stop" for b in a.button) and "step 3 of" in _progress(a), every=0.5)
    by_label(at.button, "Stop").click().run()
    at = run_until(at, lambda a: "Stopped." in texts(a)).run()
    assert not at.exception
    assert "Stopped after" in texts(at) and "image so far" in texts(at)
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["KILLED"]
    n = len(tracking.metric_history(runs.iloc[0]["run_id"], "J_total"))
    assert 3 <= n < 1000
    names = [name for name, _ in tracking.image_artifacts(runs.iloc[0]["run_id"], limit=20)]
    assert any(name.endswith("result.png") for name in names)


def _progress(at) -> str:
    return " ".join(str(p.proto.text) for p in at.get("progress"))


def test_a_text_file_named_png_gets_a_message_and_no_start(fresh_store, offline_weights):
    at = page("style").run()
    by_label(at.segmented_control, "Style image: source").set_value("Upload").run()
    by_label(at.file_uploader, "Style image: upload").set_value(("brush.png", b"not a picture at all", "image/png"))
    at.run()
    assert not at.exception
    assert any("is not an image we can read" in e.value for e in at.error), [e.value for e in at.error]
    assert by_label(at.button, "Start style transfer").disabled
    # a real upload as the style image is used as it is (cropped to the content's shape)
    stripes = np.zeros((90, 120, 3), np.uint8)
    stripes[:, ::10] = (250, 30, 30)
    by_label(at.file_uploader, "Style image: upload").set_value(("stripes.png", _png(stripes), "image/png"))
    at.run()
    assert not at.exception and not by_label(at.button, "Start style transfer").disabled


def test_settings_that_make_no_sense_are_explained(fresh_store):
    at = page("style").run()
    by_label(at.multiselect, "Style layers").set_value([]).run()
    assert any("at least one style layer" in e.value for e in at.error)
    assert by_label(at.button, "Start style transfer").disabled
    by_label(at.multiselect, "Style layers").set_value(["conv1_1"]).run()
    by_label(at.number_input, "λ conv1_1").set_value(0.0).run()
    assert any("weight above 0" in e.value for e in at.error)
    assert by_label(at.button, "Start style transfer").disabled


def test_reconstructions_from_noise(fresh_store, offline_weights):
    at = page("style").run()
    by_label(at.multiselect, "Content layers").set_value(["conv1_2"])
    by_label(at.multiselect, "Style layers (the first …)").set_value([1, 2])
    by_label(at.slider, "Size (px)").set_value(64)
    by_label(at.slider, "Steps per image").set_value(10)
    at.run()
    by_label(at.button, "Rebuild from noise").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    captions = texts(at)
    assert "J_content" in captions and "J_style" in captions
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FINISHED"] and runs.iloc[0]["tags.kind"] == "reconstruction"
    names = [name for name, _ in tracking.image_artifacts(runs.iloc[0]["run_id"], limit=20)]
    assert any("content_conv1_2" in n for n in names) and any("style_conv1_1-conv2_1" in n for n in names)
    assert vgg.LAYERS.index("conv2_1") == 2  # the deepest layer used: 3 of 16 convolutions
    assert "up to 3 of VGG-19's 16 convolutions" in captions
