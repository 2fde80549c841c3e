"""Ghost runs through AppTest: the optimizer race run twice shows the first race faded under the second,
with the values the first race logged; "None" takes the ghost away; the surface lab's ghost is the
paths drawn before the last change."""

from __future__ import annotations

import time

import numpy as np

from core import tracking
from core.optimizers import OPTIMIZERS
from core.optimizers.surfaces import SURFACES
from core.plots.ghost import GHOST_OPACITY
from core.runs import smooth
from tests.app.helpers import by_label, chart, page, plotly_array, run_until, texts


def _ghosts(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if str(t.get("name", "")).startswith("ghost: ")]


def _race(at):
    by_label(at.button, "Start the race").click()
    at.run()
    return run_until(at, lambda a: "Finished in" in texts(a))


def test_a_second_race_shows_the_first_as_a_faded_ghost(fresh_store):
    at = page("optimizers").run()
    by_label(at.multiselect, "Optimizers in the race").set_value(["Adam"])
    by_label(at.slider, "Epochs").set_value(1)
    at = _race(at)
    assert _ghosts(chart(at, "Training loss per step")) == []  # nothing earlier to compare with
    first = tracking.search_runs()["run_id"].tolist()
    assert len(first) == 1

    by_label(at.number_input, "α Adam").set_value(0.05)
    at = _race(at)
    spec = chart(at, "Training loss per step")
    (ghost,) = _ghosts(spec)
    assert ghost["name"] == "ghost: Adam lr=0.002" and ghost["opacity"] == GHOST_OPACITY
    assert ghost["line"]["dash"] == "dot"
    logged = tracking.metric_history(first[0], "train_loss")  # the first race's own history, smoothed as drawn
    np.testing.assert_allclose(plotly_array(ghost["y"]), smooth(logged["value"].to_numpy(), 0.8), rtol=1e-6)
    live = [t for t in spec["data"] if t.get("name") == "Adam"]
    assert live and "opacity" not in live[0]  # the live line is not faded
    (acc_ghost,) = _ghosts(chart(at, "Dev accuracy after each epoch"))
    np.testing.assert_allclose(plotly_array(acc_ghost["y"]),
                               tracking.metric_history(first[0], "dev_accuracy")["value"])

    by_label(at.selectbox, "Ghost run").set_value("none").run()
    assert not at.exception and _ghosts(chart(at, "Training loss per step")) == []


def _contour(at) -> dict:
    return chart(at, next(iter(SURFACES.values())).name)  # the contour is titled with the surface's name


def test_the_surface_lab_ghost_is_the_paths_before_the_last_change():
    at = page("optimizers").run()
    assert _ghosts(_contour(at)) == []  # nothing changed yet
    by_label(at.multiselect, "Optimizers").set_value(["Adam"]).run()
    assert {t["name"] for t in _ghosts(_contour(at))} == {f"ghost: {o}" for o in OPTIMIZERS}  # all five before
    adam = [t for t in _contour(at)["data"] if t.get("name") == "Adam"][0]
    by_label(at.select_slider, "Learning rate α").set_value(0.01).run()
    (ghost,) = _ghosts(_contour(at))
    assert ghost["name"] == "ghost: Adam" and ghost["opacity"] == GHOST_OPACITY
    np.testing.assert_allclose(plotly_array(ghost["x"]), plotly_array(adam["x"]))  # the path drawn before
    by_label(at.toggle, "Ghost of my previous paths").set_value(False).run()
    assert not at.exception and _ghosts(_contour(at)) == []


def _regularization_run(at, button: str, finished: int):
    """Press ``button`` and rerun until ``finished`` panels of the page say they are done."""
    by_label(at.button, button).click()
    at.run()
    return run_until(at, lambda a: texts(a).count("Finished in") >= finished)


def test_a_regularization_experiment_ghosts_only_its_own_earlier_runs(fresh_store):
    at = page("regularization").run()
    assert not [s for s in at.selectbox if s.label == "Ghost run"]  # no earlier run: no box
    by_label(at.slider, "Epochs").set_value(2)
    by_label(at.slider, "Training examples").set_value(40)
    at.run()
    by_label(at.number_input, "λ (L2 strength)").set_value(2.0)  # in a form: set after the rerun, then submit
    at = _regularization_run(at, "Start the overfitting experiment", 1)
    by_label(at.slider, "Patience (epochs without improvement)").set_value(1)
    at = _regularization_run(at, "Start the early-stopping experiment", 2)  # newer, but another experiment
    runs = tracking.search_runs().set_index("run_name")
    first = {name: runs.loc[name, "run_id"] for name in ("overfitting: no regularization", "overfitting: λ=2")}

    time.sleep(4.5)  # the list of earlier runs is kept 4 s (it was read while those runs were still training)
    at = page("regularization").run()  # a new session: before training, the box offers the earlier runs
    keys = {s.key for s in at.selectbox}
    assert {"regularization.overfit.ghost", "regularization.early.ghost"} <= keys
    assert "regularization.sweep.ghost" not in keys  # no sweep yet: nothing to compare with
    by_label(at.slider, "Epochs").set_value(2)
    by_label(at.slider, "Training examples").set_value(40)
    at.run()
    by_label(at.number_input, "λ (L2 strength)").set_value(5.0)
    at = _regularization_run(at, "Start the overfitting experiment", 1)
    error, loss = (chart(at, f"{m.capitalize()} per epoch") for m in ("error", "loss"))
    assert {g["name"] for g in _ghosts(error)} == {f"ghost: {n} · dev" for n in first}  # not the early-stopping runs
    assert {g["name"] for g in _ghosts(loss)} == {f"ghost: {n} · dev" for n in first}
    for name, run_id in first.items():
        (g,) = [g for g in _ghosts(error) if g["name"] == f"ghost: {name} · dev"]
        accuracy = tracking.metric_history(run_id, "dev_accuracy")  # the chart draws the error, 1 − accuracy
        np.testing.assert_allclose(plotly_array(g["x"]), accuracy["step"])
        np.testing.assert_allclose(plotly_array(g["y"]), 1 - accuracy["value"].to_numpy(), rtol=1e-6)
        (g,) = [g for g in _ghosts(loss) if g["name"] == f"ghost: {name} · dev"]
        np.testing.assert_allclose(plotly_array(g["y"]), tracking.metric_history(run_id, "dev_loss")["value"])


def test_the_toy_gan_ghosts_the_modes_covered_and_d_outputs_of_the_previous_toy_run(fresh_store):
    at = page("generative").run()
    assert "generative.toy.ghost" not in {s.key for s in at.selectbox}  # no earlier run: no box
    at.select_slider(key="generative.toy.steps").set_value(200)
    by_label(at.button, "Train the toy GAN").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a))
    (first,) = tracking.search_runs()["run_id"].tolist()
    assert _ghosts(chart(at, "Modes covered")) == []  # nothing earlier yet

    time.sleep(4.5)  # the list of earlier runs is kept 4 s
    at = page("generative").run()  # a new session: the box is there before training
    assert "generative.toy.ghost" in {s.key for s in at.selectbox}
    at.select_slider(key="generative.toy.steps").set_value(200)
    by_label(at.button, "Train the toy GAN").click().run()
    at = run_until(at, lambda a: "Finished in" in texts(a))
    (ghost,) = _ghosts(chart(at, "Modes covered"))
    logged = tracking.metric_history(first, "modes_covered")
    np.testing.assert_allclose(plotly_array(ghost["x"]), logged["step"])
    np.testing.assert_allclose(plotly_array(ghost["y"]), logged["value"])
    names = {g["name"] for g in _ghosts(chart(at, "What D says"))}
    assert len(names) == 2 and all(n.endswith(("· D(x)", "· D(G(z))")) for n in names)
