"""The Network basics playground through AppTest: the URL, play, pause, step, reset, NaN."""

import time

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
