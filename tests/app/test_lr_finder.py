"""The learning-rate finder block under AppTest, on the CNN and the transfer-learning pages: find, then use
the suggestion (the page's learning-rate widget takes the tracked suggestion), and a refused sweep range.
References: the tracking store (the run of kind lr-finder and its suggested_lr metric)."""

from __future__ import annotations

import pytest

from core import tracking
from core.settings import Setting
from tests.app.helpers import by_label, chart, page, run_until, texts
from tests.app.test_transfer_page import _plant_weights
from ui.lrfinder import usable_rate

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def _find_then_use(at, lr_label: str, page_name: str):
    by_label(at.number_input, "Sweep steps").set_value(30)
    by_label(at.button, "Find a learning rate").click()
    at.run()
    assert not at.exception, at.exception
    at = run_until(at, lambda a: any(b.label == "Use this rate" for b in a.button), timeout=300)
    runs = tracking.search_runs()
    runs = runs[(runs["experiment"] == page_name) & (runs["tags.dll.kind"] == "lr-finder")]
    assert len(runs) == 1 and runs.iloc[0]["status"] == "FINISHED"
    suggested = runs.iloc[0]["metrics.suggested_lr"]
    spec = chart(at, "Loss against learning rate")
    assert spec["layout"]["xaxis"]["type"] == "log"
    assert any(str(t.get("name", "")).startswith("suggested") for t in spec["data"])
    before = by_label(at.number_input, lr_label).value
    expected = float(f"{suggested:.2g}")
    assert expected != before
    by_label(at.button, "Use this rate").click()
    at.run()
    assert not at.exception, at.exception
    assert by_label(at.number_input, lr_label).value == pytest.approx(expected)
    assert f"The training form's learning rate is now {expected:g}" in texts(at)
    return at


def test_cnn_find_then_use(fresh_store):
    at = page("cnn", timeout=120).run()
    by_label(at.selectbox, "Training data").set_value("digits")
    _find_then_use(at, "Learning rate α ", "cnn")


def test_transfer_find_then_use(offline, fresh_store):
    _plant_weights()
    at = page("transfer", timeout=180).run()
    at.select_slider(key="transfer.size").set_value(64)
    _find_then_use(at, "Learning rate α", "transfer")
    assert offline.count == 0


def test_a_refused_range_gets_a_message(fresh_store):
    at = page("cnn", timeout=120).run()
    by_label(at.number_input, "Smallest rate").set_value(0.5)
    by_label(at.number_input, "Largest rate").set_value(0.1)
    by_label(at.button, "Find a learning rate").click()
    at.run()
    assert not at.exception
    assert "the smallest rate (0.5) must be below the largest (0.1)" in texts(at)
    assert tracking.search_runs().empty


def test_usable_rate_fits_the_widget():
    box = Setting("Learning rate", lo=1e-5, hi=10.0)
    assert usable_rate(0.0031234, box) == 0.0031
    assert usable_rate(0.0031234, box) != 0.003  # two significant digits, not one
    assert usable_rate(3e-7, box) == 1e-5 and usable_rate(40.0, box) == 10.0
    choices = Setting("Learning rate", options=(1e-4, 1e-3, 1e-2, 1e-1))
    assert usable_rate(0.0031, choices) == 1e-3  # log distance: 0.0031 is nearer to 1e-3 …
    assert usable_rate(0.0032, choices) == 1e-2  # … and 0.0032 just past √(1e-3·1e-2) ≈ 0.00316 to 1e-2
    with pytest.raises(ValueError):
        usable_rate(float("nan"), box)
