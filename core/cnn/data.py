"""Image data for the CNNs page: a dataset made ready for a network (size, channels,
normalisation), and any photo or drawing turned into an input the same way.

:class:`InputSpec` records what a trained network expects (channels, size, the training
set's per-channel mean and standard deviation, and whether its images are light strokes
on a dark background like MNIST); :func:`image_to_input` prepares a user's image with it,
so a digit drawn in the browser or a photo of one on paper looks like the training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from core.data import load_dataset, split_dataset
from core.data.images import digit_to_mnist

DATASETS = {
    "mnist_sample": "MNIST sample: 5,000 digits, 28×28 (offline)",
    "digits": "scikit-learn digits: 1,797 digits, 8×8 shown at 28×28 (offline)",
    "mnist": "MNIST: 70,000 digits, 28×28 (download)",
    "fashion_mnist": "Fashion-MNIST: 70,000 clothing images, 28×28 (download)",
    "cifar10": "CIFAR-10: 60,000 colour photos, 32×32 (download)",
}
STROKES = {"mnist_sample", "digits", "mnist", "fashion_mnist"}  # light object on a dark background
SPLIT = (0.8, 0.2, 0.0)
UPSAMPLE = {"digits": 28}  # 8×8 is too small for LeNet's 5×5 convolutions and two poolings


@dataclass(frozen=True)
class InputSpec:
    """What a network trained on ``dataset`` takes: [channels, size, size], normalised."""

    dataset: str
    classes: tuple[str, ...]
    channels: int
    size: int
    native: int  # the dataset's own size (8 for digits)
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def strokes(self) -> bool:
        return self.dataset in STROKES

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] in [0, 1] → standardised with the training set's statistics."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x * std + mean).clamp(0, 1)


@dataclass
class ImageData:
    """Normalised train and dev tensors ([N, C, S, S] float32, [N] int64) and their spec."""

    spec: InputSpec
    train: tuple[torch.Tensor, torch.Tensor]
    dev: tuple[torch.Tensor, torch.Tensor]

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[1]), "dev": len(self.dev[1])}


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """[N, C, H, W] → [N, C, size, size] (bilinear, antialiased when shrinking)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < x.shape[-1]).clamp_(0, 1)


def prepare_images(dataset: str, *, size: int | None = None, max_train: int = 0, max_dev: int = 0,
                   seed: int = 0) -> ImageData:
    """Load ``dataset``, split it 80/20 with ``seed``, resize to ``size`` (default: the
    dataset's size, 28 for the 8×8 digits) and standardise each channel with the training
    part's mean and std. ``max_train``/``max_dev`` > 0 keep only that many examples.
    Raises :class:`core.data.DatasetUnavailable` when a download set cannot be had."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    if max_train < 0 or max_dev < 0:
        raise ValueError("the example limits must be 0 (all) or more")
    ds = load_dataset(dataset)
    split = split_dataset(ds, SPLIT, seed=seed)
    (xt, yt), (xd, yd) = split.train, split.dev
    if max_train:
        xt, yt = xt[:max_train], yt[:max_train]
    if max_dev:
        xd, yd = xd[:max_dev], yd[:max_dev]
    native = int(ds.X.shape[-1])
    size = size or UPSAMPLE.get(dataset, native)
    xt, xd = resize_batch(xt, size), resize_batch(xd, size)
    mean = xt.mean(dim=(0, 2, 3))
    std = xt.std(dim=(0, 2, 3)).clamp_min(1e-6)
    spec = InputSpec(dataset, tuple(ds.classes), int(xt.shape[1]), size, native,
                     tuple(float(v) for v in mean), tuple(float(v) for v in std))
    return ImageData(spec, (spec.normalize(xt), yt), (spec.normalize(xd), yd))


def image_to_input(image: Image.Image, spec: InputSpec) -> tuple[torch.Tensor, np.ndarray]:
    """A PIL image → (the network's input [1, C, S, S] normalised, what it sees as an
    [S, S] or [S, S, 3] array in [0, 1]). Digit-like sets get grey, light-on-dark (a dark
    drawing on white paper is inverted), cropped and centred like the training digits."""
    rgb = image.convert("RGB")
    if spec.strokes:
        gray = np.asarray(ImageOps.grayscale(rgb), np.float32) / 255
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        if np.median(border) > 0.5:  # dark ink on a light page
            gray = 1.0 - gray
        lo, hi = float(np.percentile(gray, 5)), float(gray.max())
        gray = np.clip((gray - lo) / max(hi - lo, 1e-6), 0, 1)
        if max(gray.shape) > 512:  # keep the crop quick on big photos
            k = 512 / max(gray.shape)
            gray = np.asarray(Image.fromarray((gray * 255).astype(np.uint8)).resize(
                (max(1, round(gray.shape[1] * k)), max(1, round(gray.shape[0] * k))), Image.LANCZOS), np.float32) / 255
        gray[gray < 0.15] = 0  # paper grain and shadows are not ink
        # MNIST's recipe (crop, scale into 20 of 28 pixels, centre of mass in the middle); the 8×8
        # digits fill their frame, so for them the crop fills the whole image
        arr = digit_to_mnist(gray, size=spec.native, box=spec.native if spec.native < 20 else None)
        x = torch.from_numpy(arr)[None, None]
        x = x.repeat(1, spec.channels, 1, 1)
    else:
        arr = np.asarray(ImageOps.fit(rgb, (spec.native, spec.native), Image.LANCZOS), np.float32) / 255
        x = torch.from_numpy(arr).permute(2, 0, 1)[None]
        if spec.channels == 1:
            x = x.mean(1, keepdim=True)
    x = resize_batch(x, spec.size)
    seen = x[0, 0].numpy() if spec.channels == 1 else x[0].permute(1, 2, 0).numpy()
    return spec.normalize(x), seen
