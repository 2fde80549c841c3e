"""The GANs and VAEs page's GAN tabs under AppTest: the page renders, a tiny GAN trains as a job in the
worker process and its timeline, curves, coverage, Fréchet distance and class picker (the generator
loaded from the run) show; an exploding GAN shows the job panel's one sentence; the 2-D toy trains a
few steps."""

import json

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts
from ui.jobs import divergence_line


def _titles(at) -> list[str]:
    return [json.dumps(json.loads(c.proto.spec).get("layout", {}).get("title", ""), ensure_ascii=False)
            for c in at.get("plotly_chart")]


def test_gan_tab_trains_a_tiny_gan_and_shows_its_timeline():
    at = page("generative").run()
    assert not at.exception
    assert "minimax" in texts(at) and "non-saturating" in texts(at)
    at.selectbox(key="generative.gan.model").set_value("cgan")
    at.selectbox(key="generative.gan.dataset").set_value("digits")
    at.run()
    at.slider(key="generative.gan.epochs.cgan").set_value(2)
    at.select_slider(key="generative.gan.batch").set_value(64)
    at.session_state["generative.gan.overrides"] = {"max_train": 192, "eval_samples": 100, "n_timeline": 16}
    by_label(at.button, "Train the GAN").click().run()
    assert not at.exception
    run_until(at, lambda a: "Finished in" in texts(a), timeout=180)
    at.run()  # the page's rerun after the job
    assert not at.exception
    epoch = at.slider(key="generative.gan.epoch")
    assert epoch.max == 2 and epoch.value == 2
    titles = "\n".join(_titles(at))
    for title in ("Losses per generator step", "mean D(x)", "Fréchet distance", "Predicted classes"):
        assert title in titles, titles
    assert by_label(at.metric, "Classes covered").value.endswith("of 10")
    epoch.set_value(1).run()
    assert not at.exception and at.slider(key="generative.gan.epoch").value == 1
    captions = [c for im in at.image for c in im.captions]
    assert any("after epoch 1" in c for c in captions), captions
    assert "Ask the conditional GAN for one class" in [s.value for s in at.subheader]
    captions = [c for im in at.image for c in im.captions]
    assert any("32 samples for class 3" in c for c in captions), captions  # drawn by the generator the run saved
    at.segmented_control(key="generative.gan.label").set_value(7).run()
    assert not at.exception and any("32 samples for class 7" in c for im in at.image for c in im.captions)


def test_an_exploding_gan_shows_the_panels_one_sentence(fresh_store):
    at = page("generative").run()
    at.selectbox(key="generative.gan.model").set_value("mlp")
    at.selectbox(key="generative.gan.dataset").set_value("digits")
    at.run()
    at.slider(key="generative.gan.epochs.mlp").set_value(2)
    at.select_slider(key="generative.gan.batch").set_value(64)
    at.number_input(key="generative.gan.lr_g").set_value(1.0)
    at.number_input(key="generative.gan.lr_d").set_value(1.0)
    at.session_state["generative.gan.overrides"] = {"max_train": 192, "eval_samples": 0, "n_timeline": 16}
    by_label(at.button, "Train the GAN").click().run()
    run_until(at, lambda a: "Finished in" in texts(a), timeout=180)  # the job finishes; its run FAILED
    at.run()
    assert not at.exception
    runs = tracking.search_runs()
    assert runs["status"].tolist() == ["FAILED"]
    sentence = runs.iloc[0][f"tags.{tracking.TAG_ERROR}"]
    assert "loss became huge" in sentence and sentence.endswith("try smaller learning rates (2e-4 is the DCGAN paper's)")
    assert [e.value for e in at.error] == [divergence_line("GAN", sentence)]  # and no other word about it
    assert "Losses per generator step" in "\n".join(_titles(at))  # the steps before it exploded
    subheaders = [s.value for s in at.subheader]  # it exploded in epoch 1: no timeline, and no generator to ask
    assert "The fixed noise batch, epoch by epoch" not in subheaders and "Ask the conditional GAN for one class" not in subheaders
    assert "kept below" not in texts(at)


def test_toy_tab_trains_a_few_steps_and_shows_frames():
    at = page("generative").run()
    assert not at.exception
    at.radio(key="generative.toy.preset").set_value("collapse").run()
    assert at.select_slider(key="generative.toy.lr_g").value == 1e-2  # the preset fills the settings in
    at.select_slider(key="generative.toy.steps").set_value(200)
    by_label(at.button, "Train the toy GAN").click().run()
    assert not at.exception
    run_until(at, lambda a: "Finished in" in texts(a), timeout=120)
    at.run()
    assert not at.exception
    assert "decision surface" in "\n".join(_titles(at))
    assert by_label(at.metric, "Modes covered (last frame)").value.endswith("of 8")
