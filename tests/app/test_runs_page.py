"""The Runs page under AppTest, on real tracking stores (empty, a few runs, 1,000 runs, down)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import tracking

PAGE = "../../pages/runs.py"


@dataclass(frozen=True)
class RaceCfg:
    lr: float
    optimizer: str
    epochs: int = 3


def app() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60)


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _table(at: AppTest):
    return next(df for df in at.dataframe if df.key == "runs.table").value


@pytest.fixture
def few_runs(fresh_store) -> dict[str, str]:
    """Three runs: an optimizer race of two (with a PNG each) and a failed CNN run."""
    ids = {}
    for name, lr, final in (("adam", 0.01, 0.2), ("sgd", 0.1, 0.5)):
        with tracking.start_run(
            "optimizers", RaceCfg(lr, name), run_name=name, tags={tracking.TAG_COMPARISON: "race-1"}
        ) as run:
            for step in range(5):
                run.log_metrics({"dev_loss": final + (4 - step) * 0.1, "dev_accuracy": 1 - final}, step)
            run.log_image(np.full((8, 8, 3), 120 if name == "adam" else 240, dtype=np.uint8), "samples")
        ids[name] = run.run_id
    run = tracking.start_run("cnn", RaceCfg(0.001, "adam", epochs=1), run_name="lenet")
    run.log_metrics({"dev_loss": 1.5}, 0)
    run.end("FAILED", error="RuntimeError: boom")
    ids["lenet"] = run.run_id
    return ids


def test_empty_store_is_friendly(fresh_store) -> None:
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Runs"
    assert any("No runs yet" in t and "Optimizers" in t for t in texts(at, "info"))
    assert not at.error
    assert any("mlflow ui" in c for c in texts(at, "code"))


def test_lists_filters_and_compares(few_runs) -> None:
    at = app().run()
    assert not at.exception
    table = _table(at)
    assert sorted(table["Run"]) == ["adam", "lenet", "sgd"]
    assert {"lr", "optimizer", "dev_loss", "Duration", "Status", "Page"} <= set(table.columns)
    assert any("3 runs found" in c for c in texts(at, "caption"))
    assert any("Tick rows" in t for t in texts(at, "info"))  # nothing selected yet

    # filters: status, param value, free text
    at.multiselect(key="runs.statuses").set_value(["FAILED"]).run()
    assert list(_table(at)["Run"]) == ["lenet"]
    at.multiselect(key="runs.statuses").set_value([]).run()
    at.selectbox(key="runs.param").set_value("lr").run()
    at.selectbox(key="runs.value").set_value("0.1").run()
    assert list(_table(at)["Run"]) == ["sgd"]
    at.selectbox(key="runs.param").set_value(None).run()
    at.text_input(key="runs.text").input("ADAM").run()
    assert sorted(_table(at)["Run"]) == ["adam", "lenet"]  # lenet's optimizer param is adam
    at.text_input(key="runs.text").input("").run()
    assert not at.exception

    # select the two race runs through the table's selection state
    rows = [i for i, name in enumerate(_table(at)["Run"]) if name in ("adam", "sgd")]
    at.session_state["runs.table"] = {"selection": {"rows": rows}}
    at.run()
    assert not at.exception
    assert any("2 runs selected" in c for c in texts(at, "caption"))
    assert [t.label for t in at.tabs] == [
        "Curves", "Over seeds", "Params", "Parallel coordinates", "Importance", "Best", "Images"
    ]  # fmt: skip
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and '"name":"adam"' in charts[0].proto.spec.replace(" ", "")
    at.toggle(key="runs.log_y").set_value(True)
    at.slider(key="runs.smoothing").set_value(0.6).run()
    assert not at.exception

    at.session_state["runs.tab"] = "Params"
    at.run()
    assert not at.exception
    assert any("2 of 3 params differ" in c for c in texts(at, "caption"))
    at.toggle(key="runs.only_diff").set_value(True).run()
    assert not at.exception

    at.session_state["runs.tab"] = "Parallel coordinates"
    at.run()
    assert not at.exception and len(at.get("plotly_chart")) == 1

    at.session_state["runs.tab"] = "Best"
    at.run()
    assert not at.exception
    best = next(df for df in at.dataframe if "Best run" in df.value.columns).value.set_index("Metric")
    assert best.loc["dev_loss", "Best run"] == "adam" and best.loc["dev_loss", "Better"] == "lower"
    assert best.loc["dev_accuracy", "Best run"] == "adam" and best.loc["dev_accuracy", "Better"] == "higher"

    at.session_state["runs.tab"] = "Images"
    at.run()
    assert not at.exception
    assert len(at.image) == 2  # one per run, side by side
    assert [img.captions for img in at.image] == [["images/samples.png"], ["images/samples.png"]]
    assert {"**adam**", "**sgd**"} <= set(texts(at, "markdown"))


def test_ticks_follow_their_runs_when_a_new_run_arrives(few_runs) -> None:
    at = app().run()
    rows = [i for i, name in enumerate(_table(at)["Run"]) if name in ("adam", "lenet")]
    at.session_state["runs.table"] = {"selection": {"rows": rows}}
    at.run()
    with tracking.start_run("optimizers", RaceCfg(0.5, "rmsprop"), run_name="rmsprop") as run:
        run.log_metrics({"dev_loss": 0.9}, 0)
    st.cache_data.clear()  # skip the page's 5 s cache
    at.run()
    assert not at.exception
    table = _table(at)
    assert table["Run"].iloc[0] == "rmsprop"  # newest first: every row moved down one
    ticked = [table["Run"].iloc[r] for r in at.session_state["runs.table"]["selection"]["rows"]]
    assert sorted(ticked) == ["adam", "lenet"]
    assert any("2 runs selected" in c for c in texts(at, "caption"))


def test_multiselect_and_comparison_fallbacks(few_runs) -> None:
    at = app().run()
    at.multiselect(key="runs.pick").set_value([few_runs["lenet"], few_runs["sgd"]]).run()
    assert not at.exception
    assert any("2 runs selected" in c for c in texts(at, "caption"))
    at.multiselect(key="runs.pick").set_value([]).run()
    group = at.selectbox(key="runs.group")
    assert "optimizers · 2 runs" in group.options[0]
    group.set_value("race-1").run()
    assert not at.exception
    assert any("2 runs selected" in c for c in texts(at, "caption"))
    at.session_state["runs.tab"] = "Params"
    at.run()
    assert any("2 of 3 params differ" in c for c in texts(at, "caption"))


def test_delete_needs_confirmation(few_runs) -> None:
    at = app().run()
    at.multiselect(key="runs.pick").set_value([few_runs["lenet"]]).run()
    button = at.button(key="runs.delete")
    assert button.disabled  # not before the confirmation
    at.checkbox(key="runs.confirm_delete").check().run()
    assert at.checkbox(key="runs.confirm_delete").label == "Yes, delete 1 run"
    at.button(key="runs.delete").click().run()
    assert not at.exception
    assert any("Deleted 1 run" in s for s in texts(at, "success"))
    assert sorted(_table(at)["Run"]) == ["adam", "sgd"]
    assert sorted(tracking.search_runs()["run_name"]) == ["adam", "sgd"]
    assert any("Tick rows" in t for t in texts(at, "info"))  # the selection is gone


def test_csv_download_and_mlflow_ui(few_runs) -> None:
    at = app().run()
    assert not at.exception
    assert any(e.proto.label.startswith("Download the filtered runs") for e in at.get("download_button"))
    codes = texts(at, "code")
    assert any(tracking.tracking_uri() in c and "mlflow ui" in c for c in codes)


def test_unreachable_store_shows_an_error(fresh_store, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    at = app().run()
    assert not at.exception
    assert any("could not be read" in e and "127.0.0.1:9" in e for e in texts(at, "error"))


def test_thousand_runs_paginate(fresh_store) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking.tracking_uri())
    exp = tracking.experiment_id("optimizers")
    start = int(time.time() * 1000)
    for i in range(1000):
        run = client.create_run(exp, start_time=start - i * 1000, run_name=f"run-{i:04d}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("dev_loss", 1.0 / (i + 1), start, 0)],
            params=[Param("lr", str([0.001, 0.01, 0.1][i % 3])), Param("seed", str(i))],
            tags=[RunTag(tracking.TAG_PAGE, "optimizers")],
        )
        client.set_terminated(run.info.run_id, "FINISHED", end_time=start - i * 1000 + 5000)

    t0 = time.perf_counter()
    at = app().run()
    first = time.perf_counter() - t0
    assert not at.exception
    assert len(_table(at)) == 50 and _table(at)["Run"].iloc[0] == "run-0000"
    assert any("1000 runs found" in c and "page 1 of 20" in c for c in texts(at, "caption"))
    page = at.number_input(key="runs.page")
    assert page.max == 20
    page.set_value(20).run()
    assert not at.exception
    assert _table(at)["Run"].iloc[-1] == "run-0999"
    at.selectbox(key="runs.param").set_value("lr").run()
    at.selectbox(key="runs.value").set_value("0.1").run()
    assert not at.exception
    assert any("333 runs found" in c and "page 7 of 7" in c for c in texts(at, "caption"))  # page clamped
    print(f"first render of 1,000 runs: {first:.2f} s")
    assert first < 30, f"first render took {first:.1f} s"


def test_the_kind_filter_reads_the_runs_kind_tag(fresh_store) -> None:
    for name, kind in (("a gan", "gan"), ("a toy", "toy"), ("a vae", "vae")):
        with tracking.start_run("generative", RaceCfg(0.1, "Adam"), run_name=name, tags={tracking.TAG_KIND: kind}):
            pass
    at = app().run()
    kinds = at.multiselect(key="runs.kinds")
    assert list(kinds.options) == ["gan", "toy", "vae"] and "dll.kind" in kinds.help
    kinds.set_value(["toy", "vae"]).run()
    assert sorted(_table(at)["Run"]) == ["a toy", "a vae"]


# ------------------------------------------------ issue 20: seeds, importance, images on a step slider


@dataclass(frozen=True)
class SeedCfg:
    lr: float
    optimizer: str
    seed: int
    epochs: int = 3


FINALS = {(0.1, 0): 0.30, (0.1, 1): 0.36, (0.1, 2): 0.27, (0.01, 0): 0.52, (0.01, 1): 0.47, (0.01, 2): 0.55}


@pytest.fixture
def seed_runs(fresh_store) -> dict[tuple[float, int], str]:
    """Six runs: lr 0.1 and 0.01, each with seeds 0, 1, 2; the lr 0.1 runs log a sample image per epoch."""
    ids = {}
    for (lr, seed), final in FINALS.items():
        with tracking.start_run("optimizers", SeedCfg(lr, "adam", seed), run_name=f"lr{lr}-s{seed}") as run:
            for step in range(4):
                run.log_metrics({"dev_loss": final + (3 - step) * 0.1}, step)
            if lr == 0.1 and seed < 2:
                for epoch in range(1 + seed, 4):  # seed 1 starts logging one epoch later
                    run.log_image(np.full((6, 6, 3), 40 * epoch, dtype=np.uint8), f"samples_epoch_{epoch:03d}")
                run.log_image(np.zeros((6, 6, 3), dtype=np.uint8), "real")
        ids[(lr, seed)] = run.run_id
    return ids


def test_seed_groups_importance_and_stepped_images(seed_runs) -> None:
    at = app().run()
    at.multiselect(key="runs.pick").set_value(list(seed_runs.values())).run()
    assert not at.exception and any("6 runs selected" in c for c in texts(at, "caption"))

    at.session_state["runs.tab"] = "Over seeds"
    at.run()
    assert not at.exception
    table = next(df for df in at.dataframe if "Group" in df.value.columns).value.set_index("Group")
    assert list(table["Runs"]) == [3, 3]
    for lr in (0.1, 0.01):
        finals = np.array([FINALS[(lr, s)] for s in range(3)])
        row = table.loc[f"optimizers · lr={lr}"]
        assert row["dev_loss (mean ± std)"] == f"{finals.mean():.4g} ± {finals.std(ddof=1):.2g}"
        assert row["Seeds"] == "seed=0, seed=1, seed=2"
    spec = at.get("plotly_chart")[0].proto.spec
    assert spec.count('"toself"') == 2  # one band per group

    at.session_state["runs.tab"] = "Importance"
    at.run()
    assert not at.exception
    assert at.radio(key="runs.imp_scope").value.startswith("All filtered runs")
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert bars["y"][-1] == "lr"  # the top bar: lr explains most of the spread of dev_loss
    y = np.array([FINALS[k] for k in FINALS])
    lr = np.array([k[0] for k in FINALS])  # one decade apart: a linear axis
    score = dict(zip(bars["y"], bars["x"], strict=True))
    assert score["lr"] == pytest.approx(np.corrcoef(lr, y)[0, 1] ** 2)
    assert any("Not scored" in c and "epochs (one value in every run)" in c for c in texts(at, "caption"))
    at.radio(key="runs.imp_scope").set_value("Only the selected runs").run()
    assert not at.exception

    at.session_state["runs.tab"] = "Images"
    at.run()
    assert not at.exception
    slider = next(s for s in at.select_slider if s.key.startswith("runs.img_step"))
    assert list(slider.options) == ["1", "2", "3"] and slider.value == 3
    stepped = [img.captions[0] for img in at.image if "step" in img.captions[0]]
    assert stepped == ["images/samples · step 3", "images/samples · step 3"]
    slider.set_value(1).run()
    assert not at.exception
    assert [img.captions[0] for img in at.image if "step" in img.captions[0]] == ["images/samples · step 1"]
    assert any("no image at or before step 1" in c and "first is at step 2" in c for c in texts(at, "caption"))
    assert any(img.captions == ["images/real.png"] for img in at.image)  # images without a step are listed below


def test_importance_needs_three_runs(seed_runs) -> None:
    at = app().run()
    at.multiselect(key="runs.pick").set_value([seed_runs[(0.1, 0)], seed_runs[(0.01, 0)]]).run()
    at.session_state["runs.tab"] = "Importance"
    at.run()
    at.radio(key="runs.imp_scope").set_value("Only the selected runs").run()
    assert not at.exception
    assert any("at least 3 runs" in t for t in texts(at, "info"))
    at.session_state["runs.tab"] = "Over seeds"
    at.run()
    assert not at.exception
    assert any("no group has two seeds" in t for t in texts(at, "info"))
