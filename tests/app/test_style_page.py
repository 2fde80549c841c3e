"""The Neural style transfer page under AppTest: a tiny transfer tracked end to end (the page's numbers
against the tracked run and the downloaded PNG), Stop keeping the image so far, bad uploads and bad
settings, the reconstructions tab — all offline: VGG-19's ImageNet weights cannot be downloaded here,
so the page must say it runs with random weights. The jobs run in a worker process: the tests that start
one give it no network either (``tests.fake_offline``), and the NaN test gives it a cost that turns NaN
(``tests.fakes_style``)."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from core import tracking
from core.style import vgg
from tests.app.helpers import by_label, page, run_until, texts


def _tiny(at, steps=10, size=64):
    by_label(at.slider, "Image size (longer side, px)").set_value(size)
    by_label(at.slider, "Steps").set_value(steps)
    return at.run()


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_tiny_transfer_is_tracked_and_downloadable(fresh_store, offline, preloaded_runner):
    preloaded_runner("tests.fake_offline")
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
    assert run["tags.dll.weights"] == "random" and run["params.steps"] == "10" and run["params.size"] == "64"
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


def test_stop_keeps_the_image_so_far(fresh_store, offline, preloaded_runner):
    preloaded_runner("tests.fake_offline")
    at = _tiny(page("style").run(), steps=1000)
    by_label(at.button, "Start style transfer").click().run()
    run_until(at, lambda a: any(b.label == "Stop" for b in a.button) and _step(a) >= 3, every=0.5)
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


def _step(at) -> int:
    """The step the running job reports in its progress bar ("step 12 of 1000 · ..."), 0 before."""
    found = re.findall(r"step (\d+) of", " ".join(str(p.proto.text) for p in at.get("progress")))
    return int(found[-1]) if found else 0


def test_a_text_file_named_png_gets_a_message_and_no_start(fresh_store, offline):
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


def test_reconstructions_from_noise(fresh_store, offline, preloaded_runner):
    preloaded_runner("tests.fake_offline")
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
    assert runs["status"].tolist() == ["FINISHED"] and runs.iloc[0]["tags.dll.kind"] == "reconstruction"
    names = [name for name, _ in tracking.image_artifacts(runs.iloc[0]["run_id"], limit=20)]
    assert any("content_conv1_2" in n for n in names) and any("style_conv1_1-conv2_1" in n for n in names)
    assert vgg.LAYERS.index("conv2_1") == 2  # the deepest layer used: 3 of 16 convolutions
    assert "up to 3 of VGG-19's 16 convolutions" in captions


def test_cached_imagenet_weights_are_used_and_named(fresh_store, offline, preloaded_runner):
    """The pretrained path, offline: a seeded stand-in for VGG-19's weights file in the torch hub cache is read
    from there (no network), the page says the weights are on this machine, and the run is tagged imagenet."""
    import torch

    from core.pretrained import hub_path

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        state = {f"features.{k}": v for k, v in vgg.build_features().state_dict().items()}
    preloaded_runner("tests.fake_offline")
    path = hub_path(vgg.URL)  # TORCH_HOME crosses over to the worker
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    at = _tiny(page("style").run())
    assert "are on this machine" in texts(at) and "not on this machine" not in texts(at)
    by_label(at.button, "Start style transfer").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    assert "random weights" not in texts(at)
    run = tracking.search_runs().iloc[0]
    assert run["tags.dll.weights"] == "imagenet" and run["status"] == "FINISHED"
    from core.style.transfer import features

    module, pretrained, _ = features(allow_download=False)
    assert pretrained and torch.equal(module[0].weight, state["features.0.weight"])


NAN_AT_4 = "the cost became NaN at step 4 — try a smaller learning rate or β, or Adam instead of L-BFGS"


def test_a_cost_that_turns_nan_shows_the_panels_sentence_and_keeps_the_last_image(fresh_store, offline,
                                                                                   preloaded_runner):
    preloaded_runner("tests.fake_offline", "tests.fakes_style")  # the worker's cost turns NaN at step 4
    at = _tiny(page("style").run())
    by_label(at.button, "Start style transfer").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a)).run()  # the job finishes; its run is FAILED
    assert not at.exception
    # the job panel's one sentence, and no message of the page's own
    assert [e.value for e in at.error] == [f"Style transfer diverged: {NAN_AT_4}. Its run is tracked as FAILED."]
    assert "The last good image (after step 3) is kept below, downloadable and tracked." in texts(at)
    assert "Generated G after 3 steps (VGG-19 with random weights)" in [c for im in at.image for c in im.captions]
    assert by_label(at.get("download_button"), "Download the image (PNG)")
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FAILED"
    assert run[f"tags.{tracking.TAG_ERROR}"] == NAN_AT_4
    assert len(tracking.metric_history(run["run_id"], "J_total")) == 3  # the three good steps
    names = [name for name, _ in tracking.image_artifacts(run["run_id"], limit=20)]
    assert any(name.endswith("result.png") for name in names)
