"""A class at once: 60 learners submit a training each through the job API to 2 queue workers, on
loopback, with the whole class set-up (PostgreSQL, the tracking server with basic-auth, Redis,
``python -m core.worker`` ×2). Prints one JSON object.

- **Correct**: every run FINISHED, owned by the learner who submitted it (``dll.owner``), with exactly
  its own number of steps in its metric history (each learner's job trains a different number),
  its learner's name in its params — none lost, none mixed.
- **Throughput**: jobs per minute through the queue against the laptop's runner (worker processes
  beside the app, :class:`core.jobs.LocalRunner` with as many slots as there are queue workers) on the
  same machine, the same jobs and the same tracking server.
- **Wait in line**: p95 of (start − submit) against the fair-share estimate — with W workers and a
  mean job time d, the k-th of N jobs submitted at once waits about ⌊k / W⌋ · d.
- **The app while the workers train**: the lab started as in class mode (``DLL_JOBS``), the Runs page
  loaded in headless Chromium again and again; p95 load time while the 60 jobs train against idle.

    PYTHONPATH=. .venv/bin/python bench/class_load.py [--learners 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


STEPS_PER_EPOCH = 512 // 64  # the toy set's size / the batch size


def learner_job(ctx, cfg):
    """One learner's training: a small MLP on a fixed toy set for ``cfg["epochs"]`` epochs, tracked."""
    import torch
    from torch import nn

    from core.experiment import train_tracked

    g = torch.Generator().manual_seed(cfg["seed"])
    x = torch.randn(512, 8, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long()
    torch.manual_seed(cfg["seed"])
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
    lane = train_tracked(ctx, "basics", {"learner": cfg["learner"], "epochs": cfg["epochs"]}, model, (x, y),
                         torch.optim.SGD(model.parameters(), lr=0.1), name="mlp", epochs=cfg["epochs"],
                         batch_size=64, run_name=f"class-load {cfg['learner']}", tags={"dll.bench": "class_load"})
    return {"run_id": lane.run_id, "status": lane.status}


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def _job():
    """:func:`learner_job` under its importable name (this file runs as ``__main__``)."""
    from bench.class_load import learner_job as job

    return job


def _submit_all(runner, users, cfgs) -> list[tuple[str, object]]:
    return [(runner.submit("bench", _job(), cfg, user=u, name="class load"), u) for u, cfg in zip(users, cfgs)]


def _wait_all(runner, jobs, timeout: float) -> list:
    end = time.time() + timeout
    snaps = []
    for job, user in jobs:
        snaps.append(runner.wait(job, max(1.0, end - time.time()), user=user))
    return snaps


def _page_loads(url: str, n: int, stop: threading.Event | None = None) -> list[float]:
    """Seconds from navigation to the Runs page's title, ``n`` times (or until ``stop``)."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import FLAGS, find_chromium

    exe = find_chromium()
    if exe is None:
        return []
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        for _ in range(n):
            if stop is not None and stop.is_set():
                break
            page = browser.new_page()
            t = time.perf_counter()
            page.goto(f"{url}/runs")
            page.get_by_role("heading", name="Runs").first.wait_for(timeout=120_000)
            out.append(time.perf_counter() - t)
            page.close()
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--page-loads", type=int, default=8)
    args = parser.parse_args()

    from core import tracking
    from core.identity import User
    from core.jobs import FINISHED, LocalRunner, QueueRunner
    from ops import services
    from tests.conftest import Server

    folder = Path(tempfile.mkdtemp(prefix="dll-class-load-"))
    result: dict = {"bench": "class_load", "machine": f"{platform.node()} · {os.cpu_count()} CPUs · no GPU",
                    "learners": args.learners, "workers": args.workers}
    users = [User(f"learner{i:02d}@school.example", f"Learner {i}") for i in range(args.learners)]
    cfgs = [{"learner": u.id, "epochs": 3 + i % 8, "seed": i} for i, u in enumerate(users)]
    teacher = User("teacher@school.example", "T", instructor=True)
    threads = max(1, (os.cpu_count() or 2) // args.workers)
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(services.postgres_server(folder / "pg", keep=False))
        ml = stack.enter_context(services.mlflow_server(folder / "tracking", pg.url))
        redis = stack.enter_context(services.redis_server(folder / "redis"))
        env = {**ml.env, "DLL_DATA_DIR": str(folder / "data"), "DLL_WORKER_THREADS": str(threads)}
        (folder / "data").mkdir()
        os.environ.update(env)
        os.environ.pop("DLL_JOBS", None)

        # the laptop's runner, the same jobs, the same tracking server (the baseline)
        local = LocalRunner(limit=args.workers)
        t0 = time.time()
        base = _wait_all(local, _submit_all(local, users, cfgs), 1800)
        local_s = time.time() - t0
        local.close()
        assert all(s.status == FINISHED for s in base), [s.error for s in base if s.status != FINISHED][:3]
        ids_local = {s.result["run_id"] for s in base}

        for i in range(args.workers):
            stack.enter_context(services.worker({**env, "DLL_JOBS": redis.url}, name=f"w{i}", log=folder / f"w{i}.log"))
        app = Server(folder / "data", env={**env, "DLL_JOBS": redis.url})
        stack.callback(app.stop)
        queue = QueueRunner(redis.url)
        queue.wait(queue.submit("bench", _job(), cfgs[0], user=teacher), 300, user=teacher)  # workers warm
        idle = _page_loads(app.url, args.page_loads)

        t0 = time.time()
        jobs = _submit_all(queue, users, cfgs)
        snaps = _wait_all(queue, jobs, 1800)
        queue_s = time.time() - t0

        # the app while the class trains: the same 60 jobs again, the Runs page loaded meanwhile
        stop = threading.Event()
        busy: list[float] = []
        again = _submit_all(queue, users, cfgs)
        watcher = threading.Thread(target=lambda: busy.extend(_page_loads(app.url, args.page_loads, stop)))
        watcher.start()
        _wait_all(queue, again, 1800)
        stop.set()
        watcher.join()

        # correctness: read back every run as the instructor
        runs = tracking.search_runs(user=teacher, filter_string="tags.`dll.bench` = 'class_load'").set_index("run_id")
        problems = []
        for (job, user), cfg, snap in zip(jobs, cfgs, snaps, strict=True):
            if snap.status != FINISHED or snap.owner != user.id:
                problems.append(f"{job}: job {snap.status} owner {snap.owner}")
                continue
            rid = snap.result["run_id"]
            run = runs.loc[rid]
            hist = tracking.metric_history(rid, "train_loss", user=user)
            if (run["status"], run["owner"], run["params.learner"]) != ("FINISHED", user.id, user.id):
                problems.append(f"{rid}: {run['status']} {run['owner']} {run['params.learner']}")
            steps = cfg["epochs"] * STEPS_PER_EPOCH
            if sorted(hist["step"].tolist()) != list(range(1, steps + 1)):
                problems.append(f"{rid}: steps {hist['step'].min()}..{hist['step'].max()} ({len(hist)}) logged, {steps} trained")
            with contextlib.suppress(Exception):
                tracking.metric_history(rid, "train_loss", user=users[(users.index(user) + 1) % len(users)])
                problems.append(f"{rid}: another learner could read it")
        waits = [s.started - s.created for s in snaps]
        durations = [s.ended - s.started for s in snaps]
        d = statistics.mean(durations)
        estimate = [(k // args.workers) * d for k in range(len(snaps))]
        result.update({
            "correct": {"runs": len(snaps), "finished_own_steps": len(snaps) - len(problems), "problems": problems[:10],
                        "local_runs_distinct": len(ids_local) == len(base)},
            "jobs_per_minute": {"queue": round(60 * len(snaps) / queue_s, 1), "local_runner": round(60 * len(base) / local_s, 1),
                                "queue_over_local": round(local_s / queue_s, 2)},
            "wait_in_line_s": {"p95": round(_p95(waits), 2), "fair_share_p95": round(_p95(estimate), 2),
                               "mean_job_s": round(d, 2), "max": round(max(waits), 2)},
            "app_page_load_s": {"idle_p95": round(_p95(idle), 2), "busy_p95": round(_p95(busy), 2),
                                "idle": [round(x, 2) for x in idle], "busy": [round(x, 2) for x in busy]},
            "worker_threads": threads,
        })
        queue.close()
    shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
