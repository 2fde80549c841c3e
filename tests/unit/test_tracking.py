"""Tracking: MLflow round trips, final statuses, and a tracking server that goes away."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from core import tracking
from core.training import Callback, TrainingCancelled, fit
from tests.conftest import free_port, start_mlflow_server, stop_process_group


@dataclass(frozen=True)
class Cfg:
    lr: float = 0.1
    hidden: tuple = (8, 4)
    name: str = "x"


def test_params_metrics_artifacts_and_finished(fresh_store):
    with tracking.start_run("demo", Cfg(), run_name="r1", tags={tracking.TAG_COMPARISON: "c1"}) as run:
        for s in range(1, 2501):  # more than one log_batch
            run.log_metrics({"train_loss": 1.0 / s}, s)
        run.log_image(np.full((4, 4, 3), 0.5), "grey")
        run.log_state_dict(nn.Linear(2, 1))
    df = tracking.search_runs()
    row = df.iloc[0]
    assert row["status"] == "FINISHED" and row["experiment"] == "demo" and row["run_name"] == "r1"
    assert row["params.lr"] == "0.1" and row["params.hidden"] == "[8, 4]" and row["params.name"] == "x"
    assert row["tags.dll.comparison"] == "c1" and row["tags.dll.page"] == "demo"
    hist = tracking.metric_history(run.run_id, "train_loss")
    assert hist["step"].tolist() == list(range(1, 2501))
    np.testing.assert_allclose(hist["value"], 1.0 / np.arange(1, 2501))
    images = tracking.image_artifacts(run.run_id)
    assert [p for p, _ in images] == ["images/grey.png"] and images[0][1][:4] == b"\x89PNG"
    assert not list(Path(fresh_store).glob("dll-art-*"))  # the temporary download is gone
    weights = Path(fresh_store) / "mlartifacts" / "demo" / run.run_id / "artifacts" / "model" / "weights.pt"
    assert set(torch.load(weights, weights_only=True)) == {"weight", "bias"}
    assert str(fresh_store) in tracking.tracking_uri()
    assert tracking.count_runs() == 1


def test_failed_and_killed_statuses(fresh_store):
    with pytest.raises(RuntimeError), tracking.start_run("demo", Cfg(), run_name="bad"):
        raise RuntimeError("loss became NaN at step 3 — try a smaller learning rate")
    with pytest.raises(TrainingCancelled), tracking.start_run("demo", Cfg(), run_name="stopped") as run:
        from core.training import History

        run.log_metrics({"train_loss": 1.0}, 1)
        raise TrainingCancelled(History())
    df = tracking.search_runs().set_index("run_name")
    assert df.loc["bad", "status"] == "FAILED"
    assert "NaN at step 3" in df.loc["bad", "tags.dll.error"]
    assert df.loc["stopped", "status"] == "KILLED" and df.loc["stopped", "metrics.train_loss"] == 1.0


def test_stale_running_runs_are_marked_killed(fresh_store):
    from mlflow import MlflowClient

    client = MlflowClient(tracking.tracking_uri())
    run = client.create_run(tracking.experiment_id("demo"))
    assert tracking.mark_stale_runs_killed() == 1
    assert client.get_run(run.info.run_id).info.status == "KILLED"
    assert tracking.mark_stale_runs_killed() == 0


def test_displayed_uris_hide_passwords():
    assert tracking.display_uri("http://me:secret@host:5000") == "http://me:***@host:5000"
    assert tracking.display_uri(f"sqlite:///{tracking.PROJECT_ROOT}/data/mlflow.db") == "sqlite: data/mlflow.db"
    assert tracking.display_uri("sqlite:////elsewhere/x.db") == "sqlite: /elsewhere/x.db"


def test_unreachable_server_never_blocks_and_falls_back(fresh_store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here
    t0 = time.perf_counter()
    run = tracking.start_run("demo", Cfg(), uri=f"http://me:secret@127.0.0.1:{port}")
    for step in range(1, 201):
        run.log_metrics({"train_loss": float(step)}, step)
    run.end("FINISHED")
    assert time.perf_counter() - t0 < 20
    assert run.fell_back and any("did not answer" in w for w in run.warnings)
    assert not any("secret" in w for w in run.warnings)
    df = tracking.search_runs()  # the local store
    assert df.iloc[0]["tags.dll.fallback_from"] == f"http://me:***@127.0.0.1:{port}"
    assert len(tracking.metric_history(df.iloc[0]["run_id"], "train_loss")) == 200


@pytest.fixture
def server(tmp_path):
    port = free_port()
    proc = start_mlflow_server(tmp_path, port)
    yield tmp_path, port, proc
    if proc.poll() is None:
        stop_process_group(proc)


def test_training_survives_a_server_killed_midway(fresh_store, server):
    """A real `mlflow server` is stopped during fit(): the training finishes, warns, and
    every metric is kept (here: written to the local store, since the server stays down)."""
    tmp, port, proc = server
    uri = f"http://127.0.0.1:{port}"
    run = tracking.start_run("demo", Cfg(), run_name="survivor", uri=uri)
    assert run.run_id is not None  # created on the live server

    class LogAndKill(Callback):
        def on_step(self, step, epoch, values):
            run.log_metrics({"train_loss": values["loss"]}, step)
            if step == 20:
                time.sleep(1.5)  # let the first steps reach the server
                stop_process_group(proc)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    X, y = torch.randn(256, 4), torch.randint(0, 2, (256,))
    t0 = time.perf_counter()
    hist = fit(model, (X, y), torch.optim.SGD(model.parameters(), lr=0.1), epochs=10, batch_size=32,
               callbacks=[LogAndKill()], device=torch.device("cpu"), sync_every=1)
    run.end("FINISHED")
    assert hist.steps_done == 80
    assert time.perf_counter() - t0 < 40
    assert any("did not answer" in w for w in run.warnings)
    assert run.fell_back
    local = tracking.search_runs()
    assert local.iloc[0]["run_name"] == "survivor" and local.iloc[0]["status"] == "FINISHED"
    saved = tracking.metric_history(local.iloc[0]["run_id"], "train_loss")
    assert saved["step"].tolist() == list(range(1, 81))
    np.testing.assert_allclose(saved["value"], hist.step_loss, rtol=1e-6)


def test_metrics_are_sent_when_the_server_comes_back(fresh_store, server):
    tmp, port, proc = server
    uri = f"http://127.0.0.1:{port}"
    run = tracking.start_run("demo", Cfg(), run_name="patient", uri=uri)
    run.retry_interval_s = 0.2
    run.log_metrics({"m": 1.0}, 1)
    time.sleep(1.5)
    stop_process_group(proc)
    for s in range(2, 11):
        run.log_metrics({"m": float(s)}, s)
    time.sleep(1.5)
    assert run.offline
    proc2 = start_mlflow_server(tmp, port)
    try:
        run.end("FINISHED")
        assert not run.fell_back
        assert any("answered again" in w for w in run.warnings)
        df = tracking.search_runs(uri=uri)
        assert df.iloc[0]["status"] == "FINISHED"
        assert tracking.metric_history(df.iloc[0]["run_id"], "m", uri=uri)["value"].tolist() == [float(s) for s in range(1, 11)]
    finally:
        stop_process_group(proc2)


def test_run_params_reads_what_the_run_logged_and_refuses_what_is_not_a_run(fresh_store):
    with tracking.start_run("demo", {"lr": 0.1, "net": {"hidden": [4, 2]}, "name": "a b"}) as run:
        pass
    assert tracking.run_params(run.run_id) == {"lr": "0.1", "net.hidden": "[4, 2]", "name": "a b"}
    for bad in ("", "../etc", "x' OR '1'='1", "a" * 65):
        with pytest.raises(ValueError, match="is not a run id"):
            tracking.run_params(bad)
    with pytest.raises(ValueError, match="not in the tracking store"):
        tracking.run_params("0" * 32)
    tracking.delete_runs([run.run_id])
    with pytest.raises(ValueError, match="not in the tracking store"):
        tracking.run_params(run.run_id)


def test_processes_opening_a_new_store_at_once_all_open_it(fresh_store):
    """The app and its workers may open a new local store at the same moment: each waits for the one that
    creates the tables (without the lock, three of four such processes failed in MLflow's migrations)."""
    env = {**os.environ, "DLL_DATA_DIR": str(fresh_store)}
    code = "from core import tracking; print(len(tracking.list_experiments()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=Path(__file__).parents[2],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-400:] for _, err in outs if err]
    assert {out.strip() for out, _ in outs} == {"1"}  # each found the one store, with MLflow's Default experiment
