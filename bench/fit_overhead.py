"""fit() with per-step tracking against a plain hand-written PyTorch loop, in one run.

Same model, initial weights, data (kept on the device), batches and optimizer. Prints one
JSON object; target: our throughput ≥ 0.95 × the plain loop's.

    PYTHONPATH=. .venv/bin/python bench/fit_overhead.py [--epochs 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

from core.data import load_dataset
from core.device import device_info, pick_device, synchronize
from core.training import fit


def plain_loop(model, X, y, opt, epochs, bs, seed, device):
    """What a learner would write: shuffle, forward, loss, backward, step, record the loss."""
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen).to(device)
        for i in range(0, len(y), bs):
            idx = order[i : i + bs]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()

    os.environ.setdefault("DLL_DATA_DIR", tempfile.mkdtemp(prefix="dll-bench-"))
    device = pick_device()
    ds = load_dataset("mnist_sample")
    X, y = ds.X.view(len(ds), -1).to(device), ds.y.to(device)
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))

    from core.experiment import LiveMetrics

    if importlib.util.find_spec("mlflow") is not None:
        from core import tracking

        tracking_note = f"per-step train_loss logged to MLflow ({tracking.tracking_uri()})"
    else:  # e.g. a lent GPU machine without mlflow: the same callback, feeding no run
        tracking, tracking_note = None, "tracking off: mlflow is not installed here (per-step callback still runs)"

    def run_ours() -> float:
        model = copy.deepcopy(base).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        run = tracking.start_run("bench", {"bench": "fit_overhead"}) if tracking else None
        callbacks = [LiveMetrics(None, run)]
        synchronize(device)
        t0 = time.perf_counter()
        fit(model, (X, y), opt, epochs=args.epochs, batch_size=args.batch_size, callbacks=callbacks,
            device=device, seed=0, amp=False)
        synchronize(device)
        dt = time.perf_counter() - t0
        if run is not None:
            run.end("FINISHED")
        return dt

    def run_plain() -> float:
        model = copy.deepcopy(base).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        synchronize(device)
        t0 = time.perf_counter()
        plain_loop(model, X, y, opt, args.epochs, args.batch_size, 0, device)
        synchronize(device)
        return time.perf_counter() - t0

    run_plain(), run_ours()  # warm-up (allocator, kernels, store creation)
    ours, plain = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        plain.append(run_plain())
        ours.append(run_ours())
    samples = args.epochs * len(y)
    t_ours, t_plain = statistics.median(ours), statistics.median(plain)
    ratio = (samples / t_ours) / (samples / t_plain)
    info = device_info(device)
    print(json.dumps({
        "bench": "fit_overhead",
        "device": info.name,
        "device_kind": info.kind,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "model": "MLP 784-256-256-10",
        "data": f"mnist_sample, {len(y)} examples on the device",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "tracking": tracking_note,
        "ours_s": round(t_ours, 4),
        "plain_s": round(t_plain, 4),
        "ours_samples_per_s": round(samples / t_ours, 1),
        "plain_samples_per_s": round(samples / t_plain, 1),
        "throughput_ratio": round(ratio, 4),
        "target_ratio": 0.95,
        "meets_target": ratio >= 0.95,
    }, indent=2))


if __name__ == "__main__":
    main()
