"""Feature extraction on the Transfer learning page against a plain PyTorch loop, in one run.

Both train a new last layer on a frozen ResNet-18 for the same pictures, epochs, batches and
optimizer. The plain loop — what a learner writes first — runs the frozen body on every batch of
every epoch; the lab's job (``core.transfer.training.run_transfer``, tracked in MLflow, with its dev
evaluation and confusion matrix) runs the body once per picture and trains the head on the pooled
features. Weights are a random-init stand-in (speed does not depend on them; no download). Prints
one JSON object; target: the lab's whole job at least 3× faster than the plain loop at 8 epochs.

    PYTHONPATH=. .venv/bin/python bench/transfer_feature_extraction.py [--epochs 8] [--size 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import torch
import torchvision

from bench.fit_overhead import plain_loop
from core.data.augment import AugmentSpec
from core.device import device_info, pick_device, synchronize
from core.optimizers import Adam
from core.transfer import backbones as B
from core.transfer.data import EXAMPLE_SETS, example_set, prepare
from core.transfer.training import TransferConfig, TransferJob, run_transfer


def run_plain(state, data, epochs: int, bs: int, lr: float, seed: int, device) -> float:
    """A frozen body and a new head, the body run on every batch; returns the seconds it took."""
    model = B.build_net("ResNet-18", len(data.names), state=state, trainable_blocks=0).to(device)
    model.eval()  # frozen batch norm
    opt = Adam(model.head.parameters(), lr=lr)
    X, y = data.train[0].to(device), data.train[1].to(device)
    synchronize(device)
    t0 = time.perf_counter()
    Xd, yd = data.dev[0].to(device), data.dev[1].to(device)
    for epoch in range(epochs):
        plain_loop(model, X, y, opt, 1, bs, seed + epoch, device)
        with torch.no_grad():  # the dev accuracy a learner prints after each epoch, as the lab's job measures it
            (model(Xd).argmax(1) == yd).float().mean().item()
    synchronize(device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    os.environ.setdefault("DLL_DATA_DIR", tempfile.mkdtemp(prefix="dll-bench-"))
    device = pick_device()
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    classes = example_set(EXAMPLE_SETS[0], per_class=args.per_class)
    cfg = TransferConfig(image_size=args.size, epochs=args.epochs, batch_size=args.batch_size, from_scratch=False,
                         augment=AugmentSpec(flip=False, crop=False))
    data = prepare(classes, args.size, cfg.dev_fraction, cfg.seed)
    job = TransferJob.of(cfg, classes)  # the job's config: the pictures as plain arrays

    def run_ours() -> float:
        synchronize(device)
        t0 = time.perf_counter()
        run_transfer(None, job, state=state, device=device)
        synchronize(device)
        return time.perf_counter() - t0

    run_ours(), run_plain(state, data, 1, args.batch_size, cfg.lr, 0, device)  # warm-up
    ours, plain = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        plain.append(run_plain(state, data, args.epochs, args.batch_size, cfg.lr, 0, device))
        ours.append(run_ours())
    t_ours, t_plain = statistics.median(ours), statistics.median(plain)
    info = device_info(device)
    print(json.dumps({
        "bench": "transfer_feature_extraction",
        "device": info.name,
        "device_kind": info.kind,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "model": "ResNet-18 body frozen + new linear head",
        "data": f"{EXAMPLE_SETS[0]}, {data.sizes['train']} train / {data.sizes['dev']} dev pictures at {args.size} px",
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "ours": "run_transfer: tracked run, features computed once, head trained on them, confusion matrix",
        "plain": "frozen body run on every batch of every epoch (bench/fit_overhead.py's plain loop), dev accuracy per epoch",
        "ours_s": round(t_ours, 3),
        "plain_s": round(t_plain, 3),
        "speedup": round(t_plain / t_ours, 2),
        "target_speedup": 3.0,
        "meets_target": t_plain / t_ours >= 3.0,
    }, indent=2))


if __name__ == "__main__":
    main()
