"""Decoding an output sequence: greedy search and beam search with length normalization.

Both work on any *step function*: ``step(tokens, state) -> (log_probs, state)`` with
``tokens`` [K] the last token of each of K partial hypotheses, ``state`` whatever the model
carries for them (a tensor or a tuple of tensors whose first dimension is K; ``None`` is
allowed) and ``log_probs`` [K, V] the log-probabilities of the next token. A trained
encoder–decoder provides one (:meth:`core.seq2seq.model.Seq2Seq.step_function`); so does a
hand-made table in the tests.

Beam search (the course's algorithm; Graves 2012 / Sutskever et al. 2014 made it standard
for sequence-to-sequence models):

1. start from <sos>; 2. extend every kept hypothesis by every token; 3. keep the B
extensions with the highest **cumulative** log-probability Σ log P; an extension that ends
in <eos> is finished and leaves the beam; 4. repeat until no hypothesis is left or the
maximum length is reached (then the unfinished ones count as they are); 5. pick the
hypothesis with the best **normalized score** (1/T^α)·Σ log P.

T counts the generated tokens including <eos>. α = 0 ranks by the raw sum (which prefers
short outputs), α = 1 by the mean log-probability per token. With B = 1 every step keeps
the single most probable token: greedy search.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["BeamResult", "Hypothesis", "TreeNode", "beam_search", "greedy_search", "log_prob_of", "normalized_score"]

StepFn = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]


def normalized_score(log_probs: Sequence[float] | torch.Tensor, alpha: float) -> float:
    """(1/T^α) · Σₜ log P(yₜ | x, y₁…yₜ₋₁) for the T per-token log-probabilities given.

    ``alpha`` between 0 (no normalization) and 1 (the mean). Raises ``ValueError`` for an
    empty sequence or a negative α."""
    values = [float(v) for v in (log_probs.flatten().tolist() if isinstance(log_probs, torch.Tensor) else log_probs)]
    if not values:
        raise ValueError("the sequence has no tokens: T must be at least 1")
    if alpha < 0:
        raise ValueError("the length-normalization exponent α must not be negative")
    return sum(values) / (len(values) ** alpha)


@dataclass
class Hypothesis:
    """A decoded sequence: its token ids (without <sos>, with <eos> when it finished),
    the log-probability of each token, and whether it ended with <eos>."""

    tokens: list[int]
    token_log_probs: list[float]
    finished: bool

    @property
    def log_prob(self) -> float:
        """Σ log P: the raw score beam search keeps the beam with."""
        return float(sum(self.token_log_probs))

    @property
    def length(self) -> int:
        return len(self.tokens)

    def score(self, alpha: float) -> float:
        return normalized_score(self.token_log_probs, alpha)


@dataclass
class TreeNode:
    """One partial hypothesis considered by beam search (for drawing the search tree)."""

    id: int
    parent: int | None  # None for the root (<sos>)
    step: int  # 0 for the root, t for a hypothesis of t tokens
    token: int
    log_prob: float  # cumulative
    kept: bool  # survived the pruning of its step (the root is kept)
    finished: bool = False  # ended with <eos>


@dataclass
class BeamResult:
    """Beam search's finished hypotheses, best normalized score first, and the tree."""

    hypotheses: list[Hypothesis]
    alpha: float
    beam_width: int
    tree: list[TreeNode] = field(default_factory=list)

    @property
    def best(self) -> Hypothesis:
        return self.hypotheses[0]


def _select(state: Any, idx: torch.Tensor) -> Any:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.index_select(0, idx.to(state.device))
    if isinstance(state, (tuple, list)):
        return type(state)(_select(s, idx) for s in state)
    raise TypeError("a decoder state must be a tensor, a tuple of tensors or None")


def _check(beam_width: int, max_len: int) -> None:
    if beam_width < 1:
        raise ValueError("the beam width B must be at least 1")
    if max_len < 1:
        raise ValueError("the maximum output length must be at least 1")


@torch.no_grad()
def greedy_search(step: StepFn, state: Any, sos: int, eos: int, max_len: int) -> Hypothesis:
    """At each step the single most probable next token, until <eos> or ``max_len`` tokens."""
    _check(1, max_len)
    tokens: list[int] = []
    lps: list[float] = []
    last = torch.tensor([sos])
    for _ in range(max_len):
        log_probs, state = step(last, state)
        lp = log_probs[0].float()
        tok = int(lp.argmax())
        tokens.append(tok)
        lps.append(float(lp[tok]))
        if tok == eos:
            return Hypothesis(tokens, lps, True)
        last = torch.tensor([tok])
    return Hypothesis(tokens, lps, False)


@torch.no_grad()
def beam_search(step: StepFn, state: Any, sos: int, eos: int, beam_width: int, max_len: int, alpha: float = 0.7,
                *, record_tree: bool = False, tree_pruned_per_parent: int = 3) -> BeamResult:
    """Beam search with width ``beam_width`` (see the module docstring); returns every
    finished hypothesis, best normalized score first (at most ``beam_width`` per step
    finish, so there may be more than B in all).

    ``record_tree``: keep the search tree (every kept hypothesis, and for each expanded one
    its ``tree_pruned_per_parent`` most probable pruned extensions)."""
    _check(beam_width, max_len)
    if alpha < 0:
        raise ValueError("the length-normalization exponent α must not be negative")
    # alive hypotheses: token lists, per-token log-probs, node ids
    alive_tokens: list[list[int]] = [[]]
    alive_lps: list[list[float]] = [[]]
    alive_ids: list[int] = [0]
    cum = torch.zeros(1, dtype=torch.float64)
    tree = [TreeNode(0, None, 0, sos, 0.0, True)] if record_tree else []
    finished: list[Hypothesis] = []
    last = torch.tensor([sos])
    for t in range(1, max_len + 1):
        log_probs, state = step(last, state)
        log_probs = log_probs.double().cpu()  # [K, V]
        k, v = log_probs.shape
        total = (cum[:, None] + log_probs).flatten()  # [K·V] cumulative Σ log P of every extension
        n_keep = min(beam_width, total.numel())
        # stable ranking: ties go to the earlier hypothesis, then the smaller token id (as argmax does)
        order = torch.sort(total, descending=True, stable=True).indices
        keep = order[:n_keep]
        if record_tree:
            kept_set = set(keep.tolist())
            shown: dict[int, int] = {}
            for flat in order.tolist():
                parent, tok = divmod(flat, v)
                is_kept = flat in kept_set
                if not is_kept:
                    if shown.get(parent, 0) >= tree_pruned_per_parent:
                        continue
                    shown[parent] = shown.get(parent, 0) + 1
                tree.append(TreeNode(len(tree), alive_ids[parent], t, tok, float(total[flat]), is_kept,
                                     is_kept and tok == eos))
            node_of = {(n.parent, n.token): n.id for n in tree if n.step == t}
        next_rows, next_tokens, next_lps, next_ids, next_cum = [], [], [], [], []
        for flat in keep.tolist():
            parent, tok = divmod(flat, v)
            toks = alive_tokens[parent] + [tok]
            lps = alive_lps[parent] + [float(log_probs[parent, tok])]
            if tok == eos:
                finished.append(Hypothesis(toks, lps, True))
                continue
            next_rows.append(parent)
            next_tokens.append(toks)
            next_lps.append(lps)
            next_ids.append(node_of[(alive_ids[parent], tok)] if record_tree else 0)
            next_cum.append(float(total[flat]))
        if not next_rows:
            break
        idx = torch.tensor(next_rows)
        state = _select(state, idx)
        alive_tokens, alive_lps, alive_ids = next_tokens, next_lps, next_ids
        cum = torch.tensor(next_cum, dtype=torch.float64)
        last = torch.tensor([toks[-1] for toks in alive_tokens])
    else:
        finished.extend(Hypothesis(toks, lps, False) for toks, lps in zip(alive_tokens, alive_lps, strict=True))
    finished.sort(key=lambda h: -h.score(alpha))
    return BeamResult(finished, alpha, beam_width, tree)


@torch.no_grad()
def log_prob_of(step: StepFn, state: Any, sos: int, tokens: Sequence[int]) -> list[float]:
    """The per-token log-probabilities of a given output ``tokens`` (forced decoding)."""
    out: list[float] = []
    last = torch.tensor([sos])
    for tok in tokens:
        log_probs, state = step(last, state)
        out.append(float(log_probs[0, tok]))
        last = torch.tensor([tok])
    return out

