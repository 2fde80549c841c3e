"""The Network basics playground through AppTest: the URL, play, pause, step, reset, NaN."""

import time

import numpy as np

from core import tracking
from core.jobs import get_runner
from tests.app.helpers import by_label, page, texts

URL = {"data": "spirals", "classes": "3", "layers": "6,4", "act": "ReLU", "feat": "0,1,5,6", "lr": "0.1"}


def _open(query=None):
    at = page("basics")
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _wait_idle(at, timeout=60):
    """Wait for the playground's job (the fragment's polling is not run by AppTest)."""
    job = at.session_state["basics.pg.job"] if "basics.pg.job" in at.session_state else None
    if job:
        get_runner().wait(job, timeout)
    return at.run()


def test_a_shared_link_sets_up_the_playground_and_the_url_follows_the_widgets():
    at = _open(URL)
    assert not at.exception
    assert by_label(at.selectbox, "Data set").value == "spirals"
    assert by_label(at.slider, "Classes").value == 3
    assert by_label(at.slider, "Hidden layers").value == 2
    assert [by_label(at.number_input, f"Layer {i}").value for i in (1, 2)] == [6, 4]
    assert set(by_label(at.pills, "Input features").value) == {"x1", "x2", "sin(x1)", "sin(x2)"}
    assert at.query_params["layers"] == "6,4" and at.query_params["lr"] == "0.1"
    by_label(at.slider, "Hidden layers").set_value(3).run()
    assert at.query_params["layers"] == "6,4,4"
    by_label(at.selectbox, "Data set").set_value("xor").run()
    assert at.query_params["data"] == "xor" and at.query_params["classes"] == "2"


def test_a_broken_link_says_which_setting_was_ignored():
    at = _open({"lr": "fast", "layers": "2,99"})
    assert not at.exception
    assert "lr='fast'" in texts(at) and "layers='2,99'" in texts(at)
    assert by_label(at.slider, "Hidden layers").value == 2  # the default (4, 2)


def test_step_play_pause_reset_and_one_tracked_run(fresh_store):
    at = _open({"data": "xor", "layers": "4"})
    assert _metric(at, "Epoch") == "0"
    by_label(at.button, "Step").click().run()
    at = _wait_idle(at)
    assert _metric(at, "Epoch") == "1"
    by_label(at.button, "Play").click().run()
    time.sleep(1.5)
    at.run()
    assert by_label(at.button, "Pause") is not None
    by_label(at.button, "Pause").click().run()
    at = _wait_idle(at)
    epochs = int(_metric(at, "Epoch").replace(",", ""))
    assert epochs > 1
    df = tracking.search_runs()
    assert len(df) == 1 and df.iloc[0]["status"] == "FINISHED"  # Step and Play share the run
    assert len(tracking.metric_history(df.iloc[0]["run_id"], "test_loss")) == epochs + 1
    by_label(at.button, "Reset").click().run()
    assert _metric(at, "Epoch") == "0"


def test_empty_feature_set_and_divergence_are_clear_messages(fresh_store):
    at = _open({"layers": "8,8", "act": "linear", "feat": "0,1,2,3,4,5,6", "lr": "10"})
    by_label(at.pills, "Input features").set_value([]).run()
    assert "Input features: choose at least 1." in texts(at)
    by_label(at.pills, "Input features").set_value(["x1", "x2", "x1²", "x2²", "x1·x2"]).run()
    by_label(at.button, "Play").click().run()
    at = _wait_idle(at)
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "FAILED" and row["tags.dll.error"].endswith("try a smaller learning rate")
    assert [e.value for e in at.error] == [f"playground diverged: {row['tags.dll.error']}. Its run is tracked as FAILED."]
    by_label(at.button, "Play").click().run()
    assert "Press Reset" in texts(at)


# -- issue 20: your own CSV, regression, links that hide controls, the weight editor, an activation per layer ------

from core.basics.playground import GRID_ARTIFACT  # noqa: E402
from tests.awkward import AWKWARD_TEXTS  # noqa: E402


def _points_csv(n=40) -> bytes:
    rows = "\n".join(f"{(i % 8) - 4},{(i // 8) - 2.5},{7 if (i % 8) < 4 else 9}" for i in range(n))
    return f"x1,x2,label\n{rows}\n".encode()


def test_your_own_csv_trains_a_step_and_bad_files_say_why(fresh_store):
    at = _open({"layers": "3"})
    by_label(at.selectbox, "Data set").set_value("csv").run()
    assert "Choose a CSV file with your points" in " ".join(str(e.value) for e in at.error)
    for name, (data, _) in AWKWARD_TEXTS.items():  # none of these is a CSV with the right columns
        name = name.replace(".txt", ".csv")  # the uploader takes .csv files only
        by_label(at.file_uploader, "Your points (CSV)").set_value((name, data, "text/csv")).run()
        assert not at.exception, name
        assert [str(e.value) for e in at.error if name in str(e.value)], name
    by_label(at.file_uploader, "Your points (CSV)").set_value(("mine.csv", _points_csv(), "text/csv")).run()
    assert not at.exception and not [e for e in at.error if "mine.csv" in str(e.value)]
    assert "40 points, 2 classes (7, 9)" in texts(at)
    assert at.query_params["data"] == "csv"
    by_label(at.button, "Step").click().run()
    at = _wait_idle(at)
    assert _metric(at, "Epoch") == "1"
    row = tracking.search_runs().iloc[0]
    assert row["params.upload"] == "mine.csv" and row["params.upload_rows"] == "40"


def test_a_regression_set_trains_with_mse_and_logs_its_map(fresh_store):
    at = _open({"data": "multi-gaussian", "layers": "4"})
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Training loss (MSE)" in labels and "Test accuracy" not in labels
    by_label(at.button, "Step").click().run()
    at = _wait_idle(at)
    assert _metric(at, "Epoch") == "1"
    run = tracking.search_runs().iloc[0]
    assert run["params.task"] == "regression"
    assert tracking.text_artifact(run["run_id"], GRID_ARTIFACT) is not None


def test_a_link_hides_the_controls_it_names_and_keeps_its_values():
    at = _open({"hide": "noise,lr,act,weights", "lr": "0.3", "noise": "0.2", "layers": "4"})
    assert not at.exception
    assert "Noise" not in [s.label for s in at.slider] and "Learning rate" not in [s.label for s in at.select_slider]
    assert "Activation" not in [s.label for s in at.selectbox] and "Connection" not in [s.label for s in at.selectbox]
    assert "Points" in [s.label for s in at.select_slider]  # the others stay
    assert at.query_params["hide"] == "noise,act,lr,weights" and at.query_params["lr"] == "0.3"
    assert at.query_params["noise"] == "0.2"
    at = _open({"hide": "colour"})
    assert "hide='colour'" in texts(at)


def test_share_box_builds_a_link_with_the_ticked_controls_hidden():
    at = _open({"data": "xor"})
    by_label(at.checkbox, "Noise").check().run()
    by_label(at.checkbox, "Regularization").check().run()
    link = [c.value for c in at.code if "hide=" in c.value]
    assert link and "hide=noise%2Creg" in link[0] and "data=xor" in link[0]
    assert "hide" not in at.query_params  # the learner's own page stays whole


def test_editing_a_weight_changes_the_network():
    at = _open({"layers": "3", "feat": "0,1"})
    by_label(at.selectbox, "Connection").set_value((0, 1, 2)).run()
    by_label(at.number_input, "Weight").set_value(2.5)  # inside a form: sent with its submit button
    by_label(at.button, "Set weight").click().run()
    assert not at.exception
    state = at.session_state["basics.pg.state"]
    assert state.weights["1.weight"][2, 1] == 2.5
    assert by_label(at.number_input, "Weight").value == 2.5
    assert _metric(at, "Epoch") == "0"


def test_each_layer_has_its_own_activation_in_the_url():
    at = _open({"layers": "4,2", "act": "sigmoid"})  # an old link: one activation for every layer
    assert [by_label(at.selectbox, f"Layer {i} activation").value for i in (1, 2)] == ["sigmoid", "sigmoid"]
    by_label(at.selectbox, "Layer 2 activation").set_value("ReLU").run()
    assert at.query_params["act"] == "sigmoid,ReLU"
    by_label(at.selectbox, "Activation").set_value("tanh").run()  # the toolbar sets every layer again
    assert at.query_params["act"] == "tanh"


def _ghost_paths(spec: dict) -> list[dict]:
    return [t for t in spec["data"] if str(t.get("name", "")).startswith("ghost")]


def test_an_earlier_run_is_a_ghost_boundary_on_the_map(fresh_store):
    import json

    from tests.app.helpers import chart

    at = _open({"data": "xor", "layers": "4"})
    spec = chart(at, "Decision map")
    assert not _ghost_paths(spec)  # no earlier run yet
    by_label(at.button, "Step").click().run()
    at = _wait_idle(at)
    time.sleep(4.5)  # the ghost box's list of runs is cached for 4 s
    by_label(at.button, "Reset").click().run()  # a new network; the run just trained can be its ghost
    run = tracking.search_runs().iloc[0]["run_id"]
    by_label(at.selectbox, "Ghost run").set_value(run).run()
    spec = chart(at, "Decision map")
    ghosts = _ghost_paths(spec)
    assert len(ghosts) == 1 and ghosts[0]["line"]["dash"] == "dot"
    logged = json.loads(tracking.text_artifact(run, "decision_grid.json"))
    from scipy.interpolate import RegularGridInterpolator  # the reference: the logged map, bilinear

    on_map = RegularGridInterpolator((logged["y"], logged["x"]), np.asarray(logged["z"]))
    xy = [(x, y) for x, y in zip(ghosts[0]["x"], ghosts[0]["y"], strict=True) if x is not None]
    assert len(xy) > 5
    np.testing.assert_allclose(on_map([(y, x) for x, y in xy]), 0.5, atol=1e-6)  # every point on the boundary
    by_label(at.selectbox, "Data set").set_value("plane").run()  # a regression: a classification's map is no ghost
    assert not _ghost_paths(chart(at, "Decision map"))
    assert "That run was a classification" in texts(at)
    by_label(at.selectbox, "Data set").set_value("xor").run()
    by_label(at.selectbox, "Ghost run").set_value("none").run()
    assert not _ghost_paths(chart(at, "Decision map"))
