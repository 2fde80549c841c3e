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


# ------------------------------------------------------- issue 20: seeds, importance, stepped images


def seed_runs() -> pd.DataFrame:
    """Five runs: lr 0.1 with seeds 0, 1, 2; lr 0.01 with seed 0; a CNN run with seed 0 and lr 0.1."""
    return pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4", "r5"],
            "experiment": ["optimizers"] * 4 + ["cnn"],
            "run_name": ["a", "b", "c", "d", "e"],
            "params.lr": ["0.1", "0.1", "0.1", "0.01", "0.1"],
            "params.data.seed": ["0", "1", "2", "0", "0"],
            "params.epochs": ["3"] * 5,
            "metrics.dev_loss": [0.30, 0.36, 0.27, 0.50, 0.9],
            "metrics.note": ["x", "y", "z", "w", "v"],  # not a number: ignored
        }
    )


def test_seed_params_are_found_by_name() -> None:
    assert [R.is_seed_param(n) for n in ("seed", "data.seed", "init_seed", "global.seed")] == [True] * 4
    assert [R.is_seed_param(n) for n in ("seeds_used", "seeding", "lr", "seedling")] == [False] * 4
    assert R.seed_params(seed_runs()) == ["data.seed"]


def test_seed_groups_differ_only_in_the_seed() -> None:
    groups = R.seed_groups(seed_runs())
    assert list(groups["run_ids"]) == [["r1", "r2", "r3"], ["r4"], ["r5"]]  # the CNN run is another experiment
    assert list(groups["n"]) == [3, 1, 1]
    assert list(groups["label"]) == ["optimizers · lr=0.1", "optimizers · lr=0.01", "cnn · lr=0.1"]
    assert groups["seeds"][0] == ["data.seed=0", "data.seed=1", "data.seed=2"]
    newest_first = R.seed_groups(seed_runs().iloc[::-1].reset_index(drop=True))
    assert newest_first["run_ids"][2] == ["r1", "r2", "r3"]  # seeds in their natural order
    # a changed param (epochs) splits what a seed alone would not
    df = seed_runs()
    df.loc[1, "params.epochs"] = "4"
    assert [len(ids) for ids in R.seed_groups(df)["run_ids"]] == [2, 1, 1, 1]
    # one run, and no runs
    one = R.seed_groups(seed_runs().head(1))
    assert list(one["label"]) == ["optimizers"] and one["n"][0] == 1
    assert R.seed_groups(seed_runs().head(0)).empty


def test_mean_std_by_step_matches_numpy_with_missing_steps() -> None:
    rng = np.random.default_rng(0)
    curves = rng.normal(size=(3, 6))
    hists = [pd.DataFrame({"step": np.arange(6), "value": c}) for c in curves]
    hists[2] = hists[2][hists[2]["step"] != 4]  # run 3 missed step 4
    hists[1] = pd.concat([hists[1], pd.DataFrame({"step": [5], "value": [99.0]})])  # step 5 logged again: last wins
    curves[1, 5] = 99.0
    out = R.mean_std_by_step(hists)
    assert list(out["step"]) == list(range(6)) and list(out["n"]) == [3, 3, 3, 3, 2, 3]
    full = [0, 1, 2, 3, 5]
    np.testing.assert_allclose(out["mean"].to_numpy()[full], curves[:, full].mean(axis=0))
    np.testing.assert_allclose(out["std"].to_numpy()[full], curves[:, full].std(axis=0, ddof=1))
    np.testing.assert_allclose(out["std"][4], np.std(curves[:2, 4], ddof=1))
    assert not np.allclose(out["std"].to_numpy()[full], curves[:, full].std(axis=0, ddof=0))  # ddof matters
    single = R.mean_std_by_step(hists[:1])
    assert single["std"].isna().all() and (single["n"] == 1).all()  # one run: no band
    with_nan = pd.DataFrame({"step": [0, 1], "value": [np.nan, 2.0]})
    assert list(R.mean_std_by_step([with_nan])["step"]) == [1]
    assert R.mean_std_by_step([]).empty


def test_seed_summary_and_format() -> None:
    df = seed_runs()
    summary = R.seed_summary(df, R.seed_groups(df), ["dev_loss", "note"]).set_index(["group", "metric"])
    first = np.array([0.30, 0.36, 0.27])
    assert summary.loc[(0, "dev_loss"), "mean"] == pytest.approx(first.mean())
    assert summary.loc[(0, "dev_loss"), "std"] == pytest.approx(first.std(ddof=1))
    assert summary.loc[(0, "dev_loss"), "n"] == 3
    assert np.isnan(summary.loc[(1, "dev_loss"), "std"]) and summary.loc[(1, "dev_loss"), "mean"] == 0.5
    assert summary.loc[(0, "note"), "n"] == 0 and np.isnan(summary.loc[(0, "note"), "mean"])
    assert R.format_mean_std(0.31, 0.0458) == "0.31 ± 0.046"
    assert R.format_mean_std(0.5, np.nan) == "0.5" and R.format_mean_std(np.nan, np.nan) == "—"


def test_eta_squared_is_the_r2_of_one_hot_regression() -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(1)
    groups = rng.choice(["adam", "sgd", "rmsprop"], size=40)
    y = rng.normal(size=40) + (groups == "adam") * 1.5
    onehot = OneHotEncoder().fit_transform(groups.reshape(-1, 1)).toarray()
    reference = LinearRegression().fit(onehot, y).score(onehot, y)
    assert R.eta_squared(groups, y) == pytest.approx(reference, abs=1e-12)
    assert R.eta_squared(groups, y) != pytest.approx(reference + 1e-3, abs=1e-4)  # just misses
    assert R.eta_squared(["a", "a", "b", "b"], [1, 1, 5, 5]) == pytest.approx(1.0)
    assert R.eta_squared(["a", "b", "a", "b"], [1, 1, 5, 5]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same value"):
        R.eta_squared(["a", "b"], [2.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        R.eta_squared(["a"], [1.0, 2.0])


def test_r_squared_matches_sklearn_linear_regression() -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 3, size=30)
    y = 2 * x + rng.normal(size=30)
    reference = LinearRegression().fit(x.reshape(-1, 1), y).score(x.reshape(-1, 1), y)
    assert R.r_squared(x, y) == pytest.approx(reference, abs=1e-12)
    assert R.r_squared(x, y) != pytest.approx(reference - 1e-3, abs=1e-4)
    assert R.r_squared([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="same value"):
        R.r_squared([1, 2, 3], [4, 4, 4])


def test_param_importance_against_sklearn() -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(3)
    n = 24
    lr = 10.0 ** rng.uniform(-4, -1, size=n)
    opt = rng.choice(["adam", "sgd"], size=n)
    width = rng.choice([16, 32, 64], size=n)
    loss = 0.3 * np.log10(lr) ** 2 / 10 + (opt == "sgd") * 0.2 + rng.normal(scale=0.02, size=n)
    df = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(n)],
            "params.lr": [str(float(v)) for v in lr],
            "params.optimizer": opt,
            "params.width": [str(w) for w in width],
            "params.epochs": ["3"] * n,
            "params.name": [f"run {i}" for i in range(n)],
            "metrics.dev_loss": loss,
        }
    )
    out = R.param_importance(df, "dev_loss").set_index("param")
    onehot = OneHotEncoder().fit_transform(opt.reshape(-1, 1)).toarray()
    assert out.loc["optimizer", "kind"] == "categorical"
    assert out.loc["optimizer", "score"] == pytest.approx(LinearRegression().fit(onehot, loss).score(onehot, loss))
    logx = np.log10(lr).reshape(-1, 1)
    assert out.loc["lr", "kind"] == "numeric, log scale"  # 1e-4 … 1e-1 spans three decades
    assert out.loc["lr", "score"] == pytest.approx(LinearRegression().fit(logx, loss).score(logx, loss))
    w = width.reshape(-1, 1).astype(float)
    assert out.loc["width", "kind"] == "numeric"
    assert out.loc["width", "score"] == pytest.approx(LinearRegression().fit(w, loss).score(w, loss))
    assert np.isnan(out.loc["epochs", "score"]) and out.loc["epochs", "note"] == "one value in every run"
    assert np.isnan(out.loc["name", "score"]) and "its own value" in out.loc["name", "note"]
    ranked = list(out.index)
    scored = list(out["score"].dropna())
    assert scored == sorted(scored, reverse=True) and ranked[-2:] == ["epochs", "name"]  # best first, unscored last
    # a span just under two decades stays on a linear axis
    narrow = df.assign(**{"params.lr": [str(float(v)) for v in np.linspace(0.001, 0.099, n)]})
    assert R.param_importance(narrow, "dev_loss", ["lr"])["kind"][0] == "numeric"


def test_param_importance_edge_cases() -> None:
    df = seed_runs()
    with pytest.raises(ValueError, match="at least 3 runs"):
        R.param_importance(df.head(2), "dev_loss")
    with pytest.raises(ValueError, match="at least 3 runs"):
        R.param_importance(df, "note")  # not a number
    with pytest.raises(ValueError, match="same in all"):
        R.param_importance(df.assign(**{"metrics.dev_loss": 0.4}), "metrics.dev_loss")
    # a param missing in some runs: numeric drops them, categorical makes "—" a category
    df["params.width"] = ["8", None, "16", "8", None]
    df["params.act"] = ["relu", None, "tanh", "relu", None]
    out = R.param_importance(df, "dev_loss").set_index("param")
    assert out.loc["width", "runs"] == 3 and out.loc["act", "runs"] == 5 and out.loc["act", "values"] == 3
    y = df["metrics.dev_loss"].to_numpy()
    assert out.loc["width", "score"] == pytest.approx(R.r_squared([8, 16, 8], y[[0, 2, 3]]))
    assert out.loc["act", "score"] == pytest.approx(R.eta_squared(["relu", "—", "tanh", "relu", "—"], y))


def test_image_steps_and_nearest_earlier() -> None:
    assert R.image_step("images/samples_epoch_003.png") == ("images/samples", 3)
    assert R.image_step("images/step_12.png") == ("images", 12)
    assert R.image_step("frames/0040.png") == ("frames", 40)
    assert R.image_step("images/split_2.png") == ("images/split_2", None)  # "it" inside a word is no step
    assert R.image_step("images/content_conv4_2.png") == ("images/content_conv4_2", None)
    found = {
        "r1": [("images/samples_epoch_001.png", b"a1"), ("images/samples_epoch_003.png", b"a3"),
               ("images/real.png", b"real")],
        "r2": [("images/samples_epoch_002.png", b"b2")],
    }  # fmt: skip
    by = R.images_by_step(found)
    assert by == {"images/samples": {"r1": {1: b"a1", 3: b"a3"}, "r2": {2: b"b2"}}}
    assert R.step_at_or_before([1, 3], 2) == 1 and R.step_at_or_before([1, 3], 3) == 3
    assert R.step_at_or_before([2], 1) is None


def test_seed_bands_and_importance_bars_figures() -> None:
    stats = {"lr=0.1": pd.DataFrame({"step": [0, 1, 2], "mean": [1.0, 0.5, 0.25], "std": [0.1, np.nan, 0.05],
                                     "n": [3, 1, 3]})}
    fig = plots.seed_bands(stats, "dev_loss")
    band, line = fig.data
    assert band.fill == "toself" and list(band.x) == [0, 2, 2, 0]  # step 1 has one run: no band there
    np.testing.assert_allclose(band.y, [1.1, 0.3, 0.2, 0.9])
    assert line.name == "lr=0.1 (3)" and list(line.y) == [1.0, 0.5, 0.25]
    assert "lower is better" in fig.layout.title.text
    scores = pd.DataFrame({"param": ["opt", "lr", "seed"], "kind": ["categorical", "numeric", "numeric"],
                           "score": [0.8, 0.3, np.nan], "runs": [9, 9, 9], "values": [2, 3, 9], "note": ["", "", "x"]})
    bars = plots.importance_bars(scores, "dev_loss").data[0]
    assert list(bars.y) == ["lr", "opt"] and list(bars.x) == [0.3, 0.8]  # largest on top
    assert not plots.importance_bars(scores.iloc[2:], "dev_loss").data
