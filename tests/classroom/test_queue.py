"""The class's job queue: RQ over a real Redis on loopback, real ``python -m core.worker`` processes,
the same job API as the laptop's runner — and its faults: a worker killed mid-training, Redis
restarted, Redis that lost its data or does not answer, the app restarted."""

from __future__ import annotations

import time

import pytest

from core import tracking
from core.identity import NotYours, User
from core.jobs import FAILED, FINISHED, KILLED, QUEUED, RUNNING, JobRefused, QueueRunner
from core.jobs import queue as Q
from ops import services
from tests import jobfns

ANN = User("ann@school.edu", "Ann")
BOB = User("bob@school.edu", "Bob")
CAT = User("cat@school.edu", "Cat")
TEACHER = User("teacher@school.edu", "T", instructor=True)


@pytest.fixture
def redis(redis_service):
    redis_service.start()  # an earlier test may have stopped it
    conn = Q.connect(redis_service.url)
    conn.flushdb()
    yield redis_service
    conn.flushdb()


@pytest.fixture
def runner(redis, monkeypatch):
    monkeypatch.delenv("DLL_JOB_LIMITS", raising=False)
    r = QueueRunner(redis.url)
    yield r
    r.close()


@pytest.fixture
def worker(redis, tmp_path):
    """One worker for the test (stopped, or killed when it is still busy, at the end)."""
    made = []

    def start(name: str = "w") -> services.Worker:
        w = services.worker({"DLL_JOBS": redis.url}, name=f"{name}{len(made)}", log=tmp_path / f"{name}{len(made)}.log")
        made.append(w)
        return w

    yield start
    for w in made:
        w.kill()


def running(runner: QueueRunner, job: str, user: User, timeout: float = 60) -> None:
    """Wait until the job has started and reported a row (so a worker really has it)."""
    end = time.time() + timeout
    while time.time() < end:
        snap = runner.snapshot(job, user=user)
        if snap.status == RUNNING and snap.metrics.get("train"):
            return
        assert snap.status in (QUEUED, RUNNING), snap
        time.sleep(0.1)
    raise AssertionError(f"{job} never started")


def test_a_job_runs_on_a_worker_and_belongs_to_its_learner(runner, worker, fresh_store):
    worker()
    job = runner.submit("demo", jobfns.echo, "hi", user=ANN)
    snap = runner.wait(job, 90, user=ANN)
    assert (snap.status, snap.result, snap.owner) == (FINISHED, "HI", ANN.id)
    assert snap.metrics == {"train": [{"step": 1.0, "loss": 0.5}]}
    with pytest.raises(NotYours):
        runner.snapshot(job, user=BOB)
    with pytest.raises(NotYours):
        runner.cancel(job, user=BOB)
    assert runner.jobs(user=BOB) == []
    assert [j.id for j in runner.jobs(user=ANN)] == [job]
    assert runner.snapshot(job, user=TEACHER).status == FINISHED


def test_stop_through_the_queue_ends_the_run_killed_with_its_steps(runner, worker, fresh_store):
    worker()
    job = runner.submit("demo", jobfns.tracked_spin, None, user=ANN)
    running(runner, job, ANN)
    runner.cancel(job, user=ANN)
    snap = runner.wait(job, 30, user=ANN)
    assert snap.status == KILLED
    steps = len(snap.metrics["train"])
    run = tracking.search_runs(user=ANN).iloc[0]
    assert run["status"] == "KILLED" and run["owner"] == ANN.id
    logged = tracking.metric_history(run["run_id"], "loss", user=ANN)
    assert len(logged) >= steps - 1 and logged["step"].tolist() == list(range(1, len(logged) + 1))


def test_live_rows_come_in_order_and_only_once_through_the_cursor(runner, worker, fresh_store):
    worker()
    job = runner.submit("demo", jobfns.spin, None, user=ANN)
    seen, cursor = [], None
    end = time.time() + 60
    while len(seen) < 200 and time.time() < end:
        snap = runner.snapshot(job, since=cursor, user=ANN)
        seen += snap.metrics.get("train", [])
        cursor = snap.cursor
        time.sleep(0.05)
    runner.cancel(job, user=ANN)
    runner.wait(job, 30, user=ANN)
    seen += runner.snapshot(job, since=cursor, user=ANN).metrics.get("train", [])
    assert [r["step"] for r in seen] == list(range(1, len(seen) + 1)) and len(seen) >= 200


def test_each_learner_has_one_running_and_one_waiting_job_and_a_place_in_line(runner, worker, fresh_store, tmp_path):
    gate = tmp_path / "gate"
    a1 = runner.submit("demo", jobfns.wait_for_file, str(gate), user=ANN)
    a2 = runner.submit("demo", jobfns.echo, "a2", user=ANN)
    with pytest.raises(JobRefused, match="1 running, 1 waiting"):
        runner.submit("demo", jobfns.echo, "a3", user=ANN)
    b1 = runner.submit("demo", jobfns.echo, "b1", user=BOB)
    # no worker yet: Ann's first and Bob's job are on the queue, Ann's second waits behind her own
    assert runner.snapshot(a1, user=ANN).ahead == 0
    assert runner.snapshot(b1, user=BOB).ahead == 1
    assert runner.snapshot(a2, user=ANN).ahead == 2
    worker()
    end = time.time() + 90
    while runner.snapshot(a1, user=ANN).status != RUNNING and time.time() < end:
        time.sleep(0.1)
    gate.write_text("go")
    for job, user in ((a1, ANN), (b1, BOB), (a2, ANN)):
        assert runner.wait(job, 60, user=user).status == FINISHED
    started = {j: runner.snapshot(j, user=TEACHER).started for j in (a1, a2, b1)}
    assert started[a1] < started[b1] < started[a2]  # Bob did not wait behind Ann's second job
    runner.submit("demo", jobfns.echo, "a3", user=ANN)  # her jobs ended: she may queue again


def test_limits_come_from_the_setting(monkeypatch):
    monkeypatch.setenv("DLL_JOB_LIMITS", "running=2,waiting=0")
    assert Q.limits() == (2, 0)
    for bad in ("running=0", "runing=1", "running=x"):
        with pytest.raises(ValueError):
            Q.limits(bad)


def test_stopping_a_waiting_job_frees_its_place(runner, fresh_store):
    a1 = runner.submit("demo", jobfns.echo, 1, user=ANN)
    a2 = runner.submit("demo", jobfns.echo, 2, user=ANN)
    runner.cancel(a2, user=ANN)
    assert runner.snapshot(a2, user=ANN).status == KILLED
    runner.cancel(a1, user=TEACHER)  # an instructor may stop any job
    assert runner.snapshot(a1, user=ANN).status == KILLED
    runner.submit("demo", jobfns.echo, 3, user=ANN)
    runner.submit("demo", jobfns.echo, 4, user=ANN)


def test_a_killed_worker_fails_its_job_and_run_within_a_minute(runner, worker, fresh_store):
    w = worker()
    job = runner.submit("demo", jobfns.tracked_spin, None, user=ANN)
    running(runner, job, ANN)
    time.sleep(1.5)  # the run's id reaches Redis with the next batch
    w.kill()
    killed = time.time()
    while runner.snapshot(job, user=ANN).status == RUNNING and time.time() - killed < 60:
        time.sleep(0.5)
    snap = runner.snapshot(job, user=ANN)
    assert snap.status == FAILED and "the worker stopped" in snap.error, snap
    assert time.time() - killed < 60
    run = tracking.search_runs(user=ANN).iloc[0]
    assert run["status"] == "FAILED" and "the worker stopped" in run[f"tags.{tracking.TAG_ERROR}"]
    assert len(tracking.metric_history(run["run_id"], "loss", user=ANN)) > 0  # what it had tracked is kept
    # the next job gets a fresh worker and runs
    worker()
    assert runner.wait(runner.submit("demo", jobfns.echo, "x", user=ANN), 90, user=ANN).status == FINISHED


def test_a_forced_stop_kills_the_work_horse_and_ends_killed(runner, worker, fresh_store):
    worker()
    job = runner.submit("demo", jobfns.tracked_spin, None, user=ANN)
    running(runner, job, ANN)
    time.sleep(1.5)
    runner.cancel(job, force=True, user=ANN)
    snap = runner.wait(job, 60, user=ANN)
    assert snap.status == KILLED
    assert tracking.search_runs(user=ANN).iloc[0]["status"] == "KILLED"
    # the worker survived its horse: it takes the next job
    assert runner.wait(runner.submit("demo", jobfns.echo, "x", user=ANN), 60, user=ANN).status == FINISHED


def test_redis_restarted_loses_no_job(runner, worker, redis, fresh_store, tmp_path):
    gate = tmp_path / "gate"
    worker()
    first = runner.submit("demo", jobfns.wait_for_file, str(gate), user=ANN)
    waiting = runner.submit("demo", jobfns.echo, "after", user=BOB)
    end = time.time() + 90
    while runner.snapshot(first, user=ANN).status != RUNNING and time.time() < end:
        time.sleep(0.1)
    redis.stop()
    with pytest.raises(JobRefused, match="cannot be reached"):
        runner.submit("demo", jobfns.echo, "x", user=CAT)
    redis.start()
    gate.write_text("done")
    assert runner.wait(first, 90, user=ANN).status == FINISHED
    snap = runner.wait(waiting, 90, user=BOB)
    assert (snap.status, snap.result) == (FINISHED, "AFTER")


def test_a_job_that_redis_lost_is_shown_failed_with_the_reason(runner, redis, fresh_store):
    job = runner.submit("demo", jobfns.echo, "x", user=ANN)
    Q.connect(redis.url).flushdb()  # Redis restarted without its data
    snap = runner.snapshot(job, user=ANN)
    assert snap.status == FAILED and "lost this job" in snap.error
    with pytest.raises(NotYours):
        runner.snapshot(job, user=BOB)


def test_after_an_app_restart_running_jobs_reappear_for_their_owner(runner, worker, redis, fresh_store):
    worker()
    job = runner.submit("demo", jobfns.spin, None, user=ANN)
    running(runner, job, ANN)
    fresh = QueueRunner(redis.url)  # a new app process: it knows nothing of its own
    mine = [j for j in fresh.jobs("demo", user=ANN) if not j.done]
    assert [j.id for j in mine] == [job] and fresh.jobs("demo", user=BOB) == []
    snap = fresh.snapshot(job, user=ANN)
    assert snap.status == RUNNING and len(snap.metrics["train"]) > 0
    fresh.cancel(job, user=ANN)
    assert fresh.wait(job, 30, user=ANN).status == KILLED
