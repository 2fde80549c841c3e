"""The encoder–decoder, with or without attention.

* Without attention (Sutskever et al., 2014, "Sequence to Sequence Learning with Neural
  Networks"; Cho et al., 2014): a bidirectional recurrent encoder reads the source and its
  final states are squeezed into **one fixed-size context vector**; the decoder starts from
  it and also sees it at every step.
* With attention (Bahdanau, Cho & Bengio, 2015, "Neural Machine Translation by Jointly
  Learning to Align and Translate"): at every output step t the decoder
  1. scores its previous state s₍ₜ₋₁₎ against every encoder state hⱼ (additive scores
     eₜⱼ = vᵀ tanh(W s₍ₜ₋₁₎ + U hⱼ); padding gets −∞),
  2. turns the scores into weights αₜⱼ with a softmax (they sum to 1 over the source),
  3. takes the weighted sum cₜ = Σⱼ αₜⱼ hⱼ as a context made for this step,
  4. and generates the next token from its input, cₜ and its new state.

The model fits :func:`core.training.fit`: ``model(X)`` with ``X = cat([src, tgt_in], 1)``
(``src`` [N, S] ids padded with <pad>, ``tgt_in`` [N, T] = <sos> y₁ … yₜ₋₁) returns
logits [N, T, V]. While training, each decoder input is the ground truth with probability
``teacher_forcing`` and the model's own previous prediction otherwise.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.data.vocab import PAD, SOS

__all__ = ["ENCODER_CELLS", "Seq2Seq"]

ENCODER_CELLS = ("GRU", "LSTM")


class Seq2Seq(nn.Module):
    """A bidirectional GRU/LSTM encoder and a GRU/LSTM decoder, optionally with additive attention."""

    def __init__(self, src_vocab: int, tgt_vocab: int, src_len: int, *, attention: bool = True, cell: str = "GRU",
                 embed_dim: int = 32, hidden: int = 64, teacher_forcing: float = 1.0) -> None:
        super().__init__()
        if cell not in ENCODER_CELLS:
            raise ValueError(f"cell must be one of {', '.join(ENCODER_CELLS)}")
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError("the teacher-forcing ratio must be between 0 and 1")
        self.src_len, self.attention, self.cell_type = src_len, attention, cell
        self.teacher_forcing = teacher_forcing
        self.hidden = hidden
        rnn = nn.GRU if cell == "GRU" else nn.LSTM
        self.src_embed = nn.Embedding(src_vocab, embed_dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_dim, padding_idx=PAD)
        self.encoder = rnn(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)  # encoder summary → decoder's first state
        self.decoder = (nn.GRUCell if cell == "GRU" else nn.LSTMCell)(embed_dim + 2 * hidden, hidden)
        if attention:
            self.att_query = nn.Linear(hidden, hidden, bias=False)  # W
            self.att_key = nn.Linear(2 * hidden, hidden)  # U
            self.att_v = nn.Linear(hidden, 1, bias=False)  # v
        self.out = nn.Linear(hidden + 2 * hidden + embed_dim, tgt_vocab)

    # ------------------------------------------------------------------ encoder

    def encode(self, src: torch.Tensor) -> tuple[Any, ...]:
        """``src`` [N, S] → the decoder's starting state ``(s, c, memory, keys, mask, summary)``:
        s, c [N, H] (c unused by a GRU), memory [N, S, 2H] the encoder states, keys [N, S, H]
        their projections U·hⱼ (attention only), mask [N, S] true on real tokens, summary
        [N, 2H] the fixed context vector."""
        mask = src != PAD
        n, length = src.shape
        memory, _ = self.encoder(self.src_embed(src))  # (N, S, 2H); <pad> embeds to zeros, no packing (speed)
        last = (mask.sum(1) - 1).clamp_min(0)  # the last real position of each source
        forward_last = memory[torch.arange(n, device=src.device), last, : self.hidden]  # read everything
        backward_first = memory[:, 0, self.hidden:]  # read from the end back to the first token
        summary = torch.cat([forward_last, backward_first], dim=1)  # (N, 2H): the fixed context vector
        s = torch.tanh(self.bridge(summary))
        keys = self.att_key(memory) if self.attention else memory[..., :0]
        return s, torch.zeros_like(s), memory, keys, mask, summary

    # ------------------------------------------------------------------ one decoder step

    def _step(self, token: torch.Tensor, state: tuple[Any, ...]) -> tuple[torch.Tensor, tuple[Any, ...], torch.Tensor | None]:
        """One output step: ``token`` [K] the previous output → (logits [K, V], new state,
        attention weights [K, S] or None)."""
        s, c, memory, keys, mask, summary = state
        emb = self.tgt_embed(token)  # (K, E)
        weights = None
        if self.attention:
            scores = self.att_v(torch.tanh(self.att_query(s)[:, None, :] + keys)).squeeze(-1)  # 1. (K, S)
            scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores, dim=1)  # 2. α, sums to 1 over the source
            context = torch.bmm(weights[:, None, :], memory).squeeze(1)  # 3. (K, 2H) Σ αⱼ hⱼ
        else:
            context = summary  # the one fixed context vector
        x = torch.cat([emb, context], dim=1)
        if self.cell_type == "GRU":
            s = self.decoder(x, s)
        else:
            s, c = self.decoder(x, (s, c))
        logits = self.out(torch.cat([s, context, emb], dim=1))  # 4. the next token from s, c and the input
        return logits, (s, c, memory, keys, mask, summary), weights

    # ------------------------------------------------------------------ whole sequences

    def decode(self, src: torch.Tensor, tgt_in: torch.Tensor | None = None, max_len: int | None = None,
               teacher_forcing: float | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits [N, T, V] and attention weights [N, T, S] (None without attention).

        With ``tgt_in`` [N, T] the decoder input at step t is ``tgt_in[:, t]`` with
        probability ``teacher_forcing`` (default: the model's ratio while training, 1 in
        eval) and its own previous prediction otherwise; without it, it decodes greedily
        for ``max_len`` steps from <sos>."""
        state = self.encode(src)
        n = src.shape[0]
        steps = tgt_in.shape[1] if tgt_in is not None else int(max_len or 0)
        if steps < 1:
            raise ValueError("give the decoder inputs or a maximum length of at least 1")
        ratio = teacher_forcing if teacher_forcing is not None else (self.teacher_forcing if self.training else 1.0)
        if tgt_in is None:
            ratio = 0.0
        token = tgt_in[:, 0] if tgt_in is not None else torch.full((n,), SOS, dtype=torch.long, device=src.device)
        all_logits, all_weights = [], []
        for t in range(steps):
            logits, state, weights = self._step(token, state)
            all_logits.append(logits)
            if weights is not None:
                all_weights.append(weights)
            if t + 1 < steps:
                guess = logits.argmax(1)
                if ratio >= 1.0:
                    token = tgt_in[:, t + 1]
                elif ratio <= 0.0:
                    token = guess
                else:
                    truth = torch.rand(n, device=src.device) < ratio
                    token = torch.where(truth, tgt_in[:, t + 1], guess)
        logits = torch.stack(all_logits, 1)  # (N, T, V)
        return logits, (torch.stack(all_weights, 1) if all_weights else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x = cat([src, tgt_in], 1)`` [N, S + T] → logits [N, T, V]."""
        src, tgt_in = x[:, : self.src_len], x[:, self.src_len:]
        return self.decode(src, tgt_in)[0]

    def step_function(self, src: torch.Tensor):
        """For :mod:`core.seq2seq.beam`: ``(step, state)`` for one source ``src`` [1, S];
        ``step(tokens [K], state) → (log_probs [K, V], state)``."""

        def step(tokens: torch.Tensor, state: tuple[Any, ...]) -> tuple[torch.Tensor, tuple[Any, ...]]:
            k = tokens.shape[0]
            if state[0].shape[0] != k:  # the first call: one source, K hypotheses
                state = tuple(t.expand(k, *t.shape[1:]) for t in state)
            logits, state, _ = self._step(tokens.to(src.device), state)
            return F.log_softmax(logits.float(), dim=1), state

        return step, self.encode(src)
