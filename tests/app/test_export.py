"""Export as code under AppTest: the download buttons appear under a training form once something was
trained and offer the set-up that was trained (the CNN training, the optimizer race, the playground)."""

from core import tracking
from core.cnn.training import TrainConfig
from tests.app.helpers import by_label, page, run_until, texts

NOTEBOOK, SCRIPT = "Download as a notebook (.ipynb)", "Download as Python (.py)"


def _labels(at) -> set[str]:
    return {b.label for b in at.get("download_button")}


def _files(at, key: str) -> tuple[str, str]:
    """The notebook and the script the page built for ``key`` (what the two buttons hand out)."""
    _, (_, notebook, script) = at.session_state[f"{key}.export_built"]
    return notebook, script


def test_the_cnn_export_follows_the_trained_set_up(fresh_store):
    at = page("cnn").run()
    assert not at.exception
    assert NOTEBOOK not in _labels(at)  # nothing trained yet: nothing to export
    by_label(at.selectbox, "Training data").set_value("digits")
    by_label(at.number_input, "Training images (0 = all)").set_value(300)
    by_label(at.slider, "Epochs ").set_value(1)
    by_label(at.button, "Train").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a))
    assert {NOTEBOOK, SCRIPT} <= _labels(at)
    cfg = at.session_state["cnn.train.export_cfg"]
    params = tracking.search_runs().iloc[0]
    assert isinstance(cfg, TrainConfig) and cfg.max_train == 300 and cfg.epochs == 1
    assert params["params.max_train"] == "300" and params["params.dataset"] == cfg.dataset == "digits"
    notebook, script = _files(at, "cnn.train")
    assert "MAX_TRAIN, SIZE = 300, 28" in notebook and "MAX_TRAIN, SIZE = 300, 28" in script
    # a new choice in the form that was not trained does not change what is offered
    by_label(at.number_input, "Training images (0 = all)").set_value(500).run()
    assert at.session_state["cnn.train.export_cfg"].max_train == 300


def test_the_race_export_offers_the_race_that_ran(fresh_store):
    at = page("optimizers").run()
    assert NOTEBOOK not in _labels(at)
    by_label(at.multiselect, "Optimizers in the race").set_value(["Adam"])
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.button, "Start the race").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a))
    assert {NOTEBOOK, SCRIPT} <= _labels(at)
    _, script = _files(at, "optimizers.race")
    assert "RACE = [('Adam', 0.002)]" in script and "epochs=1," in script
    assert at.session_state["optimizers.race.export_cfg"].optimizers == ("Adam",)


def test_the_playground_export_trains_as_many_epochs_as_the_network_has(fresh_store):
    at = page("basics").run()
    assert not at.exception
    assert {NOTEBOOK, SCRIPT} <= _labels(at)  # a fresh network: the export offers 100 epochs of it
    assert "EPOCHS = 100" in _files(at, "basics.pg")[1]
    by_label(at.button, "Step").click().run()
    at = at.run()
    assert not at.exception
    assert "EPOCHS = 1\n" in _files(at, "basics.pg")[1]


def test_the_overfitting_experiment_exports_its_set_up_after_a_training(fresh_store):
    at = page("regularization").run()
    by_label(at.selectbox, "Dataset").set_value("digits")
    by_label(at.slider, "Epochs").set_value(1)
    by_label(at.slider, "Training examples").set_value(40)
    at = at.run()
    assert NOTEBOOK not in _labels(at)
    by_label(at.number_input, "λ (L2 strength)").set_value(2.0)
    by_label(at.button, "Start the overfitting experiment").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a))
    assert [b.label for b in at.get("download_button")].count(NOTEBOOK) == 1
    _, script = _files(at, "regularization.overfit")
    line = next(t for t in script.splitlines() if t.startswith("TRAININGS"))
    # (name, λ, keep_prob, batch norm, α, training set)
    assert line == ("TRAININGS = [('no regularization', 0.0, 1.0, False, 0.001, 'original'), "
                    "('λ=2', 2.0, 1.0, False, 0.001, 'original')]"), line
