"""The GAN's training images: digits (or clothing) at 28×28, scaled to G's tanh range [−1, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["GAN_DATASETS", "GanData", "load_gan_data"]

GAN_DATASETS = {
    "mnist_sample": "MNIST sample: 5,000 digits, 28×28 (offline)",
    "digits": "scikit-learn digits: 1,797 digits, 8×8 shown at 28×28 (offline)",
    "mnist": "MNIST: 70,000 digits, 28×28 (download)",
    "fashion_mnist": "Fashion-MNIST: 70,000 clothing images, 28×28 (download)",
}


@dataclass
class GanData:
    """Training images in [−1, 1] [N, 1, 28, 28] with labels, and the held-out 20 % (real images for the
    Fréchet distance)."""

    train: tuple[torch.Tensor, torch.Tensor]
    dev: tuple[torch.Tensor, torch.Tensor]
    classes: tuple[str, ...]


def load_gan_data(dataset: str, *, max_train: int = 0, seed: int = 0) -> GanData:
    """``dataset`` through :func:`core.cnn.data.prepare_images` (the same 80/20 split as the digit
    classifier), undone to [0, 1] and scaled to [−1, 1] (G's tanh range)."""
    from core.cnn.data import prepare_images

    if dataset not in GAN_DATASETS:
        raise ValueError(f"the dataset must be one of {', '.join(GAN_DATASETS)}, got {dataset!r}")
    data = prepare_images(dataset, size=28, max_train=max_train, seed=seed)
    spec = data.spec

    def to_pm1(x: torch.Tensor) -> torch.Tensor:
        return spec.denormalize(x) * 2 - 1

    return GanData((to_pm1(data.train[0]), data.train[1]), (to_pm1(data.dev[0]), data.dev[1]), spec.classes)
