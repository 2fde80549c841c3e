"""The Transformer on the Sequence models page under AppTest: a tiny training (in the worker
process) shows the exact match, parameter count and seconds per epoch its tracked run logged and
the exact-match-by-length chart; a typed date gets the per-layer, per-head cross-attention; beam
search of width 1 with it is greedy search."""

from __future__ import annotations

import numpy as np

from core import tracking
from tests.app.helpers import by_label, chart, page, plotly_array, run_until, texts

KEY = "seq2seq.dates"


def test_tiny_transformer_training_then_heads_and_beam(fresh_store):
    at = page("seq2seq").run()
    at.select_slider(key=f"{KEY}.n_train").set_value(500)
    at.multiselect(key=f"{KEY}.languages").set_value(["en"])
    at.segmented_control(key=f"{KEY}.variants").set_value(["transformer"])
    at.slider(key=f"{KEY}.transformer_epochs").set_value(1)
    at.slider(key=f"{KEY}.layers").set_value(2)
    at.select_slider(key=f"{KEY}.heads").set_value(2)
    at.select_slider(key=f"{KEY}.d_model").set_value(16)
    by_label(at.button, "Train").click()
    at = run_until(at.run(), lambda a: "Finished in" in texts(a), timeout=180).run()
    assert not at.exception
    run = tracking.search_runs().iloc[0]
    assert run["status"] == "FINISHED" and run["params.variant"] == "transformer"
    assert by_label(at.metric, "Exact match (transformer)").value == f"{run['metrics.dev_exact_match']:.1%}"
    table = next(d.value for d in at.dataframe if "parameters" in d.value.columns)
    row = table.iloc[0]
    assert row["model"] == "transformer" and row["epochs"] == 1
    assert row["parameters"] == run["metrics.parameters"]
    assert row["s / epoch"] == round(run["metrics.seconds_per_epoch"], 2)
    by_length = chart(at, "Exact match by source length")
    assert by_length["data"][0]["name"] == "transformer"

    at.text_input(key=f"{KEY}.text").set_value("3 May 1999").run()
    assert not at.exception
    grid = chart(at, "Cross-attention of every layer (rows) and head (columns)")
    assert len(grid["data"]) == 2 * 2  # layers × heads
    for trace in grid["data"]:
        z = plotly_array(trace["z"])
        assert z.shape[1] == len("3 may 1999") and np.allclose(z.sum(1), 1, atol=1e-4)
    mean = chart(at, "Attention: where each output character looked")
    last_layer = np.mean([plotly_array(t["z"]) for t in grid["data"][2:]], axis=0)
    assert np.allclose(plotly_array(mean["data"][0]["z"]), last_layer, atol=1e-4)

    at.slider(key="seq2seq.beam.width").set_value(1)
    at.text_input(key="seq2seq.beam.text.dates").set_value("3 may 1999").run()
    assert not at.exception
    assert by_label(at.metric, "Beam search (B = 1)").value == by_label(at.metric, "Greedy search").value
    assert "With the Transformer, the same beam search" in texts(at)
