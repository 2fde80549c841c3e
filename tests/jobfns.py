"""Job functions for the runner's tests: importable by name, as every job must be (they run in a worker process)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from core.jobs import Outcome
from core.training import History, TrainingDiverged


def echo(ctx, cfg):
    """Pushes a row and returns its config in capitals."""
    ctx.push("train", step=1, loss=0.5)
    return str(cfg).upper()


def wait_for_file(ctx, path):
    """Runs (checking Stop) until the file ``path`` exists; returns its text."""
    while not Path(path).exists():
        ctx.check_cancel()
        time.sleep(0.005)
    ctx.push("train", step=1, loss=0.25)
    return Path(path).read_text()


def spin(ctx, _):
    """Runs until stopped, reporting steps."""
    step = 0
    while True:
        ctx.check_cancel()
        step += 1
        ctx.push("train", step=step, loss=1.0 / step)
        time.sleep(0.002)


def boom(ctx, _):
    raise RuntimeError("disk on fire")


def diverge(ctx, _):
    raise TrainingDiverged(37, float("nan"), History())


def offline(ctx, _):
    from core.data import DatasetUnavailable

    raise DatasetUnavailable("mnist could not be downloaded (is this machine offline?).")


class Partial(Outcome):
    def __init__(self, lanes: int) -> None:
        self.lanes, self.stopped = lanes, True


def stopped_with_partial(ctx, _):
    return Partial(1)


def settings(ctx, _):
    """What the worker sees of the app's settings and of process-wide state."""
    torch.set_num_threads(torch.get_num_threads() + 1)  # a process-wide change no other job may inherit
    return {"data": os.environ.get("DLL_DATA_DIR"), "pid": os.getpid(), "threads": torch.get_num_threads()}


def threads(ctx, _):
    return torch.get_num_threads()


def die(ctx, _):
    """The worker process dies in the middle of a job (as when killed or out of memory)."""
    ctx.push("train", step=1, loss=1.0)
    time.sleep(0.3)
    os._exit(9)


def unpicklable_result(ctx, _):
    return lambda: None


def meet(ctx, paths):
    """Touches ``paths[0]``, then waits for ``paths[1]``: two of these finish only if they run at the same time."""
    mine, other = paths
    Path(mine).touch()
    end = time.time() + 20
    while not Path(other).exists():
        if time.time() > end:
            raise TimeoutError("the other job never ran beside this one")
        time.sleep(0.005)
    return "met"


def tracked_spin(ctx, _):
    """A tracked run that logs until Stop (it then ends KILLED)."""
    from core import tracking

    with tracking.start_run("demo", {"kind": "spin"}, run_name="spin") as run:
        step = 0
        while True:
            ctx.check_cancel()
            step += 1
            run.log_metrics({"loss": 1.0 / step}, step)
            ctx.push("train", step=step, loss=1.0 / step)
            time.sleep(0.01)


def tracked_die(ctx, _):
    """Opens a tracked run, then the worker dies with it open."""
    from core import tracking

    run = tracking.start_run("demo", {"kind": "die"}, run_name="dies")
    run.log_metrics({"loss": 1.0}, 1)
    end = time.time() + 10
    while run.run_id is None and time.time() < end:
        time.sleep(0.01)
    time.sleep(0.5)  # the run's id reaches the app with the next batch of events
    os._exit(9)


def images(ctx, _):
    """Two image versions and rows, then waits for Stop."""
    import numpy as np

    ctx.image("a", np.zeros((2, 2)))
    ctx.push("s", step=1)
    ctx.push("s", step=2)
    ctx.report(0.5, "half")
    while True:
        ctx.check_cancel()
        time.sleep(0.005)


def stubborn(ctx, seconds):
    """One long step that never looks at Stop (as a training stuck in a huge batch would)."""
    ctx.push("train", step=1, loss=1.0)
    time.sleep(seconds)
    return "done"
