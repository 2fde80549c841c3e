"""``python -m core.worker``: a training worker of the class's job queue (``DLL_JOBS=redis://…``).

Start one or more per GPU (``CUDA_VISIBLE_DEVICES=0 python -m core.worker``), on any machine that
reaches Redis and the tracking server. It is an RQ worker on the ``dll-train`` queue: each job runs
in a forked work horse (:func:`core.jobs.queue.execute`), so whatever a job sets process-wide ends
with it, and a forced Stop kills only the horse. Torch, MLflow and the engine are imported once,
before the first job. A Redis that goes away (restarted) is waited for, not a reason to exit; every
few seconds the worker also closes jobs whose own worker died (:func:`core.jobs.queue.reap`).
SIGTERM or Ctrl-C: RQ's warm shutdown (the running job finishes); a second one stops it now.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import sys
import threading
import time
import uuid


def warm_up() -> None:
    """Run one tiny tracked training here, before the first fork, into a throwaway store: every module a
    training imports (the engine, MLflow's client and store, the figure renderer) and their one-time
    set-up are then done once, and each forked job starts at once (measured in bench/class_load.py: a
    job's first import costs more than a small training itself). Torch stays on one thread here: the
    work horses set their own thread count, and a parent that never ran a thread pool forks safely."""
    import shutil
    import tempfile

    import torch
    from torch import nn

    from core.experiment import train_tracked
    from core.jobs.api import Recorder
    from core.jobs.worker import apply_env, restore_env

    torch.set_num_threads(1)
    folder = tempfile.mkdtemp(prefix="dll-worker-warm-")
    before = apply_env({"DLL_DATA_DIR": folder})  # nothing of it reaches the class's tracking server
    try:
        x = torch.randn(64, 4)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        train_tracked(Recorder(), "warm-up", {}, model, (x, (x[:, 0] > 0).long()),
                      torch.optim.SGD(model.parameters(), lr=0.1), name="warm-up", epochs=1, batch_size=32)
    except Exception as exc:  # noqa: BLE001 - a worker that could not warm up still works, only slower
        logging.getLogger("dll.worker").warning("warm-up failed (%s); jobs will load what they need", exc)
    finally:
        restore_env(before)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("DLL_JOBS", ""), help="Redis URL (default: $DLL_JOBS)")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty (for scripts)")
    args = parser.parse_args(argv)
    if not args.url.startswith(("redis://", "rediss://", "unix://")):
        parser.error("set DLL_JOBS=redis://HOST:PORT/DB (or pass --url) to say which job queue to work for")

    import redis
    from rq import Queue, Worker

    from core.jobs import queue as Q

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    log = logging.getLogger("dll.worker")
    warm_up()

    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    base = f"dll-{socket.gethostname()}-{os.getpid()}" + (f"-gpu{gpu}" if gpu else "")
    os.environ.setdefault("DLL_WORKER_NAME", base)
    conn = Q.connect(args.url)
    stop = threading.Event()

    def reaper() -> None:
        while not stop.wait(5.0):
            with contextlib.suppress(Exception):
                for job_id in Q.reap(conn):
                    log.info("closed job %s: its worker stopped", job_id)

    threading.Thread(target=reaper, name="reaper", daemon=True).start()
    log.info("%s working for %s", base, Q.where(args.url))
    try:
        while True:
            try:
                worker = Worker([Queue(Q.QUEUE, connection=conn)], connection=conn, name=f"{base}-{uuid.uuid4().hex[:6]}")
                worker.work(burst=args.burst, with_scheduler=False, logging_level="WARNING")
                return 0
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("the job queue does not answer (%s); trying again", exc)
                time.sleep(2.0)
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(main())
