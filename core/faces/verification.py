"""One-shot face verification: same person or not, by the distance of two embeddings.

Two images are declared *the same* identity when the squared distance of their
embeddings is at most a threshold τ (``d ≤ τ``), on the same scale as the triplet loss's
margin (on the unit sphere, d ∈ [0, 4]). On identities never seen in training this is
one-shot learning: one stored image per person is enough to recognise the next.
Sweeping τ traces the ROC curve (true-accept rate against false-accept rate); its area
(AUC) is the chance that a random same pair is closer than a random different pair.

All functions take NumPy arrays or tensors and return NumPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "OneShotEval",
    "accuracy_at",
    "best_threshold",
    "embed_2d",
    "one_shot_evaluation",
    "pair_distances",
    "roc",
    "roc_auc",
    "verification_pairs",
]


def _np(a: np.ndarray | torch.Tensor | list, dtype: type | None = None) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def verification_pairs(y: np.ndarray | torch.Tensor, n_pairs: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Balanced verification pairs drawn from the labelled images ``y`` [N].

    Returns ``(pairs [M, 2] int64 indices, same [M] bool)`` with half the pairs of the same
    identity and half of different identities, drawn without repetition (``i < j``) and
    shuffled with ``seed``. ``M = n_pairs`` (rounded down to even) unless fewer pairs of
    one kind exist, then twice that number.
    """
    y = _np(y).ravel()
    if n_pairs < 2:
        raise ValueError("ask for at least 2 pairs (one same, one different)")
    i, j = np.triu_indices(len(y), k=1)
    same = y[i] == y[j]
    same_idx, diff_idx = np.flatnonzero(same), np.flatnonzero(~same)
    if len(same_idx) == 0:
        raise ValueError("no identity has two images, so there is no 'same' pair")
    if len(diff_idx) == 0:
        raise ValueError("all images show one identity, so there is no 'different' pair")
    k = min(n_pairs // 2, len(same_idx), len(diff_idx))
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(same_idx, k, replace=False), rng.choice(diff_idx, k, replace=False)])
    chosen = chosen[rng.permutation(len(chosen))]
    return np.stack([i[chosen], j[chosen]], 1).astype(np.int64), same[chosen]


def pair_distances(emb: np.ndarray | torch.Tensor, pairs: np.ndarray | torch.Tensor) -> np.ndarray:
    """Squared Euclidean distances ``‖e_i − e_j‖²`` of embeddings [N, D] for pairs [M, 2] → [M]."""
    e = _np(emb, np.float64)
    p = _np(pairs).astype(np.int64)
    if e.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {e.shape}")
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"pairs must be [M, 2] indices, got shape {p.shape}")
    diff = e[p[:, 0]] - e[p[:, 1]]
    return (diff * diff).sum(1)


def _check(distances: np.ndarray | torch.Tensor, same: np.ndarray | torch.Tensor,
           both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    d, s = _np(distances, np.float64).ravel(), _np(same).astype(bool).ravel()
    if len(d) != len(s):
        raise ValueError(f"{len(d)} distances but {len(s)} same/different labels")
    if len(d) == 0:
        raise ValueError("there are no pairs")
    if not np.all(np.isfinite(d)):
        raise ValueError("distances must be finite")
    if both and (s.all() or not s.any()):
        raise ValueError("the pairs need both kinds, same and different")
    return d, s


def roc(distances: np.ndarray | torch.Tensor, same: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ROC curve of the rule "same when d ≤ τ": ``(fpr, tpr, thresholds)``.

    One point per distinct distance, τ increasing; ``thresholds[0] = −inf`` (accept
    nothing: fpr = tpr = 0). tpr = accepted same pairs / same pairs (true-accept rate),
    fpr = accepted different pairs / different pairs (false-accept rate). Equals
    ``sklearn.metrics.roc_curve(same, -distances, drop_intermediate=False)`` with the
    thresholds negated.
    """
    d, s = _check(distances, same)
    order = np.argsort(d, kind="mergesort")
    d, s = d[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(d)), len(d) - 1]  # the last index of each distinct distance
    tps, fps = np.cumsum(s)[last], np.cumsum(~s)[last]
    tpr = np.r_[0.0, tps / s.sum()]
    fpr = np.r_[0.0, fps / (~s).sum()]
    return fpr, tpr, np.r_[-np.inf, d[last]]


def roc_auc(distances: np.ndarray | torch.Tensor, same: np.ndarray | torch.Tensor) -> float:
    """Area under :func:`roc` (trapezoids); 0.5 is chance, 1 separates every pair."""
    fpr, tpr, _ = roc(distances, same)
    return float(np.trapezoid(tpr, fpr))


def accuracy_at(distances: np.ndarray | torch.Tensor, same: np.ndarray | torch.Tensor, tau: float) -> float:
    """Fraction of pairs judged right by "same when d ≤ τ"."""
    d, s = _check(distances, same, both=False)
    return float(np.mean((d <= tau) == s))


def best_threshold(distances: np.ndarray | torch.Tensor, same: np.ndarray | torch.Tensor) -> tuple[float, float]:
    """``(τ, accuracy)``: the threshold with the highest :func:`accuracy_at`.

    Candidates are the midpoints between consecutive distinct distances, and one step below
    the smallest and above the largest (accept nothing / everything); ties go to the
    smallest τ."""
    d, s = _check(distances, same, both=False)
    order = np.argsort(d, kind="mergesort")
    d, s = d[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(d)), len(d) - 1]
    uniq = d[last]
    accepted_same = np.r_[0, np.cumsum(s)[last]]  # accepting the first k distinct values, k = 0..U
    accepted_diff = np.r_[0, np.cumsum(~s)[last]]
    correct = accepted_same + ((~s).sum() - accepted_diff)
    k = int(np.argmax(correct))
    step = (uniq[-1] - uniq[0]) / (len(uniq) - 1) if len(uniq) > 1 else 1.0
    candidates = np.r_[uniq[0] - step, (uniq[:-1] + uniq[1:]) / 2, uniq[-1] + step]
    return float(candidates[k]), float(correct[k] / len(d))


def embed_2d(emb: np.ndarray | torch.Tensor) -> np.ndarray:
    """Embeddings [N, D] → [N, 2] by PCA (the two directions of largest variance), for a
    scatter plot coloured by identity; each axis' sign is fixed like scikit-learn's
    (largest loading positive). Two-dimensional embeddings are returned as they are."""
    e = _np(emb, np.float64)
    if e.ndim != 2 or e.shape[1] < 1:
        raise ValueError(f"embeddings must be [N, D], got shape {e.shape}")
    if e.shape[1] == 2:
        return e.copy()
    if e.shape[1] == 1:
        return np.c_[e[:, 0], np.zeros(len(e))]
    x = e - e.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    vt = vt[:2]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    out = x @ vt.T
    if out.shape[1] < 2:  # a single point
        out = np.c_[out, np.zeros(len(out))]
    return out


@dataclass
class OneShotEval:
    """Verification on identities never seen in training."""

    labels: np.ndarray  # [N] identity ids of the embedded images
    embeddings: np.ndarray  # [N, D]
    points_2d: np.ndarray  # [N, 2] the embeddings in 2-D
    pairs: np.ndarray  # [M, 2] indices into the images
    same: np.ndarray  # [M] bool
    distances: np.ndarray  # [M] squared distances
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    best_tau: float
    best_accuracy: float

    def accuracy_at(self, tau: float) -> float:
        return accuracy_at(self.distances, self.same, tau)

    def rates_at(self, tau: float) -> tuple[float, float]:
        """(false-accept rate, true-accept rate) of "same when d ≤ τ": the ROC point at τ."""
        accepted = np.asarray(self.distances) <= tau
        same = np.asarray(self.same, dtype=bool)
        return float(accepted[~same].mean()), float(accepted[same].mean())

    def distance(self, i: int, j: int) -> float:
        """Squared distance between the embeddings of images ``i`` and ``j``."""
        return float(((self.embeddings[i] - self.embeddings[j]) ** 2).sum())


def one_shot_evaluation(emb: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, n_pairs: int = 1000,
                        seed: int = 0) -> OneShotEval:
    """Balanced pairs from ``labels``, their distances, the ROC curve and its AUC, the best
    τ and its accuracy, and the 2-D view of the embeddings [N, D]."""
    e, y = _np(emb, np.float64), _np(labels).ravel()
    pairs, same = verification_pairs(y, n_pairs, seed)
    d = pair_distances(e, pairs)
    fpr, tpr, thr = roc(d, same)
    tau, acc = best_threshold(d, same)
    return OneShotEval(y, e, embed_2d(e), pairs, same, d, fpr, tpr, thr, float(np.trapezoid(tpr, fpr)), tau, acc)
