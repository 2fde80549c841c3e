"""Class mode's tracking: the lab writes as one service account to an `mlflow server` with a
PostgreSQL backend store, proxied artifacts and basic-auth; the server refuses anyone else;
and a server that is down never loses a run (it falls back to the local store)."""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from core import tracking as tr
from core.identity import LOCAL_USER


def _use_service_account(monkeypatch: pytest.MonkeyPatch, server) -> None:
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_lab_writes_a_run_to_the_postgres_backed_server(tracking, postgres_service, fresh_store, monkeypatch):
    _use_service_account(monkeypatch, tracking)
    assert tr.tracking_uri() == tracking.url
    with tr.start_run("basics", None, run_name="x") as run:
        for step in range(1, 6):
            run.log_metrics({"train_loss": 1.0 / step, "accuracy": step / 10}, step)
        run.log_image(np.full((4, 4, 3), 0.5), "grey")
    assert not run.fell_back and not run.offline and run.warnings == []

    # read back through the lab's own readers
    runs = tr.search_runs(uri=tracking.url, user=LOCAL_USER)
    row = runs.set_index("run_id").loc[run.run_id]
    assert row["run_name"] == "x" and row["status"] == "FINISHED" and row["experiment"] == "basics"
    assert row["metrics.train_loss"] == pytest.approx(0.2)
    hist = tr.metric_history(run_id=run.run_id, key="accuracy", uri=tracking.url, user=LOCAL_USER)
    assert hist["step"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(hist["value"], [0.1, 0.2, 0.3, 0.4, 0.5])
    images = tr.image_artifacts(run_id=run.run_id, uri=tracking.url, user=LOCAL_USER)
    assert [p for p, _ in images] == ["images/grey.png"] and images[0][1][:4] == b"\x89PNG"

    # the data really are in PostgreSQL ...
    with postgres_service.connect() as conn:
        name, status, artifact_uri = conn.execute(
            "SELECT name, status, artifact_uri FROM runs WHERE run_uuid = %s", (run.run_id,)).fetchone()
        metrics = conn.execute(
            "SELECT key, step, value FROM metrics WHERE run_uuid = %s ORDER BY key, step", (run.run_id,)).fetchall()
    assert (name, status) == ("x", "FINISHED")
    assert [(k, s) for k, s, _ in metrics] == [("accuracy", s) for s in range(1, 6)] + [("train_loss", s) for s in range(1, 6)]
    # ... and the image went through the server (proxied artifacts) into its artifacts folder
    assert artifact_uri.startswith("mlflow-artifacts:/")
    stored = list(tracking.artifacts.rglob(f"{run.run_id}/artifacts/images/grey.png"))
    assert len(stored) == 1 and stored[0].read_bytes() == images[0][1]
    assert not list(fresh_store.rglob("*.png"))  # nothing written to a local path by the client


def test_the_server_refuses_anyone_but_the_service_account(tracking):
    api = f"{tracking.url}/api/2.0/mlflow/experiments/search?max_results=5"
    assert _status(f"{tracking.url}/health") == 200  # only the health check is open
    assert _status(api) == 401
    assert _status(api, (tracking.env["MLFLOW_TRACKING_USERNAME"], tracking.env["MLFLOW_TRACKING_PASSWORD"])) == 200
    assert _status(api, (tracking.env["MLFLOW_TRACKING_USERNAME"], "not-the-password")) == 401
    assert _status(api, ("someone", tracking.env["MLFLOW_TRACKING_PASSWORD"])) == 401
    assert _status(f"{tracking.url}/api/2.0/mlflow-artifacts/artifacts") == 401  # artifacts too
    assert tracking.url.startswith("http://127.0.0.1:")


def test_a_run_while_the_server_is_down_keeps_every_metric_in_the_local_store(tracking, fresh_store, monkeypatch):
    _use_service_account(monkeypatch, tracking)
    password = tracking.env["MLFLOW_TRACKING_PASSWORD"]
    tracking.stop()
    try:
        t0 = time.perf_counter()
        run = tr.start_run("basics", None, run_name="while-down", uri=tracking.url)
        for step in range(1, 201):
            run.log_metrics({"train_loss": float(step)}, step)
        run.end("FINISHED")
        assert time.perf_counter() - t0 < 20
        assert run.fell_back and any("did not answer" in w for w in run.warnings)
        assert not any(password in w for w in run.warnings)
        local = tr.search_runs(uri=tr.local_uri(), user=LOCAL_USER)
        row = local.set_index("run_id").loc[run.run_id]
        assert row["run_name"] == "while-down" and row["status"] == "FINISHED"
        assert row[f"tags.{tr.TAG_FALLBACK}"] == tracking.url
        hist = tr.metric_history(run_id=run.run_id, key="train_loss", uri=tr.local_uri(), user=LOCAL_USER)
        assert hist["step"].tolist() == list(range(1, 201))
        assert hist["value"].tolist() == [float(s) for s in range(1, 201)]
    finally:
        tracking.start()
    # back, with the same port and the same account
    assert _status(f"{tracking.url}/api/2.0/mlflow/experiments/search?max_results=5", (tracking.username, password)) == 200
