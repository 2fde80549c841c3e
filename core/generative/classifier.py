"""Measuring a generator with a digit classifier: which classes its samples look like (class
coverage) and how far their features lie from real digits' (the Fréchet distance).

The classifier is a small CNN trained once per dataset and seed with the lab's own
:func:`core.experiment.train_tracked` (a tracked run in the ``generative`` experiment); its
weights are kept under the data folder and in memory, so later GAN runs reuse it.

The Fréchet distance between two Gaussians N(μ_r, Σ_r) and N(μ_g, Σ_g) fitted to features
(Dowson & Landau, 1982; used on Inception features as the "FID" by Heusel et al., 2017,
"GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium")::

    FD = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2 (Σ_r Σ_g)^{1/2})

Here the features are the classifier's penultimate layer, so the numbers are comparable between
runs on the same dataset only (not with published FIDs).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = [
    "Coverage",
    "DigitClassifier",
    "DigitNet",
    "class_coverage",
    "digit_classifier",
    "frechet_distance",
    "gaussian_stats",
]

FEATURES = 128
_lock = threading.Lock()
_CACHE: dict[tuple[str, int], DigitClassifier] = {}  # per process


class DigitNet(nn.Module):
    """A small CNN for 28×28 grey images: two 3×3 conv–ReLU–max-pool blocks (16 and 32 channels),
    a 128-unit ReLU layer (the features) and the class scores."""

    def __init__(self, n_classes: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14×14
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 7×7
            nn.Flatten(), nn.Linear(32 * 7 * 7, FEATURES), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # (B, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@dataclass
class DigitClassifier:
    """A trained :class:`DigitNet` with its input normalisation; takes GAN images in [−1, 1]."""

    net: DigitNet
    mean: float
    std: float
    accuracy: float  # on the held-out 20 %
    run_id: str | None = None

    @torch.no_grad()
    def _apply(self, images: torch.Tensor, fn, batch: int = 1000) -> torch.Tensor:
        self.net.eval()
        out = []
        for i in range(0, len(images), batch):
            x = (images[i : i + batch].float().cpu() + 1) / 2  # [−1, 1] → [0, 1]
            out.append(fn((x - self.mean) / self.std))
        return torch.cat(out)

    def features(self, images: torch.Tensor) -> np.ndarray:
        """Penultimate-layer features [N, 128] of images [N, 1, 28, 28] in [−1, 1]."""
        return self._apply(images, self.net.features).double().numpy()

    def predict(self, images: torch.Tensor) -> np.ndarray:
        """Predicted class [N] of images in [−1, 1]."""
        return self._apply(images, lambda x: self.net(x).argmax(1)).numpy()


def digit_classifier(dataset: str = "mnist_sample", seed: int = 0, ctx=None) -> DigitClassifier | None:
    """The classifier for ``dataset`` (trained on its 80 % training split with ``seed``): from memory
    (per process: a job's worker keeps it for its later jobs), else from the data folder, else trained
    now as a tracked run (a few seconds on a CPU). ``None`` when Stop was pressed while it trained
    (its run ends KILLED; nothing is kept)."""
    with _lock:  # ctx only feeds the live view of the one training; the cache is keyed on (dataset, seed)
        key = (dataset, int(seed))
        if key not in _CACHE:
            clf = _load_or_train(dataset, int(seed), ctx)
            if clf is None:
                return None
            _CACHE[key] = clf
        return _CACHE[key]


def _load_or_train(dataset: str, seed: int, ctx) -> DigitClassifier | None:
    from core import tracking
    from core.cnn.data import prepare_images
    from core.data import data_dir
    from core.experiment import LaneSlot, train_tracked
    from core.training import evaluate

    data = prepare_images(dataset, size=28, seed=seed)
    spec = data.spec
    mean, std = float(spec.mean[0]), float(spec.std[0])
    path = data_dir() / "generative" / f"classifier_{dataset}_{seed}.pt"
    net = DigitNet(len(spec.classes), spec.channels)
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            net.load_state_dict(saved["state"])
            return DigitClassifier(net.eval(), mean, std, float(saved["accuracy"]))
        except Exception as exc:  # noqa: BLE001 - a stale or broken file: train again, and say so
            if ctx is not None:
                ctx.warn(f"The saved digit classifier could not be read ({type(exc).__name__}); training it again.")
    torch.manual_seed(seed)
    params = {"what": "digit classifier for GAN metrics", "dataset": dataset, "seed": seed, "epochs": 3,
              "batch_size": 128, "lr": 2e-3}
    # the progress bar stays at 0 while it trains: it belongs to the GAN that needs the classifier
    lane = train_tracked(LaneSlot(ctx, span=(0.0, 0.0)), "generative", params, net, data.train,
                         torch.optim.Adam(net.parameters(), lr=2e-3), name="classifier", dev=data.dev, epochs=3,
                         batch_size=128, seed=seed, run_name=f"digit classifier ({dataset})",
                         tags={tracking.TAG_KIND: "classifier"}, device=torch.device("cpu"))
    if lane.stopped:
        return None
    net.cpu().eval()
    acc = lane.dev_accuracy if lane.dev_accuracy is not None else evaluate(net, *data.dev)["accuracy"]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state": net.state_dict(), "accuracy": float(acc)}, path)
    return DigitClassifier(net, mean, std, float(acc), lane.run_id)


# ------------------------------------------------------------------------------------------ measures


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(μ [D], Σ [D, D]) of features [N, D] (Σ with the unbiased 1/(N − 1))."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need features [N ≥ 2, D], got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((a + a.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu_r: np.ndarray, sigma_r: np.ndarray, mu_g: np.ndarray, sigma_g: np.ndarray) -> float:
    """FD = ‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2(Σ_r Σ_g)^{1/2}) between N(μ_r, Σ_r) and N(μ_g, Σ_g).

    Tr((Σ_r Σ_g)^{1/2}) is computed as Σ √λ_i of the symmetric PSD matrix Σ_r^{1/2} Σ_g Σ_r^{1/2},
    which has the same eigenvalues as Σ_r Σ_g (no complex round-off as with a general sqrtm).
    """
    mu_r, mu_g = np.atleast_1d(np.asarray(mu_r, float)), np.atleast_1d(np.asarray(mu_g, float))
    s_r, s_g = np.atleast_2d(np.asarray(sigma_r, float)), np.atleast_2d(np.asarray(sigma_g, float))
    d = len(mu_r)
    if mu_g.shape != (d,) or s_r.shape != (d, d) or s_g.shape != (d, d):
        raise ValueError(f"shapes do not match: μ {mu_r.shape}, {mu_g.shape}; Σ {s_r.shape}, {s_g.shape}")
    root = _sqrt_psd(s_r)
    middle = root @ s_g @ root
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())
    diff = mu_r - mu_g
    return float(max(diff @ diff + np.trace(s_r) + np.trace(s_g) - 2 * tr_covmean, 0.0))


@dataclass(frozen=True)
class Coverage:
    """Which classes a set of samples falls into, by the classifier's predictions."""

    counts: list[int]  # per class
    entropy_bits: float  # of the class histogram: log2(K) when uniform, 0 when one class
    covered: int  # classes with at least `min_share` of the samples

    @property
    def shares(self) -> list[float]:
        total = max(sum(self.counts), 1)
        return [c / total for c in self.counts]


def class_coverage(predictions: np.ndarray, n_classes: int = 10, min_share: float = 0.02) -> Coverage:
    """Histogram of predicted classes [N] over ``n_classes``, its entropy in bits, and how many
    classes hold at least ``min_share`` of the samples (a collapsed GAN covers few)."""
    p = np.asarray(predictions, dtype=np.int64).ravel()
    if len(p) == 0:
        raise ValueError("no predictions")
    if p.min() < 0 or p.max() >= n_classes:
        raise ValueError(f"predictions must lie in 0…{n_classes - 1}")
    if not 0 <= min_share <= 1:
        raise ValueError("min_share must be in [0, 1]")
    counts = np.bincount(p, minlength=n_classes)
    q = counts[counts > 0] / len(p)
    entropy = float(-(q * np.log2(q)).sum())
    return Coverage(counts.tolist(), abs(entropy) if math.isclose(entropy, 0, abs_tol=1e-12) else entropy,
                    int((counts / len(p) >= min_share).sum()) if min_share > 0 else int((counts > 0).sum()))
