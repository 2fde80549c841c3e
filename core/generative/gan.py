"""Generative adversarial networks: the course's minimax game, three generator/discriminator pairs
and one training loop for all of them (also used by the 2-D toy, :mod:`core.generative.toy`).

The game (Goodfellow et al., 2014, "Generative Adversarial Nets")::

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]

D outputs a logit ℓ and D(·) = σ(ℓ). Every loss here is written with BCE-with-logits, which is
the same formula computed without taking log of a rounded-off sigmoid:

* the discriminator maximises V, i.e. minimises ``BCE(ℓ_real, 1) + BCE(ℓ_fake, 0)`` = −V;
* the generator either minimises log(1 − D(G(z))) — the course's *minimax* objective, equal to
  ``−BCE(ℓ_fake, 0)`` — or, as Goodfellow et al. advise in practice, maximises log D(G(z)) —
  the *non-saturating* loss ``BCE(ℓ_fake, 1)``. Both have the same fixed point; early in
  training, when D easily spots fakes (D(G(z)) ≈ 0), the minimax gradient w.r.t. the logit is
  −σ(ℓ) ≈ 0 (the generator learns nothing) while the non-saturating one is −(1 − σ(ℓ)) ≈ −1.

:func:`train_gan` is the one loop: k discriminator steps (each on a fresh real batch) per
generator step. :func:`run_gan` is the page's job: a tracked run (experiment ``generative``)
with per-step curves, samples from a fixed noise batch after every epoch (the timeline), the
class coverage and Fréchet distance of 1,000 samples per epoch (:mod:`core.generative.classifier`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.device import cpu_threads, pick_device, seed_everything
from core.plots import static
from core.training import History, TrainingCancelled, TrainingDiverged

__all__ = [
    "DATASETS",
    "DEFAULT_EPOCHS",
    "GAN_LOSSES",
    "MODELS",
    "PAGE",
    "ConditionalGenerator",
    "DCDiscriminator",
    "DCGenerator",
    "GanConfig",
    "GanDiverged",
    "GanPair",
    "GanResult",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_pair",
    "discriminator_loss",
    "generate",
    "generator_loss",
    "image_grid",
    "load_gan_data",
    "run_gan",
    "train_gan",
    "value_function",
]

PAGE = "generative"
MODELS = {
    "mlp": "MLP GAN (Goodfellow et al., 2014)",
    "dcgan": "DCGAN: convolutions and batch norm (Radford et al., 2016)",
    "cgan": "Conditional GAN: the label goes in too (Mirza & Osindero, 2014)",
}
GAN_LOSSES = {
    "non-saturating": "maximise log D(G(z)) (what Goodfellow et al. use in practice)",
    "minimax": "minimise log(1 − D(G(z))) (the course's objective as written)",
}
DATASETS = {
    "mnist_sample": "MNIST sample: 5,000 digits, 28×28 (offline)",
    "digits": "scikit-learn digits: 1,797 digits, 8×8 shown at 28×28 (offline)",
    "mnist": "MNIST: 70,000 digits, 28×28 (download)",
    "fashion_mnist": "Fashion-MNIST: 70,000 clothing images, 28×28 (download)",
}
# epochs that give recognisable digits on the MNIST sample in about a minute on a 2-core CPU (measured)
DEFAULT_EPOCHS = {"mlp": 30, "dcgan": 15, "cgan": 30}


# ------------------------------------------------------------------------------------------ the losses


def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The course's V(D, G) = mean log D(x) + mean log(1 − D(G(z))), from D's logits on a real
    batch [B] and a fake batch [B'] (log σ(ℓ) and log(1 − σ(ℓ)) = log σ(−ℓ), computed stably)."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """What D minimises: −V(D, G) = BCE(ℓ_real, 1) + BCE(ℓ_fake, 0) (means over each batch)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    """What G minimises, from D's logits on G's samples [B].

    ``"minimax"``: mean log(1 − D(G(z))) = −BCE(ℓ, 0) (the course's V with the real term dropped,
    which does not depend on G). ``"non-saturating"``: −mean log D(G(z)) = BCE(ℓ, 1).
    """
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if kind == "non-saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    raise ValueError(f"the generator loss must be one of {tuple(GAN_LOSSES)}, got {kind!r}")


# ------------------------------------------------------------------------------------------ the models


def _init_dcgan(module: nn.Module) -> nn.Module:
    """Radford et al.'s initialisation: weights from N(0, 0.02), batch-norm scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


class MLPGenerator(nn.Module):
    """G of Goodfellow et al. (2014), "Generative Adversarial Nets": fully connected layers from
    z [B, z_dim] to an image [B, *shape] in [−1, 1] (tanh), with batch norm on the wider hidden
    layers (borrowed from DCGAN: without it the MLP generator learns far more slowly).

    With ``n_classes`` > 0 it is Mirza & Osindero's (2014) conditional generator, "Conditional
    Generative Adversarial Nets": a learned label embedding is concatenated to z.
    """

    def __init__(self, z_dim: int, shape: tuple[int, ...] = (1, 28, 28), hidden: int = 256, n_classes: int = 0,
                 embed_dim: int = 16) -> None:
        super().__init__()
        self.z_dim, self.shape, self.n_classes = z_dim, tuple(shape), n_classes
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        n_in = z_dim + (embed_dim if n_classes else 0)
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 2 * hidden), nn.BatchNorm1d(2 * hidden), nn.LeakyReLU(0.2),
            nn.Linear(2 * hidden, 4 * hidden), nn.BatchNorm1d(4 * hidden), nn.LeakyReLU(0.2),
            nn.Linear(4 * hidden, int(np.prod(shape))), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional generator needs the labels")
            z = torch.cat([z, self.embed(labels)], dim=1)  # (B, z_dim + embed_dim)
        return self.net(z).view(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    """D of Goodfellow et al. (2014): the flattened image through fully connected layers to one
    logit [B]. With ``n_classes`` > 0, Mirza & Osindero's conditional D: the label embedding is
    concatenated to the flattened image."""

    def __init__(self, shape: tuple[int, ...] = (1, 28, 28), hidden: int = 256, n_classes: int = 0,
                 embed_dim: int = 16) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        n_in = int(np.prod(shape)) + (embed_dim if n_classes else 0)
        self.net = nn.Sequential(
            nn.Linear(n_in, 2 * hidden), nn.LeakyReLU(0.2),
            nn.Linear(2 * hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)  # (B, C·H·W)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional discriminator needs the labels")
            h = torch.cat([h, self.embed(labels)], dim=1)
        return self.net(h).squeeze(1)


ConditionalGenerator = MLPGenerator  # the cGAN is the MLP pair with n_classes > 0


class DCGenerator(nn.Module):
    """DCGAN's generator (Radford, Metz & Chintala, 2016, "Unsupervised Representation Learning with
    Deep Convolutional Generative Adversarial Networks"), sized for 28×28: z is projected to a
    7×7 map by a transposed convolution, then two stride-2 transposed convolutions double the size
    (7 → 14 → 28); batch norm and ReLU after each but the last, tanh at the output; no pooling, no
    fully connected hidden layers."""

    def __init__(self, z_dim: int, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.z_dim, self.n_classes = z_dim, 0
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 4 * width, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(True),  # 7×7
            nn.ConvTranspose2d(4 * width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(True),  # 14
            nn.ConvTranspose2d(2 * width, channels, 4, 2, 1), nn.Tanh(),  # 28×28
        )
        _init_dcgan(self)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z[:, :, None, None])  # (B, C, 28, 28)


class DCDiscriminator(nn.Module):
    """DCGAN's discriminator (Radford et al., 2016): stride-2 convolutions instead of pooling
    (28 → 14 → 7), LeakyReLU(0.2) everywhere, batch norm on every layer but the first, and a
    last 7×7 convolution down to one logit [B]."""

    def __init__(self, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.n_classes = 0
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True),  # 14×14
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2, True),  # 7×7
            nn.Conv2d(2 * width, 1, 7, 1, 0),  # 1×1
        )
        _init_dcgan(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).flatten()


@dataclass
class GanPair:
    """A generator and a discriminator, with what the loop needs to feed them."""

    G: nn.Module
    D: nn.Module
    z_dim: int
    n_classes: int = 0  # > 0: conditional (labels go to both)

    def noise(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator).to(device)


# ------------------------------------------------------------------------------------------ the config


@dataclass(frozen=True)
class GanConfig:
    """One GAN training on images (also the tracked run's params)."""

    model: str = "dcgan"  # a key of MODELS
    dataset: str = "mnist_sample"  # a key of DATASETS
    loss: str = "non-saturating"  # a key of GAN_LOSSES
    k: int = 1  # discriminator steps per generator step
    epochs: int = DEFAULT_EPOCHS["dcgan"]  # passes of the discriminator over the training images
    batch_size: int = 32
    lr_g: float = 2e-4  # Adam, β1 = 0.5 (Radford et al.)
    lr_d: float = 2e-4
    beta1: float = 0.5
    z_dim: int = 64
    width: int = 16  # DCGAN: channels of the first convolution; MLP: units of the first hidden layer ×8
    max_train: int = 0  # > 0: only that many training images (tests, quick looks)
    n_timeline: int = 64  # samples from the fixed noise batch shown per epoch (a square number; cGAN: √n per class)
    eval_samples: int = 1000  # samples per epoch for class coverage and the Fréchet distance (0 = off)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"the model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"the dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"the generator loss must be one of {', '.join(GAN_LOSSES)}, got {self.loss!r}")
        if not 1 <= self.k <= 10:
            raise ValueError(f"k (discriminator steps per generator step) must be between 1 and 10, got {self.k}")
        if not 1 <= self.epochs <= 500:
            raise ValueError(f"epochs must be between 1 and 500, got {self.epochs}")
        if not 2 <= self.batch_size <= 4096:
            raise ValueError(f"the batch size must be between 2 and 4096, got {self.batch_size}")
        for name, lr in (("generator", self.lr_g), ("discriminator", self.lr_d)):
            if not (math.isfinite(lr) and 0 < lr <= 1e3):
                raise ValueError(f"the {name}'s learning rate must be a positive number up to 1000, got {lr}")
        if not 0 <= self.beta1 < 1:
            raise ValueError(f"β1 must be in [0, 1), got {self.beta1}")
        if not 1 <= self.z_dim <= 512:
            raise ValueError(f"the noise size must be between 1 and 512, got {self.z_dim}")
        if not 4 <= self.width <= 256:
            raise ValueError(f"the width must be between 4 and 256, got {self.width}")
        if self.max_train < 0:
            raise ValueError("max_train must be 0 (all) or more")
        if self.n_timeline < 1 or math.isqrt(self.n_timeline) ** 2 != self.n_timeline:
            raise ValueError(f"the timeline's sample count must be a square number (16, 64, …), got {self.n_timeline}")
        if self.eval_samples < 0 or 0 < self.eval_samples < 50:
            raise ValueError(f"the evaluation needs 0 (off) or at least 50 samples, got {self.eval_samples}")

    @property
    def conditional(self) -> bool:
        return self.model == "cgan"


def build_pair(cfg: GanConfig, shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10) -> GanPair:
    """The generator and discriminator of ``cfg.model`` for images of ``shape``, seeded with ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    if cfg.model == "dcgan":
        if shape[1:] != (28, 28):
            raise ValueError(f"the DCGAN here is sized for 28×28 images, got {shape[1]}×{shape[2]}")
        return GanPair(DCGenerator(cfg.z_dim, shape[0], cfg.width), DCDiscriminator(shape[0], cfg.width), cfg.z_dim)
    classes = n_classes if cfg.model == "cgan" else 0
    hidden = 8 * cfg.width
    return GanPair(MLPGenerator(cfg.z_dim, shape, hidden, classes), MLPDiscriminator(shape, hidden, classes),
                   cfg.z_dim, classes)


# ------------------------------------------------------------------------------------------ the loop


# A BCE loss of a million means logits of a million: the weights have blown up even if no NaN came yet
# (Adam's normalised steps keep a huge learning rate's losses finite for a long while).
EXPLODED = 1e6


class GanDiverged(TrainingDiverged):
    """A loss became NaN, infinite or larger than :data:`EXPLODED`; the message says what to change."""

    def __init__(self, step: int, which: str, value: float) -> None:
        what = "NaN" if math.isnan(value) else "infinite" if math.isinf(value) else f"huge ({value:.3g})"
        RuntimeError.__init__(self, f"the {which} loss became {what} at generator step {step} — the game diverged; "
                                    "try smaller learning rates (2e-4 is the DCGAN paper's)")
        self.step = step
        self.history = History()


@dataclass
class LoopStats:
    """What :func:`train_gan` did: one row per generator step, and the step counts."""

    rows: list[dict[str, float]] = field(default_factory=list)  # step, epoch, d_loss, g_loss, d_real, d_fake, V
    d_steps: int = 0
    g_steps: int = 0


def train_gan(
    pair: GanPair,
    X: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    loss: str = "non-saturating",
    k: int = 1,
    epochs: int = 1,
    batch_size: int = 64,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    beta1: float = 0.5,
    seed: int = 0,
    device: torch.device | str | None = None,
    on_step: Callable[[dict[str, float]], None] | None = None,
    on_epoch: Callable[[int], None] | None = None,
    cancel: Any = None,
    sync_every: int = 10,
    max_steps: int | None = None,
) -> LoopStats:
    """Train ``pair`` on real data ``X`` [N, ...] (in G's output range; ``y`` [N] labels for a
    conditional pair) with Adam; the one GAN loop of the lab.

    One epoch is one pass of the discriminator over ``X`` in shuffled batches. Each batch is one
    D step (ascend V on the real batch and as many fresh fakes); after every ``k`` D steps comes one
    G step on a fresh noise batch (labels drawn uniformly for a conditional pair). ``on_step(row)``
    sees every G step's row: ``step`` (G steps so far), ``epoch``, ``d_loss`` (−V of the last D
    step), ``g_loss``, ``d_real`` = mean D(x), ``d_fake`` = mean D(G(z)) (both of the last D step)
    and ``V``. Rows are read back from the device every ``sync_every`` G steps (no per-step stall
    on a GPU). ``on_epoch(epoch)`` runs after each epoch. A NaN or inf loss raises
    :class:`GanDiverged` (so does one beyond :data:`EXPLODED`); ``cancel.cancelled`` raises :class:`TrainingCancelled`; both after the
    rows so far have been passed on. ``max_steps`` ends the training after that many G steps.
    """
    if loss not in GAN_LOSSES:
        raise ValueError(f"the generator loss must be one of {tuple(GAN_LOSSES)}, got {loss!r}")
    if k < 1 or epochs < 1 or batch_size < 1:
        raise ValueError("k, epochs and the batch size must be at least 1")
    if pair.n_classes and y is None:
        raise ValueError("a conditional GAN needs the labels y")
    dev = torch.device(device) if device is not None else pick_device()
    G, D = pair.G.to(dev).train(), pair.D.to(dev).train()
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(beta1, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(beta1, 0.999))
    X = X.to(dev)
    y = y.to(dev) if y is not None and pair.n_classes else None
    n = len(X)
    bs = min(batch_size, n)
    gen = torch.Generator().manual_seed(seed)
    stats = LoopStats()
    pending: list[tuple[int, torch.Tensor]] = []  # (epoch, [d_loss, g_loss, d_real, d_fake, V]) on the device

    def drain() -> None:
        if not pending:
            return
        values = torch.stack([t for _, t in pending]).float().cpu().tolist()
        epochs_of = [e for e, _ in pending]
        pending.clear()
        for ep, (d_l, g_l, d_r, d_f, v) in zip(epochs_of, values, strict=True):
            step = len(stats.rows) + 1
            for which, value in (("discriminator", d_l), ("generator", g_l)):
                if not math.isfinite(value) or abs(value) > EXPLODED:
                    raise GanDiverged(step, which, value)
            row = {"step": step, "epoch": ep, "d_loss": d_l, "g_loss": g_l, "d_real": d_r, "d_fake": d_f, "V": v}
            stats.rows.append(row)
            if on_step is not None:
                on_step(row)

    def labels(m: int) -> torch.Tensor | None:
        return torch.randint(0, pair.n_classes, (m,), generator=gen).to(dev) if pair.n_classes else None

    def run_epochs() -> None:
        last_d: torch.Tensor | None = None
        for epoch in range(1, epochs + 1):
            order = torch.randperm(n, generator=gen).to(dev)
            for i in range(0, n - bs + 1, bs):  # whole batches only (batch norm and the means stay comparable)
                if cancel is not None and cancel.cancelled:
                    drain()
                    raise TrainingCancelled(History())
                idx = order[i : i + bs]
                xb, yb = X[idx], (y[idx] if y is not None else None)
                # D step: maximise V on this real batch and a fresh fake batch (G held fixed)
                with torch.no_grad():
                    fake = G(pair.noise(bs, gen, dev), yb)
                real_logits, fake_logits = D(xb, yb), D(fake, yb)
                d_loss = discriminator_loss(real_logits, fake_logits)
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                stats.d_steps += 1
                last_d = torch.stack([d_loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                                      torch.sigmoid(fake_logits.detach()).mean(), -d_loss.detach()])
                if stats.d_steps % k:
                    continue
                # G step: D held fixed (only G's optimiser steps; D's gradients are cleared before its next step)
                yg = labels(bs)
                g_loss = generator_loss(D(G(pair.noise(bs, gen, dev), yg), yg), loss)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                stats.g_steps += 1
                pending.append((epoch, torch.stack([last_d[0], g_loss.detach(), last_d[1], last_d[2], last_d[3]])))
                if len(pending) >= sync_every:
                    drain()
                if max_steps is not None and stats.g_steps >= max_steps:
                    break
            drain()
            if on_epoch is not None:
                on_epoch(epoch)
            if max_steps is not None and stats.g_steps >= max_steps:
                break

    with _cpu_speed(dev):
        run_epochs()
    return stats


@contextlib.contextmanager
def _cpu_speed(dev: torch.device):
    """On a CPU: one intra-op thread (these nets are small, and the page draws the live view beside the training:
    on the 2-core machine, with another job running, a DCGAN step took 27 ms on one thread and 62 ms on two) and denormal floats flushed to
    zero (Adam's tiny moments otherwise make every step about 3× slower). Both are put back afterwards."""
    if dev.type != "cpu":
        yield
        return
    with cpu_threads(1):
        torch.set_flush_denormal(True)  # this thread's FPU flags only
        try:
            yield
        finally:
            torch.set_flush_denormal(False)


@torch.no_grad()
def generate(pair: GanPair, z: torch.Tensor, labels: torch.Tensor | None = None, batch: int = 500) -> torch.Tensor:
    """G(z) in eval mode (batch norm with its running statistics), on the CPU, in [−1, 1]."""
    G = pair.G
    dev = next(G.parameters()).device
    was = G.training
    G.eval()
    try:
        out = [G(z[i : i + batch].to(dev), labels[i : i + batch].to(dev) if labels is not None else None).float().cpu()
               for i in range(0, len(z), batch)]
    finally:
        G.train(was)
    return torch.cat(out)


def image_grid(images: torch.Tensor | np.ndarray, cols: int | None = None, gap: int = 2) -> np.ndarray:
    """Images [N, 1, H, W] in [−1, 1] as one uint8 grid [rows·(H+gap)−gap, cols·(W+gap)−gap] (grey,
    light strokes on black; a light-grey gap between cells)."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or len(arr) == 0:
        raise ValueError(f"expected images [N, C, H, W], got shape {arr.shape}")
    cols = cols or math.ceil(math.sqrt(len(arr)))
    grid = static.image_grid((np.clip(arr[:, 0], -1, 1) + 1) / 2, cols, gap, background=90 / 255, border=False)
    return (grid * 255).round().astype(np.uint8)


# ------------------------------------------------------------------------------------------ the data


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

    if dataset not in DATASETS:
        raise ValueError(f"the dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    data = prepare_images(dataset, size=28, max_train=max_train, seed=seed)
    spec = data.spec

    def to_pm1(x: torch.Tensor) -> torch.Tensor:
        return spec.denormalize(x) * 2 - 1

    return GanData((to_pm1(data.train[0]), data.train[1]), (to_pm1(data.dev[0]), data.dev[1]), spec.classes)


# ------------------------------------------------------------------------------------------ the job


@dataclass
class GanResult:
    """What a GAN training made (also a partial one, when stopped or diverged)."""

    config: GanConfig
    pair: GanPair  # on the CPU, for sampling in the page
    rows: list[dict[str, float]]  # one per generator step (see train_gan)
    epochs: list[dict[str, float]]  # epoch, seconds, fd, entropy_bits, classes_covered
    timeline: list[np.ndarray]  # the fixed noise batch's samples after each epoch, as uint8 grids (cGAN: a row per class)
    coverage: list[int]  # predicted-class counts of the last evaluation's samples
    classes: tuple[str, ...]
    real_grid: np.ndarray
    device: str
    seconds: float
    classifier_accuracy: float | None = None
    run_id: str | None = None
    stopped: bool = False
    error: str | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.timeline)


def run_gan(ctx, cfg: GanConfig, *, device: torch.device | str | None = None) -> GanResult:
    """The job behind the GAN tab: one tracked run (experiment ``generative``) of one GAN.

    Logs the config, per G step d_loss / g_loss / d_real / d_fake, per epoch the Fréchet distance
    and class coverage of ``cfg.eval_samples`` samples and the fixed-noise samples (as
    ``images/samples_epoch_NNN.png``), the curves and G's weights. Live: rows in series ``gan``,
    ``gan/epochs`` and the image ``samples``. Stop → KILLED with the timeline so far
    (``exc.result``); NaN → FAILED with a message (``exc.result`` too).
    """
    from core.generative.classifier import Coverage, class_coverage, digit_classifier, frechet_distance, gaussian_stats

    dev = torch.device(device) if device is not None else pick_device()
    seed_everything(cfg.seed)
    if ctx is not None:
        ctx.report(0.0, f"loading {cfg.dataset}")
    data = load_gan_data(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    X, y = data.train
    clf = None
    if cfg.eval_samples:
        if ctx is not None:
            ctx.report(0.0, "training the digit classifier (once per dataset)")
        clf = digit_classifier(cfg.dataset, seed=cfg.seed, ctx=ctx)
    pair = build_pair(cfg, tuple(X.shape[1:]), len(data.classes))
    side = math.isqrt(cfg.n_timeline)
    # conditional: one row per class (side samples each), so each row of the grid is one label
    n_fixed = pair.n_classes * side if pair.n_classes else cfg.n_timeline
    fixed_z = pair.noise(n_fixed, torch.Generator().manual_seed(cfg.seed + 1))
    fixed_y = torch.arange(n_fixed) // side if pair.n_classes else None
    eval_gen = torch.Generator().manual_seed(cfg.seed + 2)
    eval_z = pair.noise(cfg.eval_samples, eval_gen) if cfg.eval_samples else None
    eval_y = torch.arange(cfg.eval_samples) % pair.n_classes if pair.n_classes and cfg.eval_samples else None
    real_stats = gaussian_stats(clf.features(data.dev[0][: cfg.eval_samples])) if clf is not None else None
    rows: list[dict[str, float]] = []
    epoch_rows: list[dict[str, float]] = []
    timeline: list[np.ndarray] = []
    state: dict[str, Any] = {"coverage": [], "t_epoch": time.perf_counter()}
    t0 = time.perf_counter()
    n_batches = len(X) // min(cfg.batch_size, len(X))
    total_g = max(n_batches * cfg.epochs // cfg.k, 1)
    real_grid = image_grid(X[: cfg.n_timeline])
    run_name = f"{cfg.model} · {cfg.loss} · k={cfg.k} · {cfg.epochs} epochs"

    def result(run_id: str | None, stopped: bool = False, error: str | None = None) -> GanResult:
        pair.G.cpu()
        pair.D.cpu()
        return GanResult(cfg, pair, rows, epoch_rows, timeline, state["coverage"], data.classes, real_grid, dev.type,
                         time.perf_counter() - t0, clf.accuracy if clf is not None else None, run_id, stopped, error)

    with tracking.start_run(PAGE, asdict(cfg), run_name=run_name, tags={"device": dev.type, "kind": "gan"}) as run:
        run.log_image(real_grid, "real.png")

        def on_step(row: dict[str, float]) -> None:
            rows.append(row)
            run.log_metrics({key: row[key] for key in ("d_loss", "g_loss", "d_real", "d_fake")}, int(row["step"]))
            if ctx is not None:
                ctx.push("gan", **row)
                if row["step"] % 5 == 0:
                    ctx.report(min(row["step"] / total_g, 1.0),
                               f"epoch {int(row['epoch'])} of {cfg.epochs} · generator step {int(row['step'])}")

        def on_epoch(epoch: int) -> None:
            grid = image_grid(generate(pair, fixed_z, fixed_y), cols=side)
            timeline.append(grid)
            run.log_image(grid, f"samples_epoch_{epoch:03d}.png")
            record: dict[str, float] = {"epoch": epoch, "seconds": time.perf_counter() - state["t_epoch"]}
            if clf is not None and eval_z is not None:
                fake = generate(pair, eval_z, eval_y)
                cov: Coverage = class_coverage(clf.predict(fake), len(data.classes))
                state["coverage"] = cov.counts
                record["fd"] = frechet_distance(*real_stats, *gaussian_stats(clf.features(fake)))
                record["entropy_bits"] = cov.entropy_bits
                record["classes_covered"] = cov.covered
            epoch_rows.append(record)
            run.log_metrics({key: v for key, v in record.items() if key != "epoch"}, epoch)
            if ctx is not None:
                ctx.push("gan/epochs", **record)
                ctx.image("samples", grid)
            state["t_epoch"] = time.perf_counter()

        try:
            train_gan(pair, X, y, loss=cfg.loss, k=cfg.k, epochs=cfg.epochs, batch_size=cfg.batch_size, lr_g=cfg.lr_g,
                      lr_d=cfg.lr_d, beta1=cfg.beta1, seed=cfg.seed, device=dev, on_step=on_step, on_epoch=on_epoch,
                      cancel=ctx.cancel if ctx is not None else None, sync_every=10 if dev.type != "cpu" else 1)
        except (TrainingCancelled, GanDiverged) as exc:
            stopped = isinstance(exc, TrainingCancelled)
            exc.result = result(run.run_id, stopped, None if stopped else str(exc))
            _log_curves(run, rows, epoch_rows)
            raise
        if pair.n_classes:
            labels = torch.arange(10 * pair.n_classes) // 10
            z = pair.noise(len(labels), torch.Generator().manual_seed(cfg.seed + 3))
            run.log_image(image_grid(generate(pair, z, labels), cols=10), "by_label.png")
        _log_curves(run, rows, epoch_rows)
        run.log_state_dict(pair.G, "generator.pt")
        run.log_metrics({"seconds": time.perf_counter() - t0}, len(rows))
        done = result(run.run_id)
    if ctx is not None:
        for w in run.warnings:
            ctx.warn(w)
    return done


def _log_curves(run: tracking.TrackedRun, rows: list[dict[str, float]], epoch_rows: list[dict[str, float]]) -> None:
    """The loss and D-output curves (and the FD per epoch) as PNG artifacts; never fails the run."""
    from core.plots.static import curves_png

    if not rows:
        return
    try:
        steps = [r["step"] for r in rows]
        run.log_image(curves_png({"D loss (−V)": (steps, [r["d_loss"] for r in rows]),
                                  "G loss": (steps, [r["g_loss"] for r in rows])},
                                 title="Losses per generator step", smoothing=0.9 if len(rows) > 200 else 0.0),
                      "losses.png")
        run.log_image(curves_png({"mean D(x)": (steps, [r["d_real"] for r in rows]),
                                  "mean D(G(z))": (steps, [r["d_fake"] for r in rows])},
                                 title="What the discriminator says", ylabel="D", smoothing=0.9 if len(rows) > 200 else 0.0),
                      "d_outputs.png")
        fd = [(r["epoch"], r["fd"]) for r in epoch_rows if "fd" in r]
        if fd:
            run.log_image(curves_png({"FD": ([e for e, _ in fd], [v for _, v in fd])}, title="Fréchet distance per epoch",
                                     xlabel="epoch", ylabel="FD"), "fd.png")
    except Exception as exc:  # noqa: BLE001 - a figure must never fail a training
        run.warnings.append(f"the curve images could not be drawn ({type(exc).__name__})")
