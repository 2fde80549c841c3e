"""The job API and the local runner: jobs in a worker process beside the app, queued behind the
per-device limit, Stop, failures, partial outcomes, snapshots that carry only what changed, the
app's settings crossing over, process-wide settings staying in the worker, a dying worker."""

import os
import pickle
import threading
import time

import pytest

from core import tracking
from core.jobs import FAILED, FINISHED, KILLED, QUEUED, RUNNING, Cursor, LocalRunner, Recorder, job_name, run_job
from core.jobs.worker import worker_threads
from tests import jobfns


def _wait_status(runner, job_id, status, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        snap = runner.snapshot(job_id)
        if snap.status == status:
            return snap
        time.sleep(0.01)
    raise AssertionError(f"{job_id} never reached {status}: {runner.snapshot(job_id)}")


@pytest.fixture(scope="module")
def shared():
    r = LocalRunner(limit=1)
    yield r
    r.close()


@pytest.fixture
def runner(shared):
    """The module's runner (its worker process is started once), idle at the start of each test."""
    assert all(s.done for s in shared.jobs())
    return shared


@pytest.fixture
def own_runner():
    """A runner of this test's own, for tests that kill or close its worker."""
    r = LocalRunner(limit=1)
    yield r
    r.close()


def test_limit_queues_jobs_in_order_and_reports_position(runner, tmp_path):
    gate = tmp_path / "gate"
    a = runner.submit("p", jobfns.wait_for_file, str(gate))
    _wait_status(runner, a, RUNNING)
    b = runner.submit("p", jobfns.echo, "b")
    c = runner.submit("q", jobfns.echo, "c")
    sb, sc = runner.snapshot(b), runner.snapshot(c)
    assert (sb.status, sb.ahead) == (QUEUED, 0)
    assert (sc.status, sc.ahead) == (QUEUED, 1)
    gate.write_text("open")
    results = [runner.wait(j, 30) for j in (a, b, c)]
    assert [s.status for s in results] == [FINISHED] * 3 and [s.progress for s in results] == [1.0] * 3
    assert [s.result for s in results] == ["open", "B", "C"]
    assert results[0].started <= results[0].ended <= results[1].started <= results[1].ended <= results[2].started
    assert results[0].metrics["train"] == [{"step": 1, "loss": 0.25}]


def test_two_slots_run_together(tmp_path):
    r = LocalRunner(limit=2)
    try:
        a = r.submit("p", jobfns.meet, (str(tmp_path / "a"), str(tmp_path / "b")))
        b = r.submit("p", jobfns.meet, (str(tmp_path / "b"), str(tmp_path / "a")))
        assert [r.wait(j, 60).status for j in (a, b)] == [FINISHED, FINISHED]
        assert len({w.proc.pid for w in r._workers}) == 2  # two worker processes
    finally:
        r.close()


def test_stop_acts_at_once_on_a_running_job_and_a_waiting_one_never_starts(runner):
    a = runner.submit("p", jobfns.spin)
    b = runner.submit("p", jobfns.spin)
    _wait_status(runner, a, RUNNING)
    runner.cancel(b)
    sb = runner.wait(b, 5)
    assert sb.status == KILLED and sb.started is None and sb.message == "stopped before it started"
    end = time.time() + 30
    while len(runner.snapshot(a).metrics.get("train", [])) < 10 and time.time() < end:
        time.sleep(0.01)
    runner.cancel(a)
    sa = runner.wait(a, 10)
    assert sa.status == KILLED and sa.message == "stopped by the user"


def test_failures_are_reported_not_raised(runner):
    s1 = runner.wait(runner.submit("p", jobfns.boom), 30)
    assert s1.status == FAILED and s1.error == "RuntimeError: disk on fire" and s1.error_type == "RuntimeError"
    s2 = runner.wait(runner.submit("p", jobfns.diverge), 30)
    assert s2.status == FAILED and s2.error == "the loss became NaN at step 37 — try a smaller learning rate"
    s3 = runner.wait(runner.submit("p", jobfns.offline), 30)
    assert s3.status == FAILED and s3.error == "mnist could not be downloaded (is this machine offline?)."
    assert s3.error_type == "DatasetUnavailable"


def test_a_stopped_outcome_makes_the_job_killed_and_keeps_the_result(runner):
    snap = runner.wait(runner.submit("p", jobfns.stopped_with_partial), 30)
    assert snap.status == KILLED and snap.result.lanes == 1


def test_old_finished_jobs_are_forgotten():
    r = LocalRunner(limit=1, keep_done=3)
    try:
        ids = [r.submit("p", jobfns.echo, i) for i in range(6)]
        for i in ids:
            r.wait(i, 30)
        r.submit("p", jobfns.echo, "last")
        assert len(r.jobs("p")) <= 4
    finally:
        r.close()


def test_a_job_is_a_function_by_name_and_plain_data(runner):
    assert job_name(jobfns.echo) == "tests.jobfns:echo"
    for fn in (lambda ctx, cfg: None, test_a_job_is_a_function_by_name_and_plain_data.__call__):
        with pytest.raises(ValueError, match="importable by name"):
            runner.submit("p", fn)
    with pytest.raises(ValueError, match="plain data"):
        runner.submit("p", jobfns.echo, threading.Lock())
    bad = runner.wait(runner.submit("p", jobfns.unpicklable_result), 30)
    assert bad.status == FAILED and "could not be sent back" in bad.error


def test_snapshots_carry_only_what_changed_since_the_cursor(runner):
    job = runner.submit("p", jobfns.images)
    end = time.time() + 30
    while runner.snapshot(job).message != "half" and time.time() < end:
        time.sleep(0.01)
    full = runner.snapshot(job)
    assert full.metrics == {"s": [{"step": 1}, {"step": 2}]} and set(full.images) == {"a"}
    assert full.cursor == Cursor({"s": 2}, 1, 0, 0)
    again = runner.snapshot(job, since=full.cursor)
    assert again.metrics == {} and again.images == {} and again.progress == 0.5
    assert runner.snapshot(job, since=Cursor({"s": 1}, 1)).metrics == {"s": [{"step": 2}]}
    runner.cancel(job)
    assert runner.wait(job, 10).status == KILLED


def test_the_apps_settings_cross_over_and_process_wide_ones_stay_in_the_worker(runner, tmp_path, monkeypatch):
    import torch

    app_threads = torch.get_num_threads()
    before = runner.wait(runner.submit("p", jobfns.threads), 30).result
    monkeypatch.setenv("DLL_DATA_DIR", str(tmp_path))
    first = runner.wait(runner.submit("p", jobfns.settings), 30)
    assert first.result["data"] == str(tmp_path) and first.result["pid"] != os.getpid()
    assert first.result["threads"] == before + 1
    assert torch.get_num_threads() == app_threads  # the job changed its own process only
    after = runner.wait(runner.submit("p", jobfns.threads), 30)
    assert after.result == before == worker_threads()  # the next job trains with the worker's threads again


def test_a_dying_worker_fails_its_job_closes_its_run_and_the_next_job_runs(own_runner, fresh_store):
    runner = own_runner
    snap = runner.wait(runner.submit("p", jobfns.tracked_die), 60)
    assert snap.status == FAILED and snap.error_type == "WorkerDied"
    assert "worker process ended unexpectedly" in snap.error
    end = time.time() + 10
    while time.time() < end:
        runs = tracking.search_runs()
        if len(runs) and runs.iloc[0]["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert runs.iloc[0]["status"] == "FAILED" and "worker process" in runs.iloc[0]["tags.dll.error"]
    assert runner.wait(runner.submit("p", jobfns.echo, "next"), 30).result == "NEXT"


def test_force_stop_kills_the_worker_and_the_run_ends_killed(own_runner, fresh_store):
    runner = own_runner
    job = runner.submit("p", jobfns.tracked_spin)
    end = time.time() + 30
    while not runner.snapshot(job).metrics.get("train") and time.time() < end:
        time.sleep(0.02)
    time.sleep(0.3)
    runner.cancel(job, force=True)
    assert runner.wait(job, 10).status == KILLED
    end = time.time() + 10
    while tracking.search_runs().iloc[0]["status"] == "RUNNING" and time.time() < end:
        time.sleep(0.1)
    assert tracking.search_runs().iloc[0]["status"] == "KILLED"


def test_when_the_app_goes_away_the_worker_ends_its_run_killed_and_exits(own_runner, fresh_store):
    r = own_runner
    job = r.submit("p", jobfns.tracked_spin)
    end = time.time() + 30
    while not r.snapshot(job).metrics.get("train") and time.time() < end:
        time.sleep(0.02)
    proc = r._workers[0].proc
    proc.stdin.close()  # what the operating system does when the app process dies
    assert proc.wait(30) == 0
    row = tracking.search_runs().iloc[0]
    assert row["status"] == "KILLED"


def test_recorder_runs_a_job_directly_and_reads_like_a_page():
    rec = Recorder("p")
    ending = run_job(jobfns.echo, rec, "abc")
    assert ending.status == FINISHED and ending.result == "ABC"
    assert rec.snapshot().metrics == {"train": [{"step": 1, "loss": 0.5}]}
    assert pickle.loads(pickle.dumps(ending)) == ending
