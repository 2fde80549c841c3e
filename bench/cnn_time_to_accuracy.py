"""Time for LeNet-5 to reach a dev accuracy on the offline MNIST sample: the lab's training
path against a plain DataLoader-based PyTorch loop, in one run. Prints one JSON object.

Both train the same LeNet-5 (same initial weights, ReLU), with the same optimizer and
hyper-parameters on the same 4,000/1,000 split, and check the dev accuracy after every
epoch; the clock runs from the raw images to the first epoch at or above the target.

- ours: :func:`core.cnn.data.prepare_images` once (the whole set as tensors on the device,
  standardised once) and :func:`core.training.fit` (index batches, losses read back every
  25 steps, one evaluation pass over the dev tensor); on a GPU also channels-last and bf16
  (:func:`core.cnn.training.use_fast_path`).
- baseline: what the tutorials do — a ``Dataset`` of uint8 images whose ``__getitem__``
  applies ``ToTensor`` and ``Normalize`` to one PIL image, a ``DataLoader`` (its sampler
  replays fit()'s shuffle, so both paths train on the same batches in the same order),
  ``loss.item()`` every step, and a ``DataLoader`` over the dev set for evaluation.

Each path runs ``--repeats`` times (seeds 0, 1, …: initial weights and shuffling); the
medians are compared. Target: ours ≥ 2× faster to the target on a CPU.

    PYTHONPATH=. .venv/bin/python bench/cnn_time_to_accuracy.py [--target 0.97] [--max-epochs 30]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def baseline(model, images: np.ndarray, labels: np.ndarray, dev_idx, train_idx, args, device) -> dict:
    """A plain torchvision-style pipeline: per-item transforms and DataLoaders."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset, Sampler
    from torchvision import transforms

    class Digits(Dataset):
        def __init__(self, idx, tf):
            self.idx, self.tf = idx, tf

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = self.idx[i]
            return self.tf(Image.fromarray(images[j], mode="L")), int(labels[j])

    t0 = time.perf_counter()
    mean = images[train_idx].mean() / 255
    std = images[train_idx].std() / 255
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    class SameOrder(Sampler):
        """Shuffles each epoch exactly as fit() does for ours, so both paths see the same batches
        and need (almost) the same epochs: the comparison measures the path, not the luck."""

        def __init__(self, n: int) -> None:
            self.n, self.epoch = n, 0

        def __len__(self) -> int:
            return self.n

        def __iter__(self):
            self.epoch += 1
            gen = torch.Generator().manual_seed(1000 * args.seed + self.epoch)
            return iter(torch.randperm(self.n, generator=gen).tolist())

    train = DataLoader(Digits(train_idx, tf), batch_size=args.batch_size, sampler=SameOrder(len(train_idx)))
    dev = DataLoader(Digits(dev_idx, tf), batch_size=256)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    curve = []
    for epoch in range(1, args.max_epochs + 1):
        model.train()
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()  # the usual running-loss bookkeeping (a device sync on a GPU)
        model.eval()
        correct = 0
        with torch.no_grad():
            for xb, yb in dev:
                correct += (model(xb.to(device)).argmax(1).cpu() == yb).sum().item()
        acc = correct / len(dev_idx)
        curve.append((epoch, time.perf_counter() - t0, acc))
        if acc >= args.target:
            break
    return _summary(curve, args.target)


def ours(model, args, device) -> dict:
    """The lab's path, as the CNNs page trains (prepare once, then fit epoch by epoch)."""
    from core.cnn.data import prepare_images
    from core.cnn.training import use_fast_path
    from core.device import synchronize
    from core.training import evaluate, fit

    t0 = time.perf_counter()
    data = prepare_images("mnist_sample", seed=0)
    model = model.to(device)
    xt, xd = data.train[0].to(device), data.dev[0].to(device)
    model, xt = use_fast_path(model, xt, device)
    xd = xd.contiguous(memory_format=torch.channels_last)
    yt, yd = data.train[1].to(device), data.dev[1].to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    curve = []
    for epoch in range(1, args.max_epochs + 1):
        fit(model, (xt, yt), opt, epochs=1, batch_size=args.batch_size, device=device, seed=1000 * args.seed + epoch)
        acc = evaluate(model, xd, yd)["accuracy"]
        synchronize(device)
        curve.append((epoch, time.perf_counter() - t0, acc))
        if acc >= args.target:
            break
    return _summary(curve, args.target)


def _summary(curve, target) -> dict:
    hit = next((c for c in curve if c[2] >= target), None)
    return {
        "reached": hit is not None,
        "epochs": hit[0] if hit else None,
        "seconds_to_target": round(hit[1], 3) if hit else None,
        "seconds_per_epoch": round(curve[-1][1] / curve[-1][0], 4),
        "best_dev_accuracy": round(max(c[2] for c in curve), 4),
    }


def _median(runs: list[dict]) -> dict:
    """Medians over the repeats (seconds to target only over runs that reached it)."""
    hit = [r["seconds_to_target"] for r in runs if r["reached"]]
    return {
        "reached": f"{len(hit)} of {len(runs)}",
        "seconds_to_target": round(statistics.median(hit), 3) if hit else None,
        "epochs": [r["epochs"] for r in runs],
        "seconds_per_epoch": round(statistics.median(r["seconds_per_epoch"] for r in runs), 4),
        "best_dev_accuracy": [r["best_dev_accuracy"] for r in runs],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=0.97)
    ap.add_argument("--max-epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    os.environ.setdefault("DLL_DATA_DIR", tempfile.mkdtemp(prefix="dll-bench-"))
    from core.cnn import models
    from core.data import load_dataset, split_dataset
    from core.device import device_info, pick_device

    device = pick_device()
    ds = load_dataset("mnist_sample")
    images = (ds.X[:, 0].numpy() * 255).round().astype(np.uint8)  # the raw 28×28 images
    labels = ds.y.numpy()
    # the same split as prepare_images: shuffle the indices with the same seed
    idx = torch.arange(len(ds))
    split = split_dataset(type(ds)(ds.name, idx.view(-1, 1).float(), ds.y, ds.classes, ds.kind), (0.8, 0.2, 0.0), seed=0)
    train_idx, dev_idx = split.train[0].view(-1).long().numpy(), split.dev[0].view(-1).long().numpy()
    runs: dict[str, list[dict]] = {"ours": [], "baseline": []}
    for seed in range(args.repeats):  # the epochs needed vary with the seed: take medians
        args.seed = seed
        torch.manual_seed(seed)
        base = models.lenet5(in_channels=1, n_classes=10, input_size=28, activation="relu")
        runs["ours"].append(ours(copy.deepcopy(base), args, device))
        runs["baseline"].append(baseline(copy.deepcopy(base), images, labels, dev_idx, train_idx, args, device))
    results = {k: _median(v) for k, v in runs.items()}
    a, b = results["ours"]["seconds_to_target"], results["baseline"]["seconds_to_target"]
    out = {
        "bench": "cnn_time_to_accuracy",
        "model": "LeNet-5 (ReLU), Adam",
        "data": "mnist_sample, 4,000 train / 1,000 dev",
        "target_dev_accuracy": args.target,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "device": device_info(device).label,
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "ours": results["ours"],
        "baseline": results["baseline"],
        "repeats": args.repeats,
        "speedup_to_target": round(b / a, 2) if a and b else None,
        "speedup_per_epoch": round(results["baseline"]["seconds_per_epoch"] / results["ours"]["seconds_per_epoch"], 2),
        "target_speedup": 2.0,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
