"""The embedding network f(x) of a siamese network.

A siamese network (Koch, Zemel & Salakhutdinov, "Siamese Neural Networks for One-shot
Image Recognition", 2015; Taigman et al., DeepFace, 2014) passes two images through the
*same* network and compares the two outputs. FaceNet (Schroff, Kalenichenko & Philbin,
CVPR 2015) trains that network with the triplet loss and L2-normalises its output, so every
embedding lies on the unit hypersphere: squared distances then lie in [0, 4] (0 = the same
point, 2 = orthogonal, 4 = opposite), and a margin α of about 0.2–1 is on the right scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EmbeddingNet", "n_blocks"]


def n_blocks(input_size: int) -> int:
    """How many conv + 2×2-pool blocks fit: halve until at least 2×2 is left, at most 4
    (8 → 2 blocks, 28 → 3, 64 → 4)."""
    if input_size < 4:
        raise ValueError(f"images must be at least 4×4 pixels, got {input_size}")
    return max(1, min(4, int(math.floor(math.log2(input_size / 2)))))


class EmbeddingNet(nn.Module):
    """A small CNN mapping [B, C, S, S] images to [B, D] L2-normalised embeddings.

    Blocks of 3×3 convolution (padding 1) → batch norm → ReLU → 2×2 max-pooling, the
    channels doubling from ``width`` (at most 4·width), then a fully connected layer of 128
    units and a linear layer to ``embedding_dim``; the output is divided by its Euclidean
    norm (FaceNet), so ‖f(x)‖ = 1. ``embedding_dim=2`` puts the embeddings on the unit
    circle, which can be drawn directly.
    """

    def __init__(self, in_channels: int = 1, embedding_dim: int = 32, input_size: int = 28, width: int = 32,
                 hidden: int = 128) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError("in_channels must be at least 1")
        if embedding_dim < 2:
            raise ValueError("the embedding needs at least 2 dimensions (one is a single point or two after L2 norm)")
        if width < 1 or hidden < 1:
            raise ValueError("width and hidden must be at least 1")
        self.embedding_dim = embedding_dim
        self.input_size = input_size
        layers: list[nn.Module] = []
        c_in, side = in_channels, input_size
        for b in range(n_blocks(input_size)):
            c_out = width * min(2**b, 4)
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in, side = c_out, side // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, hidden), nn.ReLU(inplace=True),
                                  nn.Linear(hidden, embedding_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, S, S] → [B, D] with ‖f(x)‖₂ = 1 per row."""
        if x.shape[-1] != self.input_size or x.shape[-2] != self.input_size:
            raise ValueError(f"this network takes {self.input_size}×{self.input_size} images, "
                             f"got {x.shape[-2]}×{x.shape[-1]}")
        z = self.head(self.features(x))  # (B, D)
        return F.normalize(z, dim=1)
