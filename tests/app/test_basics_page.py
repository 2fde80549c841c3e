"""The Network basics page through AppTest: the neuron reacts, backprop by hand agrees with autograd,
the loss numbers follow the slider, and a tiny vectorization timing runs to the end and is tracked."""

import math
import re

from core import tracking
from tests.app.helpers import by_label, page, run_until, texts

TABS = ["Neuron", "Playground", "Backpropagation by hand", "Loss functions", "Vectorization"]


def metric(at, label: str) -> str:
    return by_label(at.metric, label).value


def test_page_renders_with_its_tabs():
    at = page("basics").run()
    assert not at.exception
    assert [t.label for t in at.tabs] == TABS
    assert len(at.get("plotly_chart")) >= 5  # activations, depth, network, two loss charts


def test_changing_the_activation_changes_the_output():
    at = page("basics").run()
    assert metric(at, "z = w·x + b") == "-0.5000"
    assert metric(at, "Output a = g(z)") == f"{1 / (1 + math.exp(0.5)):.4f}"  # σ(−0.5)
    by_label(at.selectbox, "Activation g").set_value("ReLU").run()
    assert not at.exception
    assert metric(at, "Output a = g(z)") == "0.0000" and metric(at, "Slope g'(z)") == "0.0000"
    by_label(at.selectbox, "Activation g").set_value("tanh").run()
    assert metric(at, "Output a = g(z)") == f"{math.tanh(-0.5):.4f}"
    by_label(at.slider, "Bias b").set_value(1.0).run()  # z = 0.4
    assert metric(at, "z = w·x + b") == "0.4000"


def _max_diff(at) -> float:
    found = re.search(r"max \|difference\| = ([0-9.e+-]+) \(< 1e-6\)", texts(at))
    assert found, texts(at)
    return float(found.group(1))


def test_backprop_tab_agrees_with_autograd_and_steps_downhill():
    at = page("basics").run()
    assert _max_diff(at) < 1e-6
    assert float(metric(at, "Max |course − autograd|")) < 1e-6
    by_label(at.slider, "Inputs d").set_value(3)
    by_label(at.slider, "Hidden units q").set_value(4).run()
    assert not at.exception and _max_diff(at) < 1e-6
    by_label(at.button, "New random network").click().run()
    assert _max_diff(at) < 1e-6
    by_label(at.slider, "Learning rate η").set_value(0.1).run()
    before, after = float(metric(at, "E before the step")), float(metric(at, "E after one step"))
    assert after < before
    by_label(at.button, "Take this step").click().run()
    assert not at.exception
    assert float(metric(at, "E before the step")) == after  # the updated network is now the current one


def test_loss_numbers_follow_z():
    at = page("basics").run()
    by_label(at.slider, "Pre-activation z").set_value(-6.0).run()
    y_hat = 1 / (1 + math.exp(6))
    assert float(metric(at, "dCE/dz")) == float(f"{y_hat - 1:.4g}")
    assert abs(float(metric(at, "dMSE/dz"))) < 0.01
    by_label(at.radio, "True label y").set_value(0).run()
    assert float(metric(at, "dCE/dz")) == float(f"{y_hat:.4g}")


def test_tiny_vectorization_timing_finishes_and_is_tracked(fresh_store):
    at = page("basics").run()
    by_label(at.multiselect, "Sizes n").set_value([8, 32])
    by_label(at.select_slider, "Largest n for the Python loops").set_value(16)
    by_label(at.slider, "Repeats (the best is kept)").set_value(1)
    by_label(at.button, "Start timing").click().run()
    run_until(at, lambda a: "Finished in" in texts(a), timeout=90)
    said = texts(at)
    assert "same layer output at every size" in said
    assert "Python loops were skipped for n = 32" in said
    assert any(b.label == "Download the timings (CSV)" for b in at.get("download_button"))
    assert any("forward pass" in str(c.proto.spec) for c in at.get("plotly_chart"))
    df = tracking.search_runs()
    assert df["status"].tolist() == ["FINISHED"] and df.iloc[0]["experiment"] == "basics"
