"""Export as code under AppTest for the character model and the tagging task (RNN page), a Regularization
experiment other than the overfitting one, the VAE and the toy GAN: once trained, the page offers the notebook and the .py
of the set-up that ran."""

from tests.app.helpers import by_label, page, run_until, texts
from tests.app.test_export import NOTEBOOK, SCRIPT, _files, _labels
from tests.app.test_generative_vae import _train as _train_vae
from tests.app.test_rnn_page import _tiny_lm


def test_the_char_model_export_offers_the_text_it_learned(fresh_store):
    at = page("rnn").run()
    assert NOTEBOOK not in _labels(at)
    at = run_until(_tiny_lm(at, epochs=1), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    assert {NOTEBOOK, SCRIPT} <= _labels(at)
    notebook, script = _files(at, "rnn.lm")
    assert "CharLM(len(CHARS), 'LSTM', 4, 16, 1)" in script and "epochs=1," in script
    assert "TEXT = '" in script and '"TEXT = ' in notebook


def test_the_sweep_exports_each_of_its_trainings(fresh_store):
    at = page("regularization").run()
    by_label(at.selectbox, "Dataset").set_value("digits")
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.slider, "Training examples").set_value(40)
    by_label(at.text_input, "λ values (comma-separated)").set_value("0, 5")
    by_label(at.text_input, "keep_prob values (comma-separated)").set_value("")
    by_label(at.button, "Start the sweep").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a))
    assert not at.exception
    _, script = _files(at, "regularization.sweep")
    line = next(t for t in script.splitlines() if t.startswith("TRAININGS"))
    assert line == "TRAININGS = [('λ=0', 0.0, 1.0, False, 0.001, 'original'), ('λ=5', 5.0, 1.0, False, 0.001, 'original')]"


def test_the_tagging_export_offers_the_taggers_that_ran(fresh_store):
    at = page("rnn").run()
    by_label(at.select_slider, "Hidden size (each direction)").set_value(4)
    by_label(at.slider, "String length").set_value(5)
    by_label(at.select_slider, "Training strings").set_value(200)
    [s for s in at.slider if s.label == "Epochs"][-1].set_value(1)  # the tagger's
    by_label(at.button, "Train both taggers").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    _, script = _files(at, "rnn.tagger")
    assert "train = make_tagging_data(200, 5, 10, 0)" in script
    assert "BidirectionalTagger(10, 2, 4, 'GRU'" in script


def test_the_vae_export_offers_the_vae_that_ran(fresh_store):
    at = page("generative").run()
    assert NOTEBOOK not in _labels(at)
    at = run_until(_train_vae(at), lambda a: "Finished in" in texts(a)).run()
    assert not at.exception
    _, script = _files(at, "generative.vae")
    assert "VAE('MLP', image_size=xt.shape[-1], channels=xt.shape[1], latent_dim=2" in script
    assert "lr=0.003)" in script and "epochs=2," in script


def test_the_toy_gan_export_offers_the_game_that_ran(fresh_store):
    at = page("generative").run()
    at.select_slider(key="generative.toy.steps").set_value(200)
    by_label(at.button, "Train the toy GAN").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a), timeout=120).run()
    assert not at.exception
    _, script = _files(at, "generative.toy")
    assert "X, _ = toy_data('ring', 2048, 0)" in script and "if g_steps >= 200:" in script
