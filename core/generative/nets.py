"""The GAN's players: three generator/discriminator pairs (MLP, DCGAN, conditional), the noise they
start from, sampling a trained generator, and its samples as grey pictures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "GAN_MODELS",
    "ConditionalGenerator",
    "DCDiscriminator",
    "DCGenerator",
    "GanPair",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_generator",
    "build_pair",
    "generate",
    "noise",
    "to_pixels",
]

GAN_MODELS = {
    "mlp": "MLP GAN (Goodfellow et al., 2014)",
    "dcgan": "DCGAN: convolutions and batch norm (Radford et al., 2016)",
    "cgan": "Conditional GAN: the label goes in too (Mirza & Osindero, 2014)",
}


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


def build_generator(model: str, z_dim: int, width: int, shape: tuple[int, int, int] = (1, 28, 28),
                    n_classes: int = 10) -> nn.Module:
    """The generator of ``model`` (a key of :data:`GAN_MODELS`) for images of ``shape`` (``n_classes``: the
    conditional GAN's label count); weights from the global RNG."""
    if model == "dcgan":
        if shape[1:] != (28, 28):
            raise ValueError(f"the DCGAN here is sized for 28×28 images, got {shape[1]}×{shape[2]}")
        return DCGenerator(z_dim, shape[0], width)
    if model not in GAN_MODELS:
        raise ValueError(f"the model must be one of {', '.join(GAN_MODELS)}, got {model!r}")
    return MLPGenerator(z_dim, shape, 8 * width, n_classes if model == "cgan" else 0)


def build_pair(cfg: Any, shape: tuple[int, int, int] = (1, 28, 28), n_classes: int = 10) -> GanPair:
    """The generator and discriminator of ``cfg.model`` (a :class:`core.generative.gan.GanConfig`: ``model``, ``z_dim``,
    ``width``, ``seed``) for images of ``shape``, seeded with ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    G = build_generator(cfg.model, cfg.z_dim, cfg.width, shape, n_classes)  # G first: its weights are drawn first
    if cfg.model == "dcgan":
        return GanPair(G, DCDiscriminator(shape[0], cfg.width), cfg.z_dim)
    classes = n_classes if cfg.model == "cgan" else 0
    return GanPair(G, MLPDiscriminator(shape, 8 * cfg.width, classes), cfg.z_dim, classes)


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


def to_pixels(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Generated (or real) images [N, 1, H, W] in [−1, 1] (G's tanh range) as grey pictures [N, H, W]
    of uint8 (compact plain data; :func:`core.artifacts.image_grid` tiles them after ``/ 255``)."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or len(arr) == 0:
        raise ValueError(f"expected images [N, C, H, W], got shape {arr.shape}")
    unit = (np.clip(arr[:, 0], -1, 1) + 1) / 2
    return (unit.astype(np.float32) * 255).round().astype(np.uint8)
