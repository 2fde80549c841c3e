"""The course's regularization formulas: the L2 penalty, inverted dropout and the batch
normalization transform (with its test-time use of running averages)."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def l2_penalty(weights: Iterable[torch.Tensor], lambd: float, m: int) -> torch.Tensor:
    """The L2 term of the regularised cost, λ/(2m)·Σ_l ‖W^[l]‖²_F.

    ``weights``: the weight tensors W^[l] (any shapes; biases are not penalised in the
    course); ``lambd`` ≥ 0; ``m`` the number of training examples (≥ 1). Its gradient
    adds (λ/m)·W^[l] to each dW^[l] ("weight decay"). Returns a 0-d tensor.
    """
    if lambd < 0:
        raise ValueError("λ must be zero or positive")
    if m < 1:
        raise ValueError("m (the number of training examples) must be at least 1")
    total: torch.Tensor | None = None
    for w in weights:
        sq = w.pow(2).sum()
        total = sq if total is None else total + sq
    if total is None:
        return torch.zeros(())
    return total * (lambd / (2 * m))


class InvertedDropout(nn.Module):
    """Inverted dropout: keep each unit with probability ``keep_prob`` and scale the kept
    ones by 1/keep_prob in training (A = A·D / keep_prob), so expected activations are
    unchanged; the identity in evaluation mode. Srivastava et al., "Dropout", JMLR 2014.
    """

    def __init__(self, keep_prob: float = 0.8) -> None:
        super().__init__()
        if not 0 < keep_prob <= 1:
            raise ValueError("keep_prob must be in (0, 1]")
        self.keep_prob = float(keep_prob)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if not self.training or self.keep_prob == 1.0:
            return a
        d = torch.rand_like(a, dtype=torch.float32) < self.keep_prob  # the mask D
        return a * d.to(a.dtype) / self.keep_prob

    def extra_repr(self) -> str:
        return f"keep_prob={self.keep_prob}"


def batch_norm(
    z: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    eps: float = 1e-5,
    mean: torch.Tensor | None = None,
    var: torch.Tensor | None = None,
) -> torch.Tensor:
    """The course's batch normalization of Z^[l]: z_norm = (z − μ)/√(σ² + ε), z̃ = γ·z_norm + β.

    ``z``: [m, units] (one row per example of the mini-batch); ``gamma``, ``beta``: [units].
    Without ``mean``/``var`` μ and σ² are the batch's own (σ² divides by m), as in training;
    with them (the running averages kept during training) it is the test-time transform.
    Ioffe & Szegedy, "Batch Normalization", ICML 2015.
    """
    if z.ndim != 2:
        raise ValueError("z must be a [batch, units] matrix")
    if (mean is None) != (var is None):
        raise ValueError("give both the mean and the variance, or neither")
    if mean is None:
        if len(z) < 2:
            raise ValueError("batch statistics need at least 2 examples")
        mean, var = z.mean(0), z.var(0, unbiased=False)
    z_norm = (z - mean) / torch.sqrt(var + eps)
    return gamma * z_norm + beta
