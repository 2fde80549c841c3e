"""Self-attention as the Transformer uses it, written from its formulas.

* **Scaled dot-product attention** (Vaswani et al., 2017, "Attention Is All You Need"):

      Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) · V

  Q [..., L, d_k] the queries, K [..., S, d_k] the keys, V [..., S, d_v] the values; M the mask:
  a float mask is added to the scores (−∞ where a query may not look), a boolean mask is True
  where a query **may** look (torch's convention: ``False`` becomes −∞). Each row of the weights
  softmax(·) sums to 1 over the S keys.
* **Multi-head attention**: h heads, each with its own projections Qᵢ = X W_Qᵢ, Kᵢ = X W_Kᵢ,
  Vᵢ = X W_Vᵢ of size d_k = d_model / h, attend in parallel; their outputs are concatenated and
  projected by W_O. :class:`MultiHeadAttention` keeps its weights in the layout of
  :class:`torch.nn.MultiheadAttention` (``in_proj_weight`` [3·d_model, d_model] = W_Q; W_K; W_V,
  ``out_proj``), so :meth:`MultiHeadAttention.load_torch` copies a torch module exactly.
* **Positional encodings**: attention alone is blind to order (permute the tokens and every
  output is permuted the same way), so the position is added to each token's embedding: the
  sinusoids PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)), or a
  learned vector per position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "AttentionMaps",
    "LearnedPositions",
    "MultiHeadAttention",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_positions",
]


def _check_mask(mask: Tensor, scores: Tensor) -> None:
    try:
        torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        raise ValueError(
            f"the mask has shape {tuple(mask.shape)} but the scores have shape {tuple(scores.shape)} "
            f"(queries × keys = {scores.shape[-2]} × {scores.shape[-1]}): give one entry per query and key"
        ) from None


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """softmax(Q Kᵀ / √d_k + mask) · V → ``(output [..., L, d_v], weights [..., L, S])``.

    ``mask`` broadcasts to the scores [..., L, S]: float (added) or bool (True = may attend).
    ``ValueError`` for a mask of the wrong shape or keys and values of different lengths. A query
    that may look at no key at all gets NaN weights, as torch's own function gives."""
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same size d_k (got {q.shape[-1]} and {k.shape[-1]})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"there must be one value per key (got {k.shape[-2]} keys and {v.shape[-2]} values)")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        _check_mask(mask, scores)
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """[L, L] bool, True on and below the diagonal: position t may look at positions 0 … t only."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, length: int) -> Tensor:
    """[N, 1, L] bool from each sequence's true length: True on real tokens (keys a query may look at)."""
    return (torch.arange(length, device=lengths.device)[None, :] < lengths[:, None])[:, None, :]


@dataclass
class AttentionMaps:
    """Everything one multi-head attention computed, head by head (batch first): q, k, v
    [N, h, L or S, d_k], scores Q Kᵀ/√d_k before the mask [N, h, L, S], the mask as added
    (0 or −∞, broadcast to [N, h, L, S]), weights [N, h, L, S] and the output [N, L, d_model]."""

    q: Tensor
    k: Tensor
    v: Tensor
    scores: Tensor
    mask: Tensor
    weights: Tensor
    output: Tensor


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention over learned projections, batch first.

    ``forward(query [N, L, d], key [N, S, d], value [N, S, d], mask=None)`` → ``(output [N, L, d],
    weights [N, h, L, S])``; ``mask`` as in :func:`scaled_dot_product_attention`, broadcast over the
    heads ([L, S], [N, 1, S] or [N, L, S]; [N, h, L, S] also works)."""

    def __init__(self, d_model: int, num_heads: int, *, bias: bool = True) -> None:
        super().__init__()
        if d_model < 1 or num_heads < 1 or d_model % num_heads:
            raise ValueError(f"the model size ({d_model}) must be a positive multiple of the number of heads ({num_heads})")
        self.d_model, self.num_heads, self.d_k = d_model, num_heads, d_model // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor) -> Tensor:  # [N, L, d] → [N, h, L, d_k]
        n, length, _ = x.shape
        return x.view(n, length, self.num_heads, self.d_k).transpose(1, 2)

    def project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q, K, V of every head, [N, h, ·, d_k]."""
        w = self.in_proj_weight.chunk(3)
        b = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None, None, None)
        return tuple(self._heads(F.linear(x, wi, bi)) for x, wi, bi in zip((query, key, value), w, b, strict=True))

    def _mask4(self, mask: Tensor | None) -> Tensor | None:
        if mask is None:
            return None
        if mask.dim() == 3:  # [N, L or 1, S]: the same for every head
            mask = mask[:, None]
        return mask

    def forward(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        q, k, v = self.project(query, key, value)
        out, weights = scaled_dot_product_attention(q, k, v, self._mask4(mask))
        n, _, length, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(n, length, self.d_model)), weights

    @torch.no_grad()
    def explain(self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> AttentionMaps:
        """The same computation with every intermediate kept, for pictures."""
        q, k, v = self.project(query, key, value)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)
        added = torch.zeros_like(scores)
        m = self._mask4(mask)
        if m is not None:
            _check_mask(m, scores)
            added = added + (torch.where(m, 0.0, float("-inf")) if m.dtype == torch.bool else m)
        weights = torch.softmax(scores + added, dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(q.shape[0], q.shape[2], self.d_model)
        return AttentionMaps(q, k, v, scores, added, weights, self.out_proj(out))

    @torch.no_grad()
    def load_torch(self, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a :class:`torch.nn.MultiheadAttention` of the same size (one in-projection)."""
        if mha.embed_dim != self.d_model or mha.num_heads != self.num_heads or mha.in_proj_weight is None:
            raise ValueError("the torch module must have the same size and heads, and one input projection")
        self.in_proj_weight.copy_(mha.in_proj_weight)
        if self.in_proj_bias is not None and mha.in_proj_bias is not None:
            self.in_proj_bias.copy_(mha.in_proj_bias)
        self.out_proj.load_state_dict(mha.out_proj.state_dict())
        return self


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """[L, d] with PE(pos, 2i) = sin(pos / 10000^(2i/d)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    if length < 1 or d_model < 1:
        raise ValueError("the length and the model size must be at least 1")
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), two_i / d_model)
    pe = torch.zeros(length, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.float()


class LearnedPositions(nn.Module):
    """A learned vector per position (at most ``max_len``), added to the embeddings [N, L, d]."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.table = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        length = x.shape[1]
        if length > self.table.num_embeddings:
            raise ValueError(f"the sequence has {length} positions but only {self.table.num_embeddings} were learned")
        return x + self.table(torch.arange(length, device=x.device))[None]
