"""Generative adversarial networks: the course's minimax game, three generator/discriminator pairs
and their two-player step for the lab's one training loop (also used by the 2-D toy,
:mod:`core.generative.toy`).

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

:class:`GanStep` is the two-player step that :class:`core.training.Loop` runs: k discriminator
steps (each on a fresh real batch) per generator step. :func:`run_gan` is the page's job: a
tracked lane (experiment ``generative``) with per-step curves, samples from a fixed noise batch
after every epoch (the timeline), the class coverage and Fréchet distance of 1,000 samples per
epoch (:mod:`core.generative.classifier`); it hands back plain data (:class:`GanResult`), and
:func:`load_generator` rebuilds the trained generator from the run's logged weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import render as static
from core import tracking
from core.device import cpu_speed, pick_device, seed_everything
from core.experiment import FINISHED, KILLED, LaneRun, RunOutcome
from core.identity import LOCAL_USER, User
from core.jobs import JobContext
from core.training import Hooks, Loop, Step

__all__ = [
    "DATASETS",
    "DEFAULT_EPOCHS",
    "EXPLODED",
    "GAN_LOSSES",
    "MODELS",
    "PAGE",
    "ConditionalGenerator",
    "DCDiscriminator",
    "DCGenerator",
    "GanConfig",
    "GanPair",
    "GanResult",
    "GanStep",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_generator",
    "build_pair",
    "discriminator_loss",
    "generate",
    "generator_loss",
    "image_grid",
    "load_gan_data",
    "load_generator",
    "noise",
    "run_gan",
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


def noise(n: int, z_dim: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """z ~ N(0, I) [n, z_dim], drawn on the CPU with ``generator`` (reproducible on any device), moved to ``device``."""
    return torch.randn(n, z_dim, generator=generator).to(device)


@dataclass
class GanPair:
    """A generator and a discriminator, with what the loop needs to feed them."""

    G: nn.Module
    D: nn.Module
    z_dim: int
    n_classes: int = 0  # > 0: conditional (labels go to both)

    def noise(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
        return noise(n, self.z_dim, generator, device)


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


def build_generator(model: str, z_dim: int, width: int, shape: tuple[int, int, int] = (1, 28, 28),
                    n_classes: int = 10) -> nn.Module:
    """The generator of ``model`` (a key of :data:`MODELS`) for images of ``shape`` (``n_classes``: the
    conditional GAN's label count); weights from the global RNG."""
    if model == "dcgan":
        if shape[1:] != (28, 28):
            raise ValueError(f"the DCGAN here is sized for 28×28 images, got {shape[1]}×{shape[2]}")
        return DCGenerator(z_dim, shape[0], width)
    if model not in MODELS:
        raise ValueError(f"the model must be one of {', '.join(MODELS)}, got {model!r}")
    return MLPGenerator(z_dim, shape, 8 * width, n_classes if model == "cgan" else 0)


def build_pair(cfg: GanConfig, shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10) -> GanPair:
    """The generator and discriminator of ``cfg.model`` for images of ``shape``, seeded with ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    G = build_generator(cfg.model, cfg.z_dim, cfg.width, shape, n_classes)  # G first: its weights are drawn first
    if cfg.model == "dcgan":
        return GanPair(G, DCDiscriminator(shape[0], cfg.width), cfg.z_dim)
    classes = n_classes if cfg.model == "cgan" else 0
    return GanPair(G, MLPDiscriminator(shape, 8 * cfg.width, classes), cfg.z_dim, classes)


# ------------------------------------------------------------------------------------------ the step


# A BCE loss of a million means logits of a million: the weights have blown up even if no NaN came yet
# (Adam's normalised steps keep a huge learning rate's losses finite for a long while). The GAN's step
# declares it as its explosion bound, on top of the loop's NaN/inf rule.
EXPLODED = 1e6


class GanStep(Step):
    """The two-player step of a GAN for :class:`core.training.Loop`, with Adam for both players.

    ``X`` [N, ...] are real examples in G's output range (``y`` [N] their labels, for a conditional
    pair). One epoch is one pass of the discriminator over ``X`` in shuffled whole batches
    (``batches`` yields each batch's indices). Each call is one D step (ascend V on the real batch
    and as many fresh fakes, G held fixed); after every ``k``-th D step comes one G step on a fresh
    noise batch (labels drawn uniformly for a conditional pair), and the call reports that G step's
    values: ``d_loss`` (−V of the last D step), ``g_loss``, ``d_real`` = mean D(x) and ``d_fake`` =
    mean D(G(z)) (both of the last D step) and ``V``; a D-only call reports nothing (``None``), so
    the loop counts generator steps. Every random draw (shuffles, noise, labels) comes from one
    generator seeded with ``seed``, in the same order on every device.

    The monitored value is ``g_loss``: the steps counted are G's, each row is made by a G step, and
    G is the network kept (``model``) and sampled. A loss that turns NaN, infinite or beyond
    :data:`EXPLODED` ends the training (``bound``). ``measure(epoch)``, when given, returns what the
    epoch's record should hold (the Fréchet distance, class coverage).
    """

    monitor = "g_loss"
    bound = EXPLODED
    labels = {"d_loss": "discriminator loss", "g_loss": "generator loss"}
    unit = "generator step"
    advice = "try smaller learning rates (2e-4 is the DCGAN paper's)"

    def __init__(self, pair: GanPair, X: torch.Tensor, y: torch.Tensor | None = None, *, loss: str = "non-saturating",
                 k: int = 1, batch_size: int = 64, lr_g: float = 2e-4, lr_d: float = 2e-4, beta1: float = 0.5,
                 seed: int = 0, device: torch.device | str | None = None,
                 measure: Callable[[int], dict[str, float]] | None = None) -> None:
        if loss not in GAN_LOSSES:
            raise ValueError(f"the generator loss must be one of {tuple(GAN_LOSSES)}, got {loss!r}")
        if k < 1 or batch_size < 1:
            raise ValueError("k and the batch size must be at least 1")
        if pair.n_classes and y is None:
            raise ValueError("a conditional GAN needs the labels y")
        if len(X) == 0:
            raise ValueError("the training set is empty")
        self.device = dev = torch.device(device) if device is not None else pick_device()
        self.pair, self.loss, self.k, self.measure = pair, loss, k, measure
        self.G, self.D = pair.G.to(dev).train(), pair.D.to(dev).train()
        self.model = self.G
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=(beta1, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=(beta1, 0.999))
        self.X = X.to(dev)
        self.y = y.to(dev) if y is not None and pair.n_classes else None
        self.n = len(X)
        self.bs = min(batch_size, self.n)
        self.generator = torch.Generator().manual_seed(seed)
        self.d_steps = self.g_steps = 0
        self._last_d: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def batches(self, epoch: int) -> Iterable[torch.Tensor]:
        order = torch.randperm(self.n, generator=self.generator).to(self.device)  # drawn as the epoch starts
        # whole batches only (batch norm and the means stay comparable)
        return (order[i : i + self.bs] for i in range(0, self.n - self.bs + 1, self.bs))

    def _labels(self, m: int) -> torch.Tensor | None:
        if not self.pair.n_classes:
            return None
        return torch.randint(0, self.pair.n_classes, (m,), generator=self.generator).to(self.device)

    def __call__(self, idx: torch.Tensor) -> dict[str, torch.Tensor] | None:
        G, D, pair, bs, dev = self.G, self.D, self.pair, self.bs, self.device
        xb, yb = self.X[idx], (self.y[idx] if self.y is not None else None)
        # D step: maximise V on this real batch and a fresh fake batch (G held fixed)
        with torch.no_grad():
            fake = G(pair.noise(bs, self.generator, dev), yb)
        real_logits, fake_logits = D(xb, yb), D(fake, yb)
        d_loss = discriminator_loss(real_logits, fake_logits)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.d_steps += 1
        self._last_d = (d_loss.detach(), torch.sigmoid(real_logits.detach()).mean(),
                        torch.sigmoid(fake_logits.detach()).mean())
        if self.d_steps % self.k:
            return None
        # G step: D held fixed (only G's optimiser steps; D's gradients are cleared before its next step)
        yg = self._labels(bs)
        g_loss = generator_loss(D(G(pair.noise(bs, self.generator, dev), yg), yg), self.loss)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.g_steps += 1
        d, d_real, d_fake = self._last_d
        return {"d_loss": d, "g_loss": g_loss.detach(), "d_real": d_real, "d_fake": d_fake, "V": -d}

    def end_epoch(self, epoch: int) -> dict[str, float]:
        return self.measure(epoch) if self.measure is not None else {}


@torch.no_grad()
def generate(pair: GanPair | nn.Module, z: torch.Tensor, labels: torch.Tensor | None = None,
             batch: int = 500) -> torch.Tensor:
    """G(z) in eval mode (batch norm with its running statistics), on the CPU, in [−1, 1]; ``pair`` is a
    :class:`GanPair` or the generator itself (e.g. from :func:`load_generator`)."""
    G = pair.G if isinstance(pair, GanPair) else pair
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
class GanResult(RunOutcome):
    """What a GAN training made, as plain data (also a partial one, when stopped or diverged): the
    curves, the timeline, the measures and the run id; the page loads the generator from the run's
    weights (:func:`load_generator`)."""

    config: GanConfig
    rows: list[dict[str, float]]  # one per generator step: step, epoch, d_loss, g_loss, d_real, d_fake, V
    epochs: list[dict[str, float]]  # epoch, train_loss (mean g_loss), seconds, fd, entropy_bits, classes_covered
    timeline: list[np.ndarray]  # the fixed noise batch's samples after each epoch, as uint8 grids (cGAN: a row per class)
    coverage: list[int]  # predicted-class counts of the last evaluation's samples
    classes: tuple[str, ...]
    real_grid: np.ndarray
    device: str
    seconds: float
    n_classes: int = 0  # > 0: a conditional GAN (the page can ask it for one class)
    classifier_accuracy: float | None = None
    run_id: str | None = None
    status: str = FINISHED  # of the run: FINISHED, FAILED (diverged) or KILLED (Stop)
    error: str | None = None  # the divergence sentence

    @property
    def has_generator(self) -> bool:
        """The run saved G's weights (a finished or stopped training)."""
        return self.run_id is not None and self.status in (FINISHED, KILLED)

    @property
    def epochs_done(self) -> int:
        return len(self.timeline)


def run_gan(ctx: JobContext | None, cfg: GanConfig, *, device: torch.device | str | None = None) -> GanResult:
    """The job behind the GAN tab: one tracked lane (experiment ``generative``) of one GAN.

    Logs the config, per G step d_loss / g_loss / d_real / d_fake / V, per epoch the Fréchet distance
    and class coverage of ``cfg.eval_samples`` samples and the fixed-noise samples (as
    ``images/samples_epoch_NNN.png``), the curves and G's weights (``model/generator.pt``, also
    after a Stop). Live: rows in series ``gan``, ``gan/epochs`` and the image ``samples``. Returns
    a :class:`GanResult`: FINISHED; KILLED after a Stop (the timeline so far; the job ends KILLED);
    FAILED when a loss diverged (the run ends FAILED with the sentence, which the job reports once
    through ``ctx.diverged``; the job itself finishes).
    """
    from core.generative.classifier import Coverage, class_coverage, digit_classifier, frechet_distance, gaussian_stats

    dev = torch.device(device) if device is not None else pick_device()
    seed_everything(cfg.seed)
    if ctx is not None:
        ctx.report(0.0, f"loading {cfg.dataset}")
    data = load_gan_data(cfg.dataset, max_train=cfg.max_train, seed=cfg.seed)
    X, y = data.train
    real_grid = image_grid(X[: cfg.n_timeline])
    clf = None
    if cfg.eval_samples:
        if ctx is not None:
            ctx.report(0.0, "training the digit classifier (once per dataset)")
        clf = digit_classifier(cfg.dataset, seed=cfg.seed, ctx=ctx)
        if clf is None:  # Stop was pressed while the classifier trained: no GAN was trained
            return GanResult(cfg, [], [], [], [], data.classes, real_grid, dev.type, 0.0, status=KILLED)
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
    result = GanResult(cfg, [], [], [], [], data.classes, real_grid, dev.type, 0.0, pair.n_classes,
                       clf.accuracy if clf is not None else None)
    t0 = time.perf_counter()
    n_batches = len(X) // min(cfg.batch_size, len(X))
    total_g = max(n_batches * cfg.epochs // cfg.k, 1)
    run_name = f"{cfg.model} · {cfg.loss} · k={cfg.k} · {cfg.epochs} epochs"

    def measure(epoch: int) -> dict[str, float]:
        if clf is None or eval_z is None:
            return {}
        fake = generate(pair, eval_z, eval_y)
        cov: Coverage = class_coverage(clf.predict(fake), len(data.classes))
        result.coverage = cov.counts
        return {"fd": frechet_distance(*real_stats, *gaussian_stats(clf.features(fake))),
                "entropy_bits": cov.entropy_bits, "classes_covered": cov.covered}

    def on_step(step: int, epoch: int, values: Mapping[str, float]) -> None:
        result.rows.append({"step": step, "epoch": epoch, **values})
        if ctx is not None and step % 5 == 0:
            ctx.report(None, f"epoch {epoch} of {cfg.epochs} · generator step {step}")

    with LaneRun(ctx, PAGE, asdict(cfg), name="GAN", series="gan", run_name=run_name,
                 tags={"device": dev.type, "kind": "gan"}) as lane:
        run = lane.run
        run.log_image(real_grid, "real.png")

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            grid = image_grid(generate(pair, fixed_z, fixed_y), cols=side)
            result.timeline.append(grid)
            run.log_image(grid, f"samples_epoch_{epoch:03d}.png")
            if ctx is not None:
                ctx.image("samples", grid)

        step = GanStep(pair, X, y, loss=cfg.loss, k=cfg.k, batch_size=cfg.batch_size, lr_g=cfg.lr_g, lr_d=cfg.lr_d,
                       beta1=cfg.beta1, seed=cfg.seed, device=dev, measure=measure)
        loop = Loop(step, callbacks=[Hooks(on_step, on_epoch)], sync_every=10 if dev.type != "cpu" else 1)
        result.epochs = loop.history.epochs
        try:
            with cpu_speed(dev):
                finished = lane.fit(loop, cfg.epochs, total_steps=total_g)
            if finished and pair.n_classes:
                labels = torch.arange(10 * pair.n_classes) // 10
                z = pair.noise(len(labels), torch.Generator().manual_seed(cfg.seed + 3))
                run.log_image(image_grid(generate(pair, z, labels), cols=10), "by_label.png")
            if finished or lane.lane.stopped:  # what was trained until Stop stays usable on the page
                run.log_state_dict(pair.G, "generator.pt")
            if finished:
                run.log_metrics({"seconds": time.perf_counter() - t0}, len(result.rows))
        finally:
            _log_curves(run, result.rows, result.epochs)
    result.seconds = time.perf_counter() - t0
    result.run_id, result.status, result.error = lane.lane.run_id, lane.lane.status, lane.lane.error
    return result


def load_generator(run_id: str, user: User = LOCAL_USER) -> nn.Module:
    """The generator a GAN run trained (:func:`run_gan`), rebuilt from the run's params and its logged
    weights, on the CPU in eval mode; it has ``z_dim`` and ``n_classes``. ValueError with a plain
    message when it cannot be rebuilt."""
    params = tracking.run_params(run_id, user=user)
    try:
        model, z_dim, width = params["model"], int(params["z_dim"]), int(params["width"])
    except (KeyError, ValueError) as exc:
        raise ValueError("this run is not a GAN training of this lab") from exc
    state = tracking.saved_weights(run_id, "model/generator.pt", user=user)
    # a conditional G's label embedding says how many classes it was trained on
    n_classes = int(state["embed.weight"].shape[0]) if "embed.weight" in state else 0
    G = build_generator(model, z_dim, width, (1, 28, 28), n_classes)
    G.load_state_dict(state)
    return G.eval()


def _log_curves(run: tracking.TrackedRun, rows: list[dict[str, float]], epoch_rows: list[dict[str, float]]) -> None:
    """The loss and D-output curves (and the FD per epoch) as PNG artifacts; never fails the run."""
    from core.render import curves_png

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
