"""Benchmark: five optimizers × 1,000 steps on one loss surface, against plain PyTorch.

Run from the repository root::

    PYTHONPATH=. .venv/bin/python bench/trajectories.py

Prints one JSON object. "ours" is ``core.optimizers.surfaces.run_trajectories`` (the
course's rules, analytic gradient). "baseline" is the plain-PyTorch way to draw the same
paths: the five built-in ``torch.optim`` counterparts (SGD, SGD with momentum and
dampening, Adagrad, RMSprop, Adam) with the loss computed in torch and the gradient from
autograd on a 2-element float64 tensor, positions recorded every step. Both are timed
best-of-5 in the same process.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable

import torch

from core.optimizers.rules import OPTIMIZERS
from core.optimizers.surfaces import SURFACES, TrajectoryConfig, run_trajectories

SURFACE = "Rosenbrock"
STEPS = 1000
LR = 1e-3
REPEATS = 5
TARGET_S = 0.3

# Plain torch.optim counterparts of the course's rules (ε placement and momentum
# dampening differ slightly; the work per step is the same).
BASELINES: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "Gradient descent": lambda ps: torch.optim.SGD(ps, lr=LR),
    "Momentum": lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9, dampening=0.9),
    "Adagrad": lambda ps: torch.optim.Adagrad(ps, lr=LR, eps=1e-8),
    "RMSprop": lambda ps: torch.optim.RMSprop(ps, lr=LR, alpha=0.9, eps=1e-8),
    "Adam": lambda ps: torch.optim.Adam(ps, lr=LR, betas=(0.9, 0.999), eps=1e-8),
}


def baseline_run() -> dict[str, list[list[float]]]:
    """Plain PyTorch: autograd through f, built-in optimizers, record (x, y) each step."""
    surface = SURFACES[SURFACE]
    paths: dict[str, list[list[float]]] = {}
    for name, build in BASELINES.items():
        theta = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)  # (2,)
        optimizer = build([theta])
        path = [theta.tolist()]
        for _ in range(STEPS):
            optimizer.zero_grad()
            loss = surface.f(theta[0], theta[1])
            loss.backward()
            optimizer.step()
            path.append(theta.tolist())
        paths[name] = path
    return paths


def ours_run() -> None:
    """The lab's engine on the same surface, steps and learning rate."""
    cfg = TrajectoryConfig(SURFACE, tuple(OPTIMIZERS), lr=LR, steps=STEPS)
    run_trajectories(cfg)


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Best wall time in seconds over ``repeats`` calls, after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    ours_s = best_of(ours_run)
    baseline_s = best_of(baseline_run)
    result = {
        "benchmark": "loss-surface trajectories",
        "surface": SURFACE,
        "steps": STEPS,
        "optimizers": list(OPTIMIZERS),
        "lr": LR,
        "repeats": REPEATS,
        "ours_s": round(ours_s, 4),
        "baseline": "torch.optim built-ins + autograd, 2-element float64 tensor",
        "baseline_s": round(baseline_s, 4),
        "speedup_vs_baseline": round(baseline_s / ours_s, 2),
        "target_s": TARGET_S,
        "meets_target": ours_s < TARGET_S,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cpu",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
