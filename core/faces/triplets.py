"""The triplet loss, the kinds of triplets, and online triplet mining.

The course's loss for one triplet (anchor A, positive P of the same person, negative N of
another person) is ``L = max(0, ‖f(A) − f(P)‖² − ‖f(A) − f(N)‖² + α)`` with *squared*
Euclidean distances; :func:`triplet_loss` is its mean over a batch. (PyTorch's
``triplet_margin_loss`` uses plain, non-squared distances, so it is a different loss.)

Which triplets a batch trains on matters more than the loss itself: most random triplets
are already *easy* (zero loss, no gradient). FaceNet (Schroff, Kalenichenko & Philbin,
"FaceNet: A Unified Embedding for Face Recognition and Clustering", CVPR 2015) mines them
online, inside each mini-batch, preferring *semi-hard* negatives; Hermans, Beyer & Leibe
("In Defense of the Triplet Loss for Person Re-Identification", 2017) take, per anchor,
the hardest positive and the hardest negative of the batch ("batch hard").

With ``d_ap = ‖A − P‖²``, ``d_an = ‖A − N‖²`` and margin ``α``, a triplet is
*easy* when ``d_an > d_ap + α`` (loss 0), *semi-hard* when ``d_ap < d_an ≤ d_ap + α``
(the negative is farther than the positive but inside the margin: 0 ≤ loss < α) and
*hard* when ``d_an ≤ d_ap`` (the negative is at least as close as the positive: loss ≥ α).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

STRATEGIES = {
    "batch-hard": "per anchor, the farthest positive and the closest negative in the batch (Hermans et al. 2017)",
    "semi-hard": "every anchor-positive pair with the closest negative that is still farther than the positive "
                 "(FaceNet, Schroff et al. 2015)",
    "all": "every valid triplet of the batch, averaged (most of them easy once training is under way)",
}
KINDS = ("easy", "semi-hard", "hard")

__all__ = [
    "KINDS",
    "STRATEGIES",
    "batch_triplet_loss",
    "counts_to_stats",
    "mine_triplets",
    "pairwise_sq_distances",
    "triplet_kind",
    "triplet_loss",
    "triplet_terms",
]


def _check_margin(margin: float) -> float:
    margin = float(margin)
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"the margin α must be a number ≥ 0, got {margin}")
    return margin


def triplet_loss(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over the batch of ``max(0, ‖A − P‖² − ‖A − N‖² + α)`` (the course's triplet loss).

    ``anchor``, ``positive``, ``negative``: [B, D] embeddings, row i forming triplet i;
    ``margin``: α ≥ 0. Returns a scalar tensor. ValueError for mismatched shapes, an
    empty batch or a negative margin.
    """
    margin = _check_margin(margin)
    if anchor.ndim != 2:
        raise ValueError(f"embeddings must be [B, D] tensors, got shape {tuple(anchor.shape)}")
    if positive.shape != anchor.shape or negative.shape != anchor.shape:
        raise ValueError(f"anchor, positive and negative must have the same shape, got {tuple(anchor.shape)}, "
                         f"{tuple(positive.shape)} and {tuple(negative.shape)}")
    if anchor.shape[0] == 0:
        raise ValueError("the batch of triplets is empty")
    d_ap = (anchor - positive).pow(2).sum(1)  # ‖A − P‖², [B]
    d_an = (anchor - negative).pow(2).sum(1)  # ‖A − N‖², [B]
    return torch.clamp(d_ap - d_an + margin, min=0).mean()


def triplet_kind(d_ap: float | Sequence[float] | np.ndarray | torch.Tensor,
                 d_an: float | Sequence[float] | np.ndarray | torch.Tensor,
                 margin: float) -> str | np.ndarray:
    """"easy", "semi-hard" or "hard" for squared distances ``d_ap = ‖A − P‖²`` and
    ``d_an = ‖A − N‖²`` (scalars → a string; arrays → an array of strings).

    easy: ``d_an > d_ap + α`` (loss 0); semi-hard: ``d_ap < d_an ≤ d_ap + α``;
    hard: ``d_an ≤ d_ap``.
    """
    margin = _check_margin(margin)
    scalar = np.ndim(d_ap) == 0 and np.ndim(d_an) == 0
    ap = np.asarray(d_ap.detach().cpu() if isinstance(d_ap, torch.Tensor) else d_ap, dtype=np.float64)
    an = np.asarray(d_an.detach().cpu() if isinstance(d_an, torch.Tensor) else d_an, dtype=np.float64)
    kind = np.where(an <= ap, "hard", np.where(an <= ap + margin, "semi-hard", "easy"))
    return str(kind) if scalar else kind


def pairwise_sq_distances(emb: torch.Tensor) -> torch.Tensor:
    """All squared Euclidean distances ``‖e_i − e_j‖²`` of [N, D] embeddings → [N, N].

    Computed as ``‖e_i‖² + ‖e_j‖² − 2 e_i·e_j`` (memory N², not N²·D), clamped at 0 against
    rounding, with an exact 0 diagonal; differentiable."""
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be an [N, D] tensor, got shape {tuple(emb.shape)}")
    sq = emb.pow(2).sum(1)  # [N]
    d = (sq[:, None] + sq[None, :] - 2.0 * emb @ emb.T).clamp_min(0)  # [N, N]
    eye = torch.eye(len(emb), dtype=torch.bool, device=emb.device)
    return d.masked_fill(eye, 0.0)


def _masks(labels: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive mask: same label, not itself; negative mask: other label), both [N, N]."""
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"labels must be a [N] tensor with one label per embedding ({n}), got shape {tuple(labels.shape)}")
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(n, dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def _real(x: torch.Tensor) -> torch.Tensor:
    """float32 or float64 as given; half precision (autocast) is computed in float32."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown mining strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")


def _mine(d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor,
          strategy: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Index triplets from a (detached) distance matrix and the masks."""
    has_neg = neg.any(1)  # [N]
    if strategy == "batch-hard":
        a = torch.nonzero(pos.any(1) & has_neg).flatten()
        p = torch.where(pos, d, -torch.inf)[a].argmax(1)  # the farthest positive
        neg_d = torch.where(neg, d, torch.inf)[a].argmin(1)  # the closest negative
        return a, p, neg_d
    if strategy == "all":
        a, p, m = torch.nonzero(pos[:, :, None] & neg[:, None, :], as_tuple=True)  # N·P·Q triplets
        return a, p, m
    # semi-hard: for every anchor-positive pair the closest negative with d_an > d_ap; when
    # there is none, the farthest negative (as TensorFlow Addons' triplet_semihard_loss does)
    a, p = torch.nonzero(pos & has_neg[:, None], as_tuple=True)
    vals, order = torch.where(neg, d, torch.inf).sort(1)  # each anchor's negatives, closest first, [N, N]
    beyond = torch.searchsorted(vals, d, right=True)  # [N, N]: (a, j) → number of negatives with d_an ≤ d_aj
    n_neg = neg.sum(1)  # [N]
    k = beyond[a, p]
    k = torch.where(k < n_neg[a], k, n_neg[a] - 1)
    return a, p, order[a, k]


@torch.no_grad()
def mine_triplets(embeddings: torch.Tensor, labels: torch.Tensor,
                  strategy: str = "batch-hard") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Online triplet mining inside one batch: index tensors ``(a, p, n)`` of equal length T.

    ``embeddings`` [N, D], ``labels`` [N] (identity ids). Valid triplets have
    ``labels[a] == labels[p]``, ``a ≠ p`` and ``labels[n] ≠ labels[a]``; anchors without a
    positive or a negative in the batch are skipped. Strategies (:data:`STRATEGIES`):

    - ``"batch-hard"`` (Hermans, Beyer & Leibe 2017): one triplet per anchor, with the
      farthest positive and the closest negative → T ≤ N;
    - ``"semi-hard"`` (FaceNet, Schroff et al. 2015): every anchor-positive pair with the
      closest negative that is farther than the positive (``d_an > d_ap``; semi-hard
      when it lies inside the margin); when no negative is farther, the farthest one;
    - ``"all"``: every valid triplet (T grows like N³: use it on batches, not data sets).
    """
    _check_strategy(strategy)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be an [N, D] tensor, got shape {tuple(embeddings.shape)}")
    pos, neg = _masks(labels.to(embeddings.device), len(embeddings))
    d = pairwise_sq_distances(_real(embeddings.detach()))
    return _mine(d, pos, neg, strategy)


def _all_triplets_loss(d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float,
                       valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum, count) of ``max(0, d_ap − d_an + α)`` over every valid triplet, in O(N² log N)
    memory N² (no N³ tensor): per anchor the negatives' distances are sorted, so for each
    positive with ``t = d_ap + α`` the sum over negatives of ``max(0, t − d_an)`` is
    ``c·t − (sum of the c negatives with d_an < t)``. Differentiable."""
    big = d.detach().max() + margin + 1.0  # beyond every t: non-negatives are never counted
    vals, _ = torch.where(neg, d, big).sort(1)  # [N, N]
    csum = torch.nn.functional.pad(vals.cumsum(1), (1, 0))  # [N, N+1]: sum of the first k negatives
    t = d + margin  # [N, N]: (a, p) → d_ap + α
    c = torch.searchsorted(vals.detach(), t.detach())  # number of negatives with d_an < t
    per_pair = c.to(d.dtype) * t - csum.gather(1, c)  # Σ_n max(0, t − d_an)
    pairs = valid[:, None] & pos
    total = torch.where(pairs, per_pair, torch.zeros_like(per_pair)).sum()
    count = (pos.sum(1) * neg.sum(1)).sum()  # anchors without a positive or a negative add 0
    return total, count


def _kind_counts(d: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, margin: float) -> torch.Tensor:
    """Counts [3] of easy, semi-hard and hard triplets among every valid triplet."""
    vals, _ = torch.where(neg, d, torch.inf).sort(1)
    hard = torch.searchsorted(vals, d, right=True)  # negatives with d_an ≤ d_ap
    inside = torch.searchsorted(vals, d + margin, right=True)  # negatives with d_an ≤ d_ap + α
    n_neg = neg.sum(1, keepdim=True).expand_as(d)
    w = pos.to(d.dtype)
    hard_n = (hard.to(d.dtype) * w).sum()
    semi_n = ((inside - hard).to(d.dtype) * w).sum()
    easy_n = ((n_neg - inside).to(d.dtype) * w).sum()
    return torch.stack([easy_n, semi_n, hard_n])


def triplet_terms(embeddings: torch.Tensor, labels: torch.Tensor, margin: float, strategy: str = "batch-hard",
                  *, with_counts: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The batch loss and a [6] tensor of counts: easy, semi-hard, hard (over every valid
    triplet), all valid triplets, mined triplets, mined triplets with a positive loss
    (zeros when ``with_counts`` is False). :func:`batch_triplet_loss` turns the counts
    into fractions; a training loop can add them up over an epoch.

    Mines the same triplets as :func:`mine_triplets` but with [N, N] masks instead of
    index lists, so nothing is read back from the device (no GPU stall per step).
    """
    margin = _check_margin(margin)
    _check_strategy(strategy)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be an [N, D] tensor, got shape {tuple(embeddings.shape)}")
    emb = _real(embeddings)
    pos, neg = _masks(labels.to(emb.device), len(emb))
    d = pairwise_sq_distances(emb)  # [N, N]
    dd = d.detach()
    valid = pos.any(1) & neg.any(1)  # anchors with a positive and a negative, [N]
    n_neg = neg.sum(1)  # [N]
    if strategy == "all":
        total, count = _all_triplets_loss(d, pos, neg, margin, valid)
        loss = total / count.clamp_min(1)
        n_mined = count.to(emb.dtype)
        active = None
    else:
        if strategy == "batch-hard":
            d_ap = torch.where(pos, d, torch.zeros_like(d)).max(1).values  # the farthest positive, [N]
            big = dd.max() + margin + 1.0
            d_an = torch.where(neg, d, big).min(1).values  # the closest negative, [N]
            mask = valid
        else:  # semi-hard, for every (anchor, positive) pair as in _mine
            vals, order = torch.where(neg, dd, torch.inf).sort(1)
            k = torch.searchsorted(vals, dd, right=True)  # negatives with d_an ≤ d_ap
            k = torch.where(k < n_neg[:, None], k, n_neg[:, None] - 1).clamp_min(0)
            d_ap, d_an = d, d.gather(1, order.gather(1, k))  # [N, N]
            mask = pos & valid[:, None]
        terms = torch.clamp(d_ap - d_an + margin, min=0)  # the course's loss per mined triplet
        w = mask.to(emb.dtype)
        n_mined = w.sum()
        loss = (terms * w).sum() / n_mined.clamp_min(1)
        active = ((terms.detach() > 0) & mask).sum().to(emb.dtype)
    if not with_counts:
        return loss, torch.zeros(6, device=emb.device)
    with torch.no_grad():
        kinds = _kind_counts(dd, pos, neg, margin)
        if active is None:  # "all": the triplets with loss > 0 are those with d_an < d_ap + α
            vals, _ = torch.where(neg, dd, torch.inf).sort(1)
            inside = torch.searchsorted(vals, dd + margin)  # strictly closer than d_ap + α
            active = (inside.to(emb.dtype) * pos.to(emb.dtype)).sum()
        counts = torch.cat([kinds, kinds.sum()[None], n_mined.reshape(1), active.reshape(1)])
    return loss, counts


def counts_to_stats(counts: torch.Tensor | Sequence[float]) -> dict[str, float]:
    """A [6] count tensor of :func:`triplet_terms` (or a sum of several) → the fractions
    ``easy``, ``semi-hard``, ``hard`` (of all valid triplets), ``active`` (of the mined
    triplets with a positive loss) and the counts ``triplets`` and ``mined``."""
    easy, semi, hard, total, mined, active = (float(v) for v in (counts.tolist() if isinstance(counts, torch.Tensor)
                                                                 else counts))
    frac = 1.0 / total if total > 0 else 0.0
    return {"easy": easy * frac, "semi-hard": semi * frac, "hard": hard * frac,
            "active": active / mined if mined > 0 else 0.0, "triplets": total, "mined": mined}


def batch_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float,
                       strategy: str = "batch-hard") -> tuple[torch.Tensor, dict[str, float]]:
    """The triplet loss of one batch with online mining: ``(loss, stats)``.

    ``embeddings`` [N, D], ``labels`` [N]; the loss is the course's
    ``max(0, d_ap − d_an + α)`` averaged over the triplets :func:`mine_triplets` picks with
    ``strategy`` (for ``"all"``: over every valid triplet, computed without building the
    N³ list). A batch without any valid triplet gives 0 (still attached to the graph).
    ``stats``: fractions of ``easy``, ``semi-hard`` and ``hard`` triplets among all valid
    triplets of the batch, the fraction ``active`` of mined triplets with a positive loss,
    and the counts ``triplets`` and ``mined``.
    """
    loss, counts = triplet_terms(embeddings, labels, margin, strategy)
    return loss, counts_to_stats(counts)
