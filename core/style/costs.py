"""The neural style transfer costs, exactly as the course writes them (Gatys et al. 2015).

For one layer l with activations a of shape [n_C, n_H, n_W] (or a batch [B, n_C, n_H, n_W]):

- Gram matrix: G_kk' = Σ_i Σ_j a_ijk · a_ijk' (channels k, k' summed over every position i, j).
- Content cost: J_content(C, G) = ½ · Σ_ij (a^(C) − a^(G))², summed over every entry of the layer.
- Style cost of one layer: J_style^[l](S, G) = 1 / (2 · n_H · n_W · n_C)² · Σ_k Σ_k' (G^(S)_kk' − G^(G)_kk')²,
  the normalisation of Gatys et al. (E_l = 1/(4 N_l² M_l²) Σ (G − A)², N_l = n_C, M_l = n_H · n_W).
- Style cost over several layers: J_style(S, G) = Σ_l λ^[l] · J_style^[l](S, G).
- Total cost: J(G) = α · J_content(C, G) + β · J_style(S, G).

The Gram matrix and the costs are computed in float32 even when the activations come in lower
precision (autocast), so that sums over many positions keep their digits.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def _check(a: torch.Tensor, what: str) -> None:
    if not isinstance(a, torch.Tensor) or a.ndim not in (3, 4):
        shape = tuple(a.shape) if isinstance(a, torch.Tensor) else type(a).__name__
        raise ValueError(f"{what} must be activations [n_C, n_H, n_W] or [B, n_C, n_H, n_W], got {shape}")


class _Gram(torch.autograd.Function):
    """G = F·Fᵀ with its gradient (dG + dGᵀ)·F returned in F's own memory layout.

    The generic backward of a batched matmul hands a channels-last F its gradient in the other layout,
    and the additions that follow cost more than the whole Gram matrix (bench/style_transfer.py).
    """

    @staticmethod
    def forward(ctx, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(f)
        return f @ f.transpose(-1, -2)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        (f,) = ctx.saved_tensors
        gs = g + g.transpose(-1, -2)
        if f.stride(-2) == 1:  # channels-last: F is a transposed view of a [.., H*W, C] block
            return (f.transpose(-1, -2) @ gs.transpose(-1, -2)).transpose(-1, -2)
        return gs @ f


def gram_matrix(a: torch.Tensor) -> torch.Tensor:
    """G_kk' = Σ_i Σ_j a_ijk a_ijk': [C, H, W] → [C, C], or [B, C, H, W] → [B, C, C] (float32, not normalised)."""
    _check(a, "gram_matrix's input")
    return _Gram.apply(a.float().flatten(-2))  # F: [..., C, H*W]


def content_cost(a_c: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """J_content(C, G) = ½ Σ (a^(C) − a^(G))² over every entry (a scalar; batches are summed too)."""
    _check(a_c, "the content activations")
    _check(a_g, "the generated activations")
    if a_c.shape != a_g.shape:
        raise ValueError(f"content and generated activations differ in shape: {tuple(a_c.shape)} vs {tuple(a_g.shape)}")
    return 0.5 * (a_c.float() - a_g.float()).pow(2).sum()


def layer_style_cost_from_grams(g_s: torch.Tensor, g_g: torch.Tensor, n_c: int, n_h: int, n_w: int) -> torch.Tensor:
    """J_style^[l] from two Gram matrices of a layer with n_C channels on an n_H × n_W grid."""
    if g_s.shape != g_g.shape:
        raise ValueError(f"the two Gram matrices differ in shape: {tuple(g_s.shape)} vs {tuple(g_g.shape)}")
    return (g_s.float() - g_g.float()).pow(2).sum() / float(2 * n_h * n_w * n_c) ** 2


def layer_style_cost(a_s: torch.Tensor, a_g: torch.Tensor) -> torch.Tensor:
    """J_style^[l](S, G) = 1/(2 n_H n_W n_C)² Σ_kk' (G^(S) − G^(G))² for one layer's activations.

    Both images must give the layer the same shape (the lab crops the style image to the content's size).
    """
    _check(a_s, "the style activations")
    _check(a_g, "the generated activations")
    if a_s.shape != a_g.shape:
        raise ValueError(f"style and generated activations differ in shape: {tuple(a_s.shape)} vs {tuple(a_g.shape)}")
    n_c, n_h, n_w = a_g.shape[-3:]
    return layer_style_cost_from_grams(gram_matrix(a_s), gram_matrix(a_g), n_c, n_h, n_w)


def style_cost(costs: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """J_style = Σ_l λ^[l] J_style^[l]: the per-layer costs ``costs`` weighted by ``weights`` (same layer names)."""
    if set(costs) != set(weights):
        raise ValueError(f"style costs for {sorted(costs)} but weights for {sorted(weights)}")
    if not costs:
        raise ValueError("the style cost needs at least one layer")
    total: torch.Tensor | None = None
    for name, cost in costs.items():
        term = float(weights[name]) * cost
        total = term if total is None else total + term
    return total


def total_cost(j_content: torch.Tensor, j_style: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """J(G) = α J_content(C, G) + β J_style(S, G)."""
    return alpha * j_content + beta * j_style
