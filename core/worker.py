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
    import mlflow  # noqa: F401 - loaded once here, shared by every forked job
    import torch  # noqa: F401

    import core.experiment  # noqa: F401

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
