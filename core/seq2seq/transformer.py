"""A small encoder–decoder Transformer for the page's translation tasks.

Vaswani et al., 2017, "Attention Is All You Need": no recurrence at all. The **encoder** turns
the source tokens into vectors with N layers of (multi-head self-attention over the whole source,
then a position-wise feed-forward network), each sub-layer wrapped in a residual connection and
LayerNorm. The **decoder** has N layers of (causal self-attention over the output written so
far, cross-attention from each output position to the encoder's vectors, feed-forward). Token
embeddings are scaled by √d_model and get a position added (sinusoidal or learned, from
:mod:`core.seq2seq.attention`), because attention alone cannot tell word order.

Every attention goes through :class:`core.seq2seq.attention.MultiHeadAttention`, so each layer's
and head's weights can be read. The layers keep torch's parameter names: one
:class:`EncoderLayer` loads the ``state_dict`` of a :class:`torch.nn.TransformerEncoderLayer`
(``batch_first=True``, ReLU) and computes the same; likewise :class:`DecoderLayer` and
:class:`torch.nn.TransformerDecoderLayer`. ``norm_first=True`` is the "pre-norm" arrangement
(x + f(LN(x))) that trains faster and more stably on small data; ``False`` the paper's post-norm
LN(x + f(x)).

The model fits :func:`core.training.fit` like :class:`core.seq2seq.model.Seq2Seq`: ``model(X)``
with ``X = cat([src, tgt_in], 1)`` → logits [N, T, V]. While training the whole target is fed at
once (teacher forcing, the causal mask hides the future); decoding recomputes the decoder over
the prefix at every step (simple and right; no key/value cache).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.data.vocab import PAD, SOS
from core.seq2seq.attention import LearnedPositions, MultiHeadAttention, causal_mask, sinusoidal_positions

__all__ = ["POSITIONS", "DecoderLayer", "EncoderLayer", "Seq2SeqTransformer"]

POSITIONS = ("sinusoidal", "learned")


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each with dropout, a residual connection and LayerNorm.

    ``forward(x [N, S, d], mask)`` → ``(x [N, S, d], self-attention weights [N, h, S, S])``; ``mask``
    True where a position may be looked at ([N, 1, S] for padding)."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x)))))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if self.norm_first:
            h = self.norm1(x)
            a, w = self.self_attn(h, h, h, mask)
            x = x + self.dropout1(a)
            return x + self._ff(self.norm2(x)), w
        a, w = self.self_attn(x, x, x, mask)
        x = self.norm1(x + self.dropout1(a))
        return self.norm2(x + self._ff(x)), w


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the encoder's output, feed-forward; each with
    dropout, a residual connection and LayerNorm.

    ``forward(y [N, T, d], memory [N, S, d], self_mask [T, T], memory_mask [N, 1, S])`` →
    ``(y [N, T, d], self-attention [N, h, T, T], cross-attention [N, h, T, S])``."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, dropout: float = 0.1, norm_first: bool = True) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.multihead_attn = MultiHeadAttention(d_model, num_heads)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(x)))))

    def forward(self, y: Tensor, memory: Tensor, self_mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        if self.norm_first:
            h = self.norm1(y)
            a, ws = self.self_attn(h, h, h, self_mask)
            y = y + self.dropout1(a)
            a, wc = self.multihead_attn(self.norm2(y), memory, memory, memory_mask)
            y = y + self.dropout2(a)
            return y + self._ff(self.norm3(y)), ws, wc
        a, ws = self.self_attn(y, y, y, self_mask)
        y = self.norm1(y + self.dropout1(a))
        a, wc = self.multihead_attn(y, memory, memory, memory_mask)
        y = self.norm2(y + self.dropout2(a))
        return self.norm3(y + self._ff(y)), ws, wc


class Seq2SeqTransformer(nn.Module):
    """Token embeddings × √d_model + positions, ``layers`` encoder and ``layers`` decoder layers of
    ``heads`` heads, and a linear map to the target vocabulary.

    ``src_len``: the padded source length the training data have (the split point of ``X``);
    ``max_len``: the most positions either side may have (sources typed on the page may be
    longer than the training ones)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, src_len: int, *, max_len: int = 64, d_model: int = 64,
                 heads: int = 4, layers: int = 2, d_ff: int = 128, positions: str = "sinusoidal",
                 dropout: float = 0.1, norm_first: bool = True) -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"positions must be one of {', '.join(POSITIONS)}")
        if layers < 1 or d_ff < 1:
            raise ValueError("a Transformer needs at least one layer and a feed-forward size of at least 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("the dropout rate must be at least 0 and below 1")
        if max_len < src_len:
            raise ValueError(f"max_len ({max_len}) must be at least the source length ({src_len})")
        self.src_len, self.max_len, self.d_model, self.positions = src_len, max_len, d_model, positions
        self.src_embed = nn.Embedding(src_vocab, d_model, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, d_model, padding_idx=PAD)
        for table in (self.src_embed, self.tgt_embed):  # × √d_model below brings them to unit size, like the positions
            nn.init.normal_(table.weight, std=d_model ** -0.5)
            table.weight.data[PAD] = 0.0
        if positions == "learned":
            self.src_pos: nn.Module | None = LearnedPositions(max_len, d_model)
            self.tgt_pos: nn.Module | None = LearnedPositions(max_len, d_model)
        else:
            self.src_pos = self.tgt_pos = None
            self.register_buffer("pe", sinusoidal_positions(max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, dropout, norm_first) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, heads, d_ff, dropout, norm_first) for _ in range(layers))
        # pre-norm stacks end with a LayerNorm (as torch.nn.Transformer does); post-norm ones are normalized already
        self.enc_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.out = nn.Linear(d_model, tgt_vocab)

    # ------------------------------------------------------------------ pieces

    def _embed(self, ids: Tensor, table: nn.Embedding, pos: nn.Module | None) -> Tensor:
        length = ids.shape[1]
        if length > self.max_len:
            raise ValueError(f"the sequence has {length} tokens but this model knows only {self.max_len} positions")
        x = table(ids) * math.sqrt(self.d_model)  # (N, L, d)
        x = pos(x) if pos is not None else x + self.pe[:length]
        return self.drop(x)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """``src`` [N, S] → (memory [N, S, d], padding mask [N, 1, S], True on real tokens)."""
        mask = (src != PAD)[:, None, :]
        x = self._embed(src, self.src_embed, self.src_pos)
        for layer in self.encoder:
            x, _ = layer(x, mask)
        return self.enc_norm(x), mask

    def _decode_all(self, memory: Tensor, mask: Tensor, tgt_in: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits [N, T, V] for decoder inputs ``tgt_in`` [N, T], and each layer's cross-attention [N, h, T, S]."""
        y = self._embed(tgt_in, self.tgt_embed, self.tgt_pos)
        causal = causal_mask(tgt_in.shape[1], device=tgt_in.device)
        cross = []
        for layer in self.decoder:
            y, _, wc = layer(y, memory, causal, mask)
            cross.append(wc)
        return self.out(self.dec_norm(y)), cross

    def _greedy(self, src: Tensor, max_len: int) -> tuple[Tensor, list[Tensor]]:
        """Greedy decoding for ``max_len`` steps from <sos>; the last pass's logits and cross-attention
        (the decoder is causal, so row t of the last pass is what step t computed)."""
        memory, mask = self.encode(src)
        prefix = torch.full((src.shape[0], 1), SOS, dtype=torch.long, device=src.device)
        for t in range(max_len):
            logits, cross = self._decode_all(memory, mask, prefix)
            if t + 1 < max_len:
                prefix = torch.cat([prefix, logits[:, -1].argmax(-1, keepdim=True)], 1)
        return logits, cross

    # ------------------------------------------------------------------ the Seq2Seq interface

    def decode(self, src: Tensor, tgt_in: Tensor | None = None, max_len: int | None = None) -> tuple[Tensor, Tensor]:
        """Logits [N, T, V] and the last layer's cross-attention averaged over the heads [N, T, S].

        With ``tgt_in`` [N, T] (teacher forcing) one parallel pass; without it greedy decoding
        for ``max_len`` steps from <sos>."""
        if tgt_in is not None:
            memory, mask = self.encode(src)
            logits, cross = self._decode_all(memory, mask, tgt_in)
        else:
            if not max_len or max_len < 1:
                raise ValueError("give the decoder inputs or a maximum length of at least 1")
            logits, cross = self._greedy(src, int(max_len))
        return logits, cross[-1].mean(1)

    @torch.no_grad()
    def cross_attention(self, src: Tensor, max_len: int) -> Tensor:
        """Every decoder layer's and head's cross-attention [layers, heads, T, S] of greedy decoding
        for one source ``src`` [1, S] (row t: where output token t looked)."""
        if src.dim() != 2 or src.shape[0] != 1:
            raise ValueError("give one source, shaped [1, S]")
        _, cross = self._greedy(src, max_len)
        return torch.stack([w[0] for w in cross])

    def forward(self, x: Tensor) -> Tensor:
        """``x = cat([src, tgt_in], 1)`` [N, S + T] → logits [N, T, V]."""
        src, tgt_in = x[:, : self.src_len], x[:, self.src_len:]
        return self.decode(src, tgt_in)[0]

    def step_function(self, src: Tensor):
        """For :mod:`core.seq2seq.beam`: ``(step, state)`` for one source ``src`` [1, S]. The state is
        (the generated prefix [K, t], memory [K, S, d], mask [K, 1, S]); each step appends the tokens
        and runs the decoder over the whole prefix."""

        def step(tokens: Tensor, state: tuple[Any, ...]) -> tuple[Tensor, tuple[Any, ...]]:
            prefix, memory, mask = state
            k = tokens.shape[0]
            if memory.shape[0] != k:  # the first call: one source, K hypotheses
                prefix, memory, mask = (t.expand(k, *t.shape[1:]) for t in state)
            prefix = torch.cat([prefix, tokens.to(prefix.device)[:, None]], 1)
            logits, _ = self._decode_all(memory, mask, prefix)
            return F.log_softmax(logits[:, -1].float(), dim=1), (prefix, memory, mask)

        memory, mask = self.encode(src)
        return step, (torch.zeros(src.shape[0], 0, dtype=torch.long, device=src.device), memory, mask)
