"""The ML strategy page through AppTest: presets, messages for bad inputs, and real tracked jobs
(learning curves, the metric classifier and candidates, error analysis with tags)."""

import io

import pandas as pd
import pytest

from core import tracking
from core.strategy import COURSE_CASES, diagnose, precision_recall_f1
from core.strategy import errors as EA
from tests.app.helpers import by_label, page, run_until, texts


def finished(n: int = 1):
    return lambda a: texts(a).count("Finished in") >= n


def test_page_renders_every_section():
    at = page("strategy").run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Data splits", "Bias and variance", "Learning curves", "Metrics",
                                          "Error analysis", "Orthogonalization"]
    assert [m.value for m in at.metric][:3] == ["6,000", "2,000", "2,000"]  # 10,000 examples: 60/20/20
    charts = " ".join(str(c.proto.spec) for c in at.get("plotly_chart"))
    for title in ("How the split changes", "shifted dev data", "Where the error comes from", "One knob per goal"):
        assert title in charts
    assert "early stopping" in charts
    by_label(at.number_input, "Examples in the dataset").set_value(5_000_000).run()
    assert [m.value for m in at.metric][:3] == ["4,900,000", "50,000", "50,000"]  # 98/1/1


@pytest.mark.parametrize("case", list(COURSE_CASES))
def test_a_preset_fills_the_diagnosis(case):
    train, dev, verdict = COURSE_CASES[case]
    at = page("strategy").run()
    label = next(b.label for b in at.button if b.label.startswith(f"{case} ("))
    by_label(at.button, label).click().run()
    assert not at.exception
    assert by_label(at.number_input, "Training error (%)").value == pytest.approx(train * 100)
    assert by_label(at.number_input, "Dev error (%)").value == pytest.approx(dev * 100)
    assert by_label(at.number_input, "Human-level error (%)").value == 0
    assert f"Diagnosis: **{verdict}**." in texts(at)
    d = diagnose(train, dev, 0.0)
    values = {m.label: m.value for m in at.metric}
    assert values["Avoidable bias"] == f"{d['avoidable_bias'] * 100:.2f} pp"
    assert values["Variance"] == f"{d['variance'] * 100:.2f} pp"
    for advice in d["advice"]:
        assert advice in texts(at)


def test_bad_inputs_show_a_clear_message():
    at = page("strategy").run()
    by_label(at.number_input, "Training error (%)").set_value(150).run()
    assert not at.exception
    assert "The training error must be a percentage between 0 and 100." in [e.value for e in at.error]
    by_label(at.number_input, "Training error (%)").set_value(5).run()
    by_label(at.number_input, "Human-level error (%)").set_value(-1).run()
    assert "The human-level error must be a percentage between 0 and 100." in [e.value for e in at.error]
    by_label(at.number_input, "Examples in the dataset").set_value(2).run()
    assert any("dataset size must be between 3" in e.value for e in at.error)
    by_label(at.text_input, "Training-set sizes").set_value("50, lots").run()
    by_label(at.button, "Train the learning curves").click().run()
    assert any(e.value.startswith("training-set sizes must be whole numbers") for e in at.error)
    assert not at.exception


def test_learning_curves_job_finishes_is_tracked_and_loads_into_the_diagnosis(fresh_store):
    at = page("strategy").run()
    by_label(at.text_input, "Training-set sizes").set_value("20, 80")
    by_label(at.select_slider, "Steps per size").set_value(50)
    by_label(at.button, "Train the learning curves").click().run()
    run_until(at, finished())
    assert not at.exception
    assert any("Learning curves (dev set" in str(c.proto.spec) for c in at.get("plotly_chart"))
    runs = tracking.search_runs()
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"} and set(runs["experiment"]) == {"strategy"}
    assert runs["tags.dll.comparison"].nunique() == 1 and sorted(runs["params.train_size"]) == ["20", "80"]
    table = next(d.value for d in at.dataframe if "size" in d.value.columns)
    assert sorted(table["size"]) == [20, 80] and (table["dev_error"] >= table["train_error"]).all()

    # the runs are offered in the diagnosis; loading one fills 1 − accuracy
    at.run()
    row = runs[runs["params.train_size"] == "20"].iloc[0]
    by_label(at.selectbox, "Tracked run").set_value(row["run_id"])
    by_label(at.button, "Load the run's errors").click().run()
    assert by_label(at.number_input, "Training error (%)").value == pytest.approx(
        100 * (1 - row["metrics.final_train_accuracy"]), abs=1e-3)
    assert by_label(at.number_input, "Dev error (%)").value == pytest.approx(
        100 * (1 - row["metrics.final_dev_accuracy"]), abs=1e-3)
    assert "Loaded: strategy · learning curve m=20" in texts(at)


def test_metric_classifier_threshold_and_satisficing(fresh_store):
    at = page("strategy").run()
    assert "No tracked run has both a dev accuracy and an inference time yet" in texts(at)
    by_label(at.button, "Train the classifier").click().run()
    run_until(at, finished())
    result = at.session_state["strategy.metric.result"]
    by_label(at.slider, "Decision threshold").set_value(0.3).run()
    ref = precision_recall_f1(result.y_true, result.scores, 0.3)
    values = {m.label: m.value for m in at.metric}
    assert values["Precision"] == f"{ref['precision']:.3f}" and values["F1"] == f"{ref['f1']:.3f}"
    by_label(at.button, "Use the threshold with the best F1").click().run()
    best = by_label(at.slider, "Decision threshold").value
    assert float(by_label(at.metric, "F1").value) >= ref["f1"] - 1e-9 and best != 0.3

    by_label(at.multiselect, "Candidate networks").set_value(["16", "256×256"])
    by_label(at.button, "Train candidate networks").click().run()
    run_until(at, finished(2))
    at.run()  # the browser reruns once when a job ends; the runs table is read at the top of the script
    assert not at.exception
    assert "Chosen: **" in texts(at)
    table = next(d.value for d in at.dataframe if "chosen" in d.value.columns)
    assert sorted(table["run_name"]) == ["candidate 16", "candidate 256×256"]  # the newest candidates by default
    assert table["chosen"].sum() == 1
    by_label(at.selectbox, "Choose among").set_value("all tracked runs").run()
    table = next(d.value for d in at.dataframe if "chosen" in d.value.columns)
    assert len(table) == 3 and table["chosen"].sum() == 1  # the "is it a 3?" classifier too
    by_label(at.number_input, "Inference-time limit (µs per example)").set_value(0.0).run()
    assert "No run is that fast" in texts(at)
    by_label(at.number_input, "Inference-time limit (µs per example)").set_value(1e6).run()
    best = table.sort_values("dev_accuracy").iloc[-1]
    assert f"Chosen: **{best['run_name']}**" in texts(at)


def test_error_analysis_tags_tally_csv_and_run_annotation(fresh_store):
    at = page("strategy").run()
    by_label(at.slider, "Epochs (error analysis)").set_value(2)
    by_label(at.button, "Train a classifier to analyse").click().run()
    run_until(at, finished())
    result = at.session_state["strategy.errors.result"]
    assert result.n_errors >= 3 and len(at.data_editor) == 1
    assert "Tick at least one category" in texts(at)

    editor = at.data_editor[0]
    at.session_state[editor.key] = {"edited_rows": {0: {"blurry/ambiguous": True}, 1: {"blurry/ambiguous": True,
                                                                                       "mislabelled": True}},
                                    "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception
    shown = len(result.examples)
    e = result.dev_error
    said = texts(at)
    assert f"Fixing all 2 errors tagged 'blurry/ambiguous' would cut dev error from {e:.1%} to {e * (1 - 2 / shown):.1%}" in said
    assert f"Fixing all 1 error tagged 'mislabelled' would cut dev error from {e:.1%} to {e * (1 - 1 / shown):.1%}" in said
    assert any("Share of the examined errors" in str(c.proto.spec) for c in at.get("plotly_chart"))

    # a category of one's own; the ticks so far survive the new column
    by_label(at.text_input, "New category").set_value("thick stroke")
    by_label(at.button, "Add category").click().run()
    table = at.data_editor[0].value
    assert "thick stroke" in table.columns and table["blurry/ambiguous"].tolist()[:3] == [True, True, False]
    by_label(at.button, "Add category").click().run()  # the text box was cleared: a plain message
    assert any("type a name" in m.value.lower() for m in at.error)

    # saved with the run, and the same CSV is offered for download
    by_label(at.button, "Save the tags with the run").click().run()
    assert "Saved: the tags are kept with the run" in texts(at)
    csv = tracking.text_artifact(result.run_id, "error_analysis.csv")
    saved = pd.read_csv(io.StringIO(csv))
    assert list(saved.columns) == [*EA.FIXED_COLUMNS, *EA.BUILTIN_CATEGORIES, "thick stroke"]
    assert saved["blurry/ambiguous"].sum() == 2 and saved["mislabelled"].sum() == 1 and len(saved) == shown
    run = tracking.search_runs().set_index("run_id").loc[result.run_id]
    assert run[f"tags.{EA.TAG_SUMMARY}"] == f"blurry/ambiguous: 2 of {shown}; mislabelled: 1 of {shown}"
    assert any(d.label == "Download the tags (CSV)" for d in at.get("download_button"))
