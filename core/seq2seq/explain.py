"""The "Self-attention" tab's engine: one multi-head self-attention layer with random (seeded,
untrained) weights run on a sentence the learner types, every intermediate kept for pictures.

* **Tokens**: words (a run of letters or digits, or one punctuation mark) or characters.
* **Embeddings by hashing**: each distinct token gets a vector drawn from a generator seeded by a
  hash of the token itself (and the seed). The same word therefore has the same vector in every
  sentence and in every order of the words, with no vocabulary to build or store; that is what
  the order-blindness picture needs (a table over the sentence's own vocabulary would renumber the
  words when the sentence changes). Vectors are N(0, 1) per dimension, the size of the sinusoids.
* **Positions**: optionally :func:`~core.seq2seq.attention.sinusoidal_positions` added to them.
* **Attention**: :class:`~core.seq2seq.attention.MultiHeadAttention` ``.explain(x, x, x, mask)``,
  its projections drawn N(0, 1/d_model) so Q and K have about unit variance per dimension and the
  scores QKᵀ/√d_k about unit spread whatever the head size (Vaswani et al., 2017, footnote 4:
  without the √d_k the dot products grow with d_k and the softmax saturates).

Pure: plain data (lists, NumPy arrays) out, nothing drawn here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from core.seq2seq.attention import MultiHeadAttention, causal_mask, sinusoidal_positions
from core.settings import Settings, setting

__all__ = [
    "HEADS",
    "MAX_CHARS",
    "MAX_CHAR_TOKENS",
    "MAX_TOKENS",
    "MODEL_SIZES",
    "TOKEN_MODES",
    "OrderBlindness",
    "SelfAttentionConfig",
    "SelfAttentionView",
    "embed_tokens",
    "order_blindness",
    "reordering",
    "self_attention",
    "split_tokens",
]

MAX_TOKENS = 40
MAX_CHAR_TOKENS = 60
MAX_CHARS = 400
TOKEN_MODES = {"words": "Words", "characters": "Characters"}
HEADS = (1, 2, 4)
MODEL_SIZES = (8, 16, 32, 64)
WORD = re.compile(r"\w+|[^\w\s]")


def split_tokens(text: str, mode: str = "words") -> list[str]:
    """``text`` as tokens: words and punctuation marks (``mode="words"``) or characters, spaces
    included (``"characters"``; leading and trailing spaces dropped). ``ValueError`` in a plain
    sentence for an empty text, a character that is not printable, a text over ``MAX_CHARS``
    characters or more than ``MAX_TOKENS`` words (``MAX_CHAR_TOKENS`` characters)."""
    if mode not in TOKEN_MODES:
        raise ValueError(f"tokens must be one of {', '.join(TOKEN_MODES)}, not {mode!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("The sentence is empty: type a few words.")
    if len(text) > MAX_CHARS:
        raise ValueError(f"The text has {len(text):,} characters; type at most {MAX_CHARS} (a sentence or two).")
    bad = next(((i, c) for i, c in enumerate(text) if not c.isprintable()), None)
    if bad is not None:
        i, c = bad
        raise ValueError(f"Character {i + 1} (U+{ord(c):04X}) cannot be shown: type letters, digits, spaces and "
                         "punctuation only.")
    tokens = WORD.findall(text) if mode == "words" else list(text.strip())
    most = MAX_TOKENS if mode == "words" else MAX_CHAR_TOKENS
    if len(tokens) > most:
        unit = "words and marks" if mode == "words" else "characters"
        raise ValueError(f"The sentence has {len(tokens)} {unit}; these pictures show at most {most}: shorten it.")
    return tokens


DEFAULT_REORDERING = "the mat sat on the cat because it was tired"


def reordering(text: str, mode: str = "words") -> str:
    """A suggested reordering of ``text`` for the order-blindness picture: for the default
    sentence "cat" and "mat" swap places, for any other the tokens come in reverse order."""
    tokens = split_tokens(text, mode)
    if text == SelfAttentionConfig.text:
        return DEFAULT_REORDERING
    return " ".join(reversed(tokens)) if mode == "words" else "".join(reversed(tokens))


def _token_seed(token: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}\x00{token}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def embed_tokens(tokens: Sequence[str], d_model: int, seed: int = 0) -> torch.Tensor:
    """[L, d_model] float32: each token's vector, N(0, 1) per dimension, drawn from a generator
    seeded by a hash of (seed, token): equal tokens get equal vectors, in any sentence."""
    if d_model < 1:
        raise ValueError("the model size must be at least 1")
    rows = [torch.randn(d_model, generator=torch.Generator().manual_seed(_token_seed(t, seed))) for t in tokens]
    return torch.stack(rows) if rows else torch.zeros(0, d_model)


def _layer(d_model: int, heads: int, seed: int) -> MultiHeadAttention:
    """A seeded, untrained layer whose projections are N(0, 1/d_model) (biases zero)."""
    mha = MultiHeadAttention(d_model, heads)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.randn(mha.in_proj_weight.shape, generator=g) / d_model**0.5)
        mha.out_proj.weight.copy_(torch.randn(mha.out_proj.weight.shape, generator=g) / d_model**0.5)
    return mha.eval()


@dataclass(frozen=True)
class SelfAttentionConfig(Settings):
    """The self-attention tab's settings: the sentence, how it is cut into tokens, the layer's size
    and heads, the causal mask, sinusoidal positions and the seed of the random weights."""

    text: str = setting("the cat sat on the mat because it was tired", label="A sentence",
                        help=f"At most {MAX_TOKENS} words, or {MAX_CHAR_TOKENS} characters when the tokens are characters.")
    tokens: str = setting("words", choices=TOKEN_MODES, labels=TOKEN_MODES, widget="radio", label="Cut the sentence into",
                          help="Words and punctuation marks, or single characters (spaces count).")
    heads: int = setting(2, choices=HEADS, widget="radio", label="Heads h",
                         help="Each head has its own W_Q, W_K, W_V of size d_model × d_k, with d_k = d_model / h.")
    d_model: int = setting(16, options=MODEL_SIZES, label="Model size d_model",
                           help="The length of each token's vector (embedding + position).")
    causal: bool = setting(False, label="Causal mask",
                           help="Each token may only look at itself and the tokens before it, as in a decoder "
                                "or a language model.")
    positions: bool = setting(True, label="Positions",
                              help="Add PE(pos) to each token's embedding; without it the layer cannot tell word order.")
    seed: int = setting(0, lo=0, hi=9999, label="Seed of the random weights",
                        help="Another seed draws other embeddings and other W_Q, W_K, W_V, W_O.")

    def check(self) -> None:
        split_tokens(self.text, self.tokens)


@dataclass(frozen=True)
class SelfAttentionView:
    """What one self-attention layer computed on a sentence (L tokens, h heads, d_k = d_model / h):
    ``embeddings``, ``positions`` (zeros when off) and their sum ``x`` [L, d_model]; per head ``q``,
    ``k``, ``v`` [h, L, d_k], ``scores`` QKᵀ/√d_k [h, L, L], ``mask`` as added (0 or −∞) [L, L],
    ``weights`` softmax(scores + mask) [h, L, L] (rows sum to 1), ``heads_out`` weights·V [h, L, d_k];
    ``output`` the heads concatenated and projected by W_O [L, d_model]."""

    tokens: list[str]
    d_model: int
    heads: int
    causal: bool
    embeddings: np.ndarray
    positions: np.ndarray
    x: np.ndarray
    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    scores: np.ndarray
    mask: np.ndarray
    weights: np.ndarray
    heads_out: np.ndarray
    output: np.ndarray

    @property
    def d_k(self) -> int:
        return self.d_model // self.heads


def _run(tokens: Sequence[str], cfg: SelfAttentionConfig, positions: bool) -> SelfAttentionView:
    emb = embed_tokens(tokens, cfg.d_model, cfg.seed)
    pe = sinusoidal_positions(len(tokens), cfg.d_model) if positions else torch.zeros_like(emb)
    x = (emb + pe)[None]  # [1, L, d]
    mask = causal_mask(len(tokens)) if cfg.causal else None
    maps = _layer(cfg.d_model, cfg.heads, cfg.seed).explain(x, x, x, mask)
    heads_out = maps.weights @ maps.v  # [1, h, L, d_k]
    return SelfAttentionView(
        tokens=list(tokens), d_model=cfg.d_model, heads=cfg.heads, causal=cfg.causal,
        embeddings=emb.double().numpy(), positions=pe.double().numpy(), x=x[0].double().numpy(),
        q=maps.q[0].double().numpy(), k=maps.k[0].double().numpy(), v=maps.v[0].double().numpy(),
        scores=maps.scores[0].double().numpy(), mask=maps.mask[0, 0].double().numpy(),
        weights=maps.weights[0].double().numpy(), heads_out=heads_out[0].double().numpy(),
        output=maps.output[0].double().numpy(),
    )


def self_attention(cfg: SelfAttentionConfig) -> SelfAttentionView:
    """Run the seeded, untrained self-attention layer of ``cfg`` on its sentence (Q = K = V = X)."""
    return _run(split_tokens(cfg.text, cfg.tokens), cfg, cfg.positions)


@dataclass(frozen=True)
class OrderBlindness:
    """The same tokens in two orders, through the same layer, with and without positions.

    ``tokens``: the first order; ``other``: the second; ``match[i]``: where token i of the first
    order stands in the second (equal tokens matched in turn). ``without`` and ``with_positions``
    [L]: ‖output of token i in the first order − output of the same token in the second order‖,
    without positions (zero up to rounding: attention is blind to order) and with them."""

    tokens: list[str]
    other: list[str]
    match: list[int]
    without: np.ndarray
    with_positions: np.ndarray


def order_blindness(cfg: SelfAttentionConfig, reordered: str) -> OrderBlindness:
    """Compare ``cfg.text`` with ``reordered`` (the same tokens in another order) through the layer
    of ``cfg``, once without positions and once with sinusoidal positions (``cfg.positions`` and
    ``cfg.causal`` are ignored: a causal mask itself depends on the order). ``ValueError`` when the
    tokens differ."""
    first = split_tokens(cfg.text, cfg.tokens)
    second = split_tokens(reordered, cfg.tokens)
    if sorted(first) != sorted(second):
        extra = sorted(set(second) - set(first)) or sorted(set(first) - set(second))
        detail = f" ({', '.join(repr(t) for t in extra[:5])} differ)" if extra else " (some appear a different number of times)"
        raise ValueError("The reordered sentence must use exactly the same "
                         f"{'words' if cfg.tokens == 'words' else 'characters'} as the first one{detail}.")
    free: dict[str, list[int]] = {}
    for j, t in enumerate(second):
        free.setdefault(t, []).append(j)
    match = [free[t].pop(0) for t in first]
    cfg = replace(cfg, causal=False)
    out = {}
    for positions in (False, True):
        a, b = _run(first, cfg, positions).output, _run(second, cfg, positions).output
        out[positions] = np.linalg.norm(a - b[match], axis=1)
    return OrderBlindness(first, second, match, out[False], out[True])
