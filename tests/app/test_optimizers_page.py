"""The Optimizers page through AppTest: the loss-surface lab and a tiny tracked race."""

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts


def _race(at, dataset="digits", epochs=1, **lrs):
    by_label(at.selectbox, "Dataset").set_value(dataset)
    by_label(at.slider, "Epochs").set_value(epochs)
    for name, value in lrs.items():
        by_label(at.number_input, f"α {name}").set_value(value)
    by_label(at.button, "Start the race").click()
    return at.run()


def test_surface_lab_renders_and_reacts():
    at = page("optimizers").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 2  # contour + loss curves
    assert len(at.dataframe) >= 1
    by_label(at.selectbox, "Surface").set_value("Rosenbrock").run()
    assert not at.exception
    by_label(at.selectbox, "Surface").set_value("Ravine").run()
    by_label(at.select_slider, "Learning rate α").set_value(1.0).run()
    assert "diverged" in texts(at)
    by_label(at.multiselect, "Optimizers").set_value([]).run()
    assert "Choose at least one optimizer" in texts(at)


def test_tiny_race_is_tracked(fresh_store):
    at = _race(page("optimizers").run())
    run_until(at, lambda a: "Finished in" in texts(a))
    assert any("Final dev accuracy" in str(c.proto.spec) for c in at.get("plotly_chart"))
    df = tracking.search_runs()
    assert sorted(df["params.optimizer"]) == ["Adam", "Gradient descent", "Momentum", "RMSprop"]
    assert set(df["status"]) == {"FINISHED"} and df["tags.dll.comparison"].nunique() == 1


def test_huge_learning_rate_gives_nan_message_and_failed_run(fresh_store):
    at = page("optimizers").run()
    by_label(at.multiselect, "Optimizers in the race").set_value(["Gradient descent"])
    by_label(at.slider, "Hidden layers").set_value(2)  # with one ReLU layer a huge α kills units instead
    at = _race(at, epochs=3, **{"Gradient descent": 1e3})
    run_until(at, lambda a: "Finished in" in texts(a))
    df = tracking.search_runs()
    assert df["status"].tolist() == ["FAILED"]
    sentence = df.iloc[0]["tags.dll.error"]
    assert sentence.startswith("the loss became") and sentence.endswith("try a smaller learning rate")
    assert [e.value for e in at.error] == [f"Gradient descent diverged: {sentence}. Its run is tracked as FAILED."]


def test_unavailable_download_is_a_clear_message(fresh_store, preloaded_runner):
    preloaded_runner("tests.fake_offline")  # the race's worker has no network
    at = _race(page("optimizers").run(), dataset="cifar10")
    run_until(at, lambda a: "The training stopped" in texts(a))
    assert "Offline alternatives" in texts(at) and "digits" in texts(at)


def test_stop_ends_the_race_killed_with_metrics_so_far(fresh_store):
    at = page("optimizers").run()
    by_label(at.radio, "Batch regime").set_value("stochastic")
    by_label(at.multiselect, "Optimizers in the race").set_value(["Momentum", "Adam"])
    at = _race(at, dataset="mnist_sample", epochs=10)
    run_until(at, lambda a: any(b.label == "Stop" for b in a.button)  # running, with live curves drawn
              and any("Training loss per step" in str(c.proto.spec) for c in a.get("plotly_chart")), every=1.0)
    by_label(at.button, "Stop").click().run()
    run_until(at, lambda a: "Stopped." in texts(a))
    assert not at.exception
    df = tracking.search_runs()
    assert df["status"].tolist() == ["KILLED"]  # Momentum stopped, Adam never started
    assert len(tracking.metric_history(df.iloc[0]["run_id"], "train_loss")) > 0


def test_tracking_server_down_warns_and_keeps_the_runs(fresh_store, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    at = page("optimizers").run()
    by_label(at.multiselect, "Optimizers in the race").set_value(["Adam"])
    at = _race(at)
    run_until(at, lambda a: "Finished in" in texts(a))
    said = texts(at)
    assert "did not answer" in said and "saved to the local store" in said
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    df = tracking.search_runs()  # the local store got the whole run
    assert df["status"].tolist() == ["FINISHED"]
    assert df.iloc[0]["tags.dll.fallback_from"] == f"http://127.0.0.1:{port}"


def test_a_race_waits_visibly_while_the_slot_is_taken(fresh_store, tmp_path):
    from core.device import pick_device
    from core.jobs import get_runner
    from tests import jobfns

    gate = tmp_path / "gate"  # another learner's training holds this device's only slot
    blocker = get_runner().submit("elsewhere", jobfns.wait_for_file, str(gate), slot=pick_device().type)
    try:
        at = _race(page("optimizers").run())
        run_until(at, lambda a: "Waiting for a free training slot" in texts(a), timeout=30)
        assert "next in line" in texts(at)
    finally:
        gate.write_text("open")
    get_runner().wait(blocker, 30)
    run_until(at, lambda a: "Finished in" in texts(a))
