"""Background jobs: queueing behind the per-device limit, cancel, failures, live metrics."""

import threading
import time

from core.data import DatasetUnavailable
from core.jobs import FAILED, FINISHED, KILLED, QUEUED, RUNNING, JobManager
from core.training import History, TrainingCancelled, TrainingDiverged


def _wait_status(mgr, job_id, status, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        snap = mgr.snapshot(job_id)
        if snap.status == status:
            return snap
        time.sleep(0.01)
    raise AssertionError(f"{job_id} never reached {status}: {mgr.snapshot(job_id)}")


def test_limit_queues_jobs_in_order_and_reports_position():
    mgr = JobManager(limit=1)
    gate = threading.Event()
    order = []

    def work(ctx, name):
        order.append(name)
        if name == "a":
            gate.wait(5)
        ctx.push("train", step=1, loss=0.5)
        return name.upper()

    a = mgr.submit("p", work, "a")
    _wait_status(mgr, a.id, RUNNING)
    b = mgr.submit("p", work, "b")
    c = mgr.submit("q", work, "c")
    time.sleep(0.1)
    sb, sc = mgr.snapshot(b.id), mgr.snapshot(c.id)
    assert (sb.status, sb.ahead) == (QUEUED, 0)
    assert (sc.status, sc.ahead) == (QUEUED, 1)
    gate.set()
    for j in (a, b, c):
        snap = mgr.wait(j.id, 5)
        assert snap.status == FINISHED and snap.result == j.cfg.upper() and snap.progress == 1.0
        assert snap.metrics["train"] == [{"step": 1, "loss": 0.5}]
    assert order == ["a", "b", "c"]


def test_two_slots_run_together():
    mgr = JobManager(limit=2)
    both = threading.Barrier(2, timeout=5)
    jobs = [mgr.submit("p", lambda ctx, _: both.wait()) for _ in range(2)]
    assert all(mgr.wait(j.id, 5).status == FINISHED for j in jobs)


def test_cancel_running_and_queued():
    mgr = JobManager(limit=1)

    def loop(ctx, _):
        while True:
            ctx.check_cancel()
            time.sleep(0.01)

    a = mgr.submit("p", loop)
    b = mgr.submit("p", loop)
    _wait_status(mgr, a.id, RUNNING)
    mgr.cancel(b.id)
    assert mgr.wait(b.id, 5).status == KILLED and mgr.snapshot(b.id).started is None
    mgr.cancel(a.id)
    assert mgr.wait(a.id, 5).status == KILLED


def test_failures_are_reported_not_raised():
    mgr = JobManager(limit=1)

    def boom(ctx, _):
        raise RuntimeError("disk on fire")

    def diverge(ctx, _):
        raise TrainingDiverged(37, float("nan"), History())

    s1 = mgr.wait(mgr.submit("p", boom).id, 5)
    assert s1.status == FAILED and s1.error == "RuntimeError: disk on fire"
    s2 = mgr.wait(mgr.submit("p", diverge).id, 5)
    assert s2.status == FAILED and s2.error == "loss became NaN at step 37 — try a smaller learning rate"

    def offline(ctx, _):
        raise DatasetUnavailable("mnist could not be downloaded (is this machine offline?).")

    s3 = mgr.wait(mgr.submit("p", offline).id, 5)
    assert s3.status == FAILED and s3.error == "mnist could not be downloaded (is this machine offline?)."
    assert s3.error_type == "DatasetUnavailable" and s1.error_type == "RuntimeError"


def test_partial_result_kept_on_cancel():
    mgr = JobManager(limit=1)

    def stopped(ctx, _):
        exc = TrainingCancelled(History())
        exc.result = {"lanes": 1}
        raise exc

    snap = mgr.wait(mgr.submit("p", stopped).id, 5)
    assert snap.status == KILLED and snap.result == {"lanes": 1}


def test_old_finished_jobs_are_forgotten():
    mgr = JobManager(limit=1, keep_done=3)
    ids = [mgr.submit("p", lambda ctx, _: None).id for _ in range(6)]
    for i in ids:
        mgr.wait(i, 5)
    mgr.submit("p", lambda ctx, _: None)
    assert len(mgr.jobs("p")) <= 4
