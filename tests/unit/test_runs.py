"""core.runs and core.plots.runs against hand-worked values, plus a real tracking round trip."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from core import runs as R
from core import tracking
from core.plots import runs as plots

T0 = pd.Timestamp("2026-01-01 12:00:00", tz="UTC")


def make_runs() -> pd.DataFrame:
    """Four runs shaped like tracking.search_runs' output (newest first)."""
    return pd.DataFrame(
        {
            "run_id": ["aaaaaa11", "bbbbbb22", "cccccc33", "dddddd44"],
            "experiment": ["optimizers", "optimizers", "optimizers", "cnn"],
            "run_name": ["adam", "sgd", "momentum", "lenet"],
            "status": ["FINISHED", "FINISHED", "FAILED", "FINISHED"],
            "start_time": [T0 + pd.Timedelta(minutes=m) for m in (30, 20, 10, 0)],
            "end_time": [T0 + pd.Timedelta(minutes=m, seconds=s) for m, s in ((30, 12), (20, 185), (10, 7380), (0, 4))],
            "duration_s": [12.0, 185.0, 7380.0, 4.0],
            "params.lr": ["0.01", "0.1", "0.10", "0.001"],
            "params.optimizer": ["adam", "sgd", "momentum", None],
            "params.epochs": ["10", "10", "10", "10"],
            "params.kernel": [None, None, None, "5"],
            "metrics.dev_loss": [0.30, 0.25, np.nan, 0.9],
            "metrics.dev_accuracy": [0.91, 0.88, np.nan, 0.97],
            "tags.dll.page": ["optimizers", "optimizers", "optimizers", "cnn"],
            "tags.dll.comparison": ["race-1", "race-1", "race-1", None],
        }
    )


# ------------------------------------------------------------------- directions


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("dev_loss", "min"),
        ("train/loss", "min"),
        ("valLoss", "min"),
        ("error_rate", "min"),
        ("epoch_time", "min"),
        ("seconds", "min"),
        ("perplexity", "min"),
        ("edit_distance", "min"),
        ("fid", "min"),
        ("fid_score", "min"),  # lower-is-better words win
        ("dev_accuracy", "max"),
        ("top1_acc", "max"),
        ("bleu", "max"),
        ("mAP", "max"),
        ("roc_auc", "max"),
        ("f1", "max"),
        ("precision", "max"),
        ("recall", "max"),
        ("score", "max"),
        ("lr", "min"),  # unknown: default
        ("heatmap_mean", "min"),  # "map" only as a whole word
    ],
)
def test_metric_direction(name: str, direction: str) -> None:
    assert R.metric_direction(name) == direction


# ---------------------------------------------------------------------- filters


def test_filter_by_experiment_status_param_and_text() -> None:
    df = make_runs()
    assert list(R.filter_runs(df)["run_id"]) == list(df["run_id"])
    assert list(R.filter_runs(df, experiments=["cnn"])["run_name"]) == ["lenet"]
    assert list(R.filter_runs(df, statuses=["FAILED"])["run_name"]) == ["momentum"]
    assert list(R.filter_runs(df, experiments=["optimizers"], statuses=["FINISHED"])["run_name"]) == ["adam", "sgd"]
    # "0.1" matches "0.1" and, as a number, "0.10"
    assert list(R.filter_runs(df, param="lr", value="0.1")["run_name"]) == ["sgd", "momentum"]
    assert list(R.filter_runs(df, param="params.lr", value="0.001")["run_name"]) == ["lenet"]
    # a param without a value: runs that have it
    assert list(R.filter_runs(df, param="kernel")["run_name"]) == ["lenet"]
    assert R.filter_runs(df, param="nope", value="1").empty
    assert list(R.filter_runs(df, text="  SGD ")["run_name"]) == ["sgd"]
    assert list(R.filter_runs(df, text="optimizer=mom")["run_name"]) == ["momentum"]
    assert list(R.filter_runs(df, text="dddd")["run_name"]) == ["lenet"]
    assert list(R.filter_runs(df, text="race-1")["run_name"]) == ["adam", "sgd", "momentum"]
    assert list(R.filter_runs(df, experiments=[], statuses=[], text="")["run_id"]) == list(df["run_id"])
    assert list(R.filter_runs(df, statuses=["FAILED"]).index) == [0]  # index reset


def test_paginate_bounds() -> None:
    df = pd.DataFrame({"x": range(120)})
    part, n = R.paginate(df, 1, 50)
    assert n == 3 and list(part["x"]) == list(range(50))
    part, n = R.paginate(df, 3, 50)
    assert list(part["x"]) == list(range(100, 120))
    part, _ = R.paginate(df, 99, 50)  # clamped to the last page
    assert list(part["x"]) == list(range(100, 120))
    part, _ = R.paginate(df, -4, 50)  # clamped to the first page
    assert list(part["x"]) == list(range(50))
    assert R.paginate(pd.DataFrame({"x": range(100)}), 2, 50)[1] == 2
    part, n = R.paginate(df.iloc[:0], 1, 50)
    assert n == 1 and part.empty
    with pytest.raises(ValueError, match="page_size"):
        R.paginate(df, 1, 0)
    assert R.clamp_page(0, 3) == 1 and R.clamp_page(7, 3) == 3 and R.clamp_page(2, 0) == 1


# ------------------------------------------------------------------ table parts


def test_key_params_varying_first_and_key_metrics() -> None:
    df = make_runs()
    # lr, optimizer and kernel vary (a missing value varies); by coverage: lr 4, optimizer 3, kernel 1
    assert R.key_params(df, 5) == ["lr", "optimizer", "kernel", "epochs"]
    assert R.key_params(df, 2) == ["lr", "optimizer"]
    assert R.key_params(df, 0) == []
    assert R.key_params(df.iloc[:2], 5) == ["lr", "optimizer", "epochs"]  # kernel absent there
    assert R.key_metrics(df, 6) == ["dev_accuracy", "dev_loss"]
    assert R.param_columns(df.iloc[:3]) == ["lr", "optimizer", "epochs"]
    assert R.metric_columns(df.iloc[2:3]) == []


def test_format_duration() -> None:
    assert R.format_duration(4.25) == "4.2 s"
    assert R.format_duration(185) == "3 min 05 s"
    assert R.format_duration(7380) == "2 h 03 min"
    assert R.format_duration(float("nan")) == "—"
    assert R.format_duration(None) == "—"


def test_run_labels_unique() -> None:
    df = pd.DataFrame({"run_id": ["abcdef99", "123456aa", "zzzzzz00"], "run_name": ["adam", "adam", None]})
    assert list(R.run_labels(df)) == ["adam (abcdef)", "adam (123456)", "zzzzzz"]


def test_display_table() -> None:
    df = make_runs()
    table = R.display_table(df, ["lr", "dev_loss"], ["dev_loss"])
    assert list(table.columns) == [
        "Run",
        "Page",
        "Status",
        "Started",
        "Duration",
        "lr",
        "dev_loss (param)",
        "dev_loss (metric)",
    ]
    assert list(table.index) == list(df["run_id"])
    assert list(table["Duration"]) == ["12.0 s", "3 min 05 s", "2 h 03 min", "4.0 s"]
    assert list(table["Page"]) == ["optimizers", "optimizers", "optimizers", "cnn"]
    assert table["dev_loss (metric)"].iloc[1] == 0.25
    plain = R.display_table(df, ["lr"], ["dev_accuracy"])
    assert list(plain.columns)[-2:] == ["lr", "dev_accuracy"]


# -------------------------------------------------------------------- comparing


def test_params_diff_flags_exactly_the_differing_params() -> None:
    df = make_runs().iloc[:3]  # adam, sgd, momentum
    table, differing = R.params_diff(df)
    # lr "0.01" / "0.1" / "0.10" differ as text; optimizer differs; epochs is the same
    assert differing == ["lr", "optimizer"]
    assert list(table.index) == ["lr", "optimizer", "epochs"]
    assert list(table.columns) == ["adam", "sgd", "momentum", "differs"]
    assert list(table["differs"]) == [True, True, False]
    assert table.loc["optimizer", "sgd"] == "sgd"
    # a param missing in one run differs
    table, differing = R.params_diff(make_runs().iloc[2:4])
    assert differing == ["kernel", "lr", "optimizer"]
    assert table.loc["kernel", "momentum"] == "—"
    assert not table.loc["epochs", "differs"]
    # one run: nothing differs
    assert R.params_diff(df.iloc[:1])[1] == []
    html = R.highlight_differences(R.params_diff(df)[0]).to_html()
    css = html.split("</style>")[0]
    assert "background-color: #fff3b0" in css
    assert all(f"row{r}_col{c}" in css for r in (0, 1) for c in range(4))  # lr and optimizer rows
    assert "row2_" not in css  # epochs: not highlighted


def test_best_runs_knows_the_direction() -> None:
    best = R.best_runs(make_runs()).set_index("metric")
    assert best.loc["dev_loss", "direction"] == "min" and best.loc["dev_loss", "run_name"] == "sgd"
    assert best.loc["dev_loss", "value"] == pytest.approx(0.25)
    assert best.loc["dev_accuracy", "direction"] == "max" and best.loc["dev_accuracy", "run_name"] == "lenet"
    assert best.loc["dev_accuracy", "better"] == "higher" and best.loc["dev_accuracy", "run_id"] == "dddddd44"
    assert best.loc["dev_accuracy", "runs"] == 3
    assert R.best_runs(make_runs().iloc[2:3]).empty  # no metrics at all
    assert list(R.best_runs(make_runs(), ["dev_loss", "missing"])["metric"]) == ["dev_loss"]


def test_smooth_is_tensorboards_debiased_ema() -> None:
    # weight 0.5 by hand: last = 0.5, 1.25, 2.125; debias 0.5, 0.75, 0.875 -> 1, 5/3, 17/7
    np.testing.assert_allclose(R.smooth([1, 2, 3], 0.5), [1.0, 5 / 3, 17 / 7])
    np.testing.assert_allclose(R.smooth([1, 2, 3], 0.0), [1, 2, 3])
    np.testing.assert_allclose(R.smooth([4, 4, 4, 4], 0.9), [4, 4, 4, 4])  # debiased: no pull toward 0
    out = R.smooth([1.0, float("nan"), 3.0], 0.5)  # NaN passes through and is skipped
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == pytest.approx(1.75 / 0.75)  # last 0.25 + 1.5, n = 2
    assert R.smooth([], 0.3).shape == (0,)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="smoothing"):
            R.smooth([1, 2], bad)


def test_comparison_groups_and_merge_selection() -> None:
    groups = R.comparison_groups(make_runs())
    assert list(groups["group"]) == ["race-1"]
    assert groups["run_ids"].iloc[0] == ["aaaaaa11", "bbbbbb22", "cccccc33"]
    assert groups["label"].iloc[0] == "optimizers · 3 runs · 2026-01-01 12:10 UTC"
    assert R.comparison_groups(make_runs().drop(columns=["tags.dll.comparison"])).empty
    assert R.merge_selection(["a", "b"], ["b", "c"], [], ["a", "d"]) == ["a", "b", "c", "d"]


def test_to_csv_round_trips() -> None:
    df = make_runs()
    back = pd.read_csv(io.BytesIO(R.to_csv(df)))
    assert list(back.columns) == list(df.columns)
    assert list(back["run_name"]) == ["adam", "sgd", "momentum", "lenet"]
    assert back["start_time"].iloc[0] == "2026-01-01T12:30:00+0000"


def test_redact_and_error_message() -> None:
    assert tracking.redact_uri("http://me:secret@host:5000/x") == "http://me:***@host:5000/x"
    assert tracking.redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    msg = tracking.store_error_message(ConnectionError("refused"), "http://me:pw@127.0.0.1:9")
    assert "http://me:***@127.0.0.1:9" in msg and "ConnectionError" in msg and "MLFLOW_TRACKING_URI" in msg
    assert "pw" not in msg


# ----------------------------------------------------------------------- figures


def test_metric_curves_traces() -> None:
    hist = {
        "adam": pd.DataFrame({"step": [0, 1, 2], "value": [1.0, 2.0, 3.0]}),
        "sgd": pd.DataFrame({"step": [2, 0, 1], "value": [0.5, 0.9, 0.7]}),
        "empty": pd.DataFrame({"step": [], "value": []}),
    }
    fig = plots.metric_curves(hist, "dev_loss")
    assert isinstance(fig, go.Figure)
    assert [t.name for t in fig.data] == ["adam", "sgd"]
    assert list(fig.data[1].x) == [0, 1, 2] and list(fig.data[1].y) == [0.9, 0.7, 0.5]  # sorted by step
    assert fig.layout.yaxis.type == "linear" and fig.layout.template.layout.paper_bgcolor == "white"
    assert "lower is better" in fig.layout.title.text

    fig = plots.metric_curves(hist, "dev_loss", log_y=True, smoothing=0.5)
    assert [t.name for t in fig.data] == ["adam (raw)", "adam", "sgd (raw)", "sgd"]
    raw, smoothed = fig.data[0], fig.data[1]
    assert raw.opacity == 0.25 and raw.showlegend is False and raw.line.color == smoothed.line.color
    np.testing.assert_allclose(smoothed.y, [1.0, 5 / 3, 17 / 7])
    assert fig.layout.yaxis.type == "log"

    empty = plots.metric_curves({"a": hist["empty"]}, "dev_accuracy")
    assert len(empty.data) == 0 and "No values" in empty.layout.annotations[0].text
    with pytest.raises(ValueError):
        plots.metric_curves(hist, "x", smoothing=1.0)


def test_parallel_coordinates_maps_categories_and_colours_by_direction() -> None:
    df = make_runs()
    fig = plots.parallel_coordinates(df, ["lr", "optimizer", "epochs"], "dev_loss")
    (trace,) = fig.data
    assert isinstance(trace, go.Parcoords)
    assert [d.label for d in trace.dimensions] == ["lr", "optimizer", "epochs", "dev_loss"]
    lr, opt, epochs, metric = trace.dimensions
    assert list(lr.values) == [0.01, 0.1, 0.001]  # numeric: run "momentum" has no dev_loss
    assert lr.tickvals is None
    # categorical with the missing value as its own category
    assert list(opt.ticktext) == ["adam", "sgd", "—"] and list(opt.tickvals) == [0, 1, 2]
    assert list(opt.values) == [0, 1, 2]
    assert list(epochs.values) == [10.0, 10.0, 10.0]
    assert list(metric.values) == [0.30, 0.25, 0.9]
    assert trace.line.reversescale is True  # lower is better: reversed, so yellow is still best
    fig = plots.parallel_coordinates(df, ["params.optimizer"], "metrics.dev_accuracy")
    assert fig.data[0].line.reversescale is False
    assert "higher is better" in fig.layout.title.text
    assert len(plots.parallel_coordinates(df, ["lr"], "nope").data) == 0


# ------------------------------------------------------------- real round trip


@dataclass(frozen=True)
class _Cfg:
    lr: float
    optimizer: str
    epochs: int = 3


def test_round_trip_through_tracking(fresh_store) -> None:
    for name, lr, final in (("adam", 0.01, 0.2), ("sgd", 0.1, 0.4)):
        with tracking.start_run("optimizers", _Cfg(lr, name), run_name=name, tags={tracking.TAG_COMPARISON: "r1"}) as run:
            for step in range(3):
                run.log_metrics({"dev_loss": final + (2 - step) * 0.1, "dev_accuracy": 1 - final}, step)
            run.log_image(np.full((4, 4, 3), 200, dtype=np.uint8), "sample")
    with tracking.start_run("cnn", _Cfg(0.001, "adam", epochs=5), run_name="lenet") as run:
        run.log_metrics({"dev_loss": 0.1}, 0)

    df = tracking.search_runs()
    assert len(df) == 3
    race = R.filter_runs(df, experiments=["optimizers"])
    assert set(race["run_name"]) == {"adam", "sgd"}
    table, differing = R.params_diff(race)
    assert differing == ["lr", "optimizer"] and not table.loc["epochs", "differs"]
    best = R.best_runs(race).set_index("metric")
    assert best.loc["dev_loss", "run_name"] == "adam" and best.loc["dev_accuracy", "run_name"] == "adam"
    assert best.loc["dev_loss", "value"] == pytest.approx(0.2)
    assert list(R.comparison_groups(df)["run_ids"].iloc[0]) == list(race["run_id"])
    assert R.key_params(df, 2) == ["epochs", "lr"]  # all three vary over three runs: by name
    rid = race.loc[race["run_name"] == "adam", "run_id"].iloc[0]
    hist = tracking.metric_history(rid, "dev_loss")
    fig = plots.metric_curves({"adam": hist}, "dev_loss", smoothing=0.6)
    assert len(fig.data) == 2 and list(fig.data[0].y) == pytest.approx([0.4, 0.3, 0.2])
    images = tracking.image_artifacts(rid)
    assert [p for p, _ in images] == ["images/sample.png"] and images[0][1][:4] == b"\x89PNG"
    assert not list(fresh_store.glob("dll-art-*"))  # the temporary download is cleaned up
    csv = pd.read_csv(io.BytesIO(R.to_csv(df)))
    assert len(csv) == 3 and "params.lr" in csv.columns
