"""Single-number evaluation metrics and optimizing-vs-satisficing model selection.

For a binary classifier that outputs a score per example, an example is predicted
positive when its score is at least the threshold (scikit-learn's convention). Then

    precision = TP / (TP + FP)      recall = TP / (TP + FN)      F1 = 2·P·R / (P + R)

with precision = 0 when nothing is predicted positive, recall = 0 when there are no
positives and F1 = 0 when P + R = 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.experiment import confusion_matrix
from core.runs import COMPARISON_TAG

ACCURACY = "metrics.final_dev_accuracy"
TIME = "metrics.inference_ms_per_example"
CANDIDATE_PREFIX = "candidates-"  # comparison tag of the page's candidate networks
ALL = "all tracked runs"


def _binary_labels(y_true: Any) -> np.ndarray:
    """``y_true`` as an int array [N] of 0/1 class labels; ``ValueError`` with a plain message otherwise.

    Floats are accepted when they are exactly 0.0 or 1.0 (scikit-learn accepts them too); continuous
    values such as 0.7, NaN or infinity are refused rather than truncated to 0 — scikit-learn's
    ``precision_score`` and ``precision_recall_curve`` raise ``ValueError`` on them as well.
    """
    raw = np.asarray(y_true)
    if raw.dtype.kind in "fc":
        if not np.isfinite(raw).all():
            raise ValueError("labels must be 0/1 class labels, got NaN or infinity")
        continuous = raw != np.round(raw.real)
        if continuous.any():
            raise ValueError(f"labels must be 0/1 class labels, got continuous values (e.g. {raw[continuous].flat[0]:g})")
        raw = raw.real
    elif raw.dtype.kind not in "biu":
        try:
            raw = raw.astype(float)
        except (TypeError, ValueError):
            raise ValueError("labels must be 0/1 class labels (numbers), got something else") from None
        return _binary_labels(raw)
    y = raw.astype(int).ravel()
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
    return y


def _binary_inputs(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, scores)`` as arrays [N] (int 0/1 labels, float scores); ``ValueError`` with a plain message
    for continuous or non-0/1 labels (see :func:`_binary_labels`), mismatched lengths, no examples or
    non-finite scores."""
    y = _binary_labels(y_true)
    s = np.asarray(scores, dtype=float).ravel()
    if len(y) != len(s):
        raise ValueError(f"got {len(y)} labels but {len(s)} scores")
    if len(y) == 0:
        raise ValueError("no examples to score")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    return y, s


def precision_recall_f1(y_true: Any, scores: Any, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall, F1, accuracy and the confusion counts at ``threshold``.

    ``y_true``: [N] labels in {0, 1}; ``scores``: [N] scores (e.g. P(positive)).
    """
    y, s = _binary_inputs(y_true, scores)
    if not np.isfinite(threshold):
        raise ValueError("the threshold must be a finite number")
    (tn, fp), (fn, tp) = confusion_matrix(y, s >= threshold, 2).tolist()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": (tp + tn) / len(y),
            "tp": tp, "fp": fp, "fn": fn, "tn": tn, "threshold": float(threshold)}


def pr_curve(y_true: Any, scores: Any) -> dict[str, np.ndarray]:
    """Precision, recall and F1 at every distinct score used as the threshold (ascending
    thresholds, so recall falls along the arrays). Returns ``threshold``, ``precision``,
    ``recall``, ``f1`` arrays of equal length."""
    y, s = _binary_inputs(y_true, scores)
    thresholds = np.unique(s)  # ascending
    y_sorted = y[np.argsort(-s, kind="stable")]  # highest score first
    tp_cum = np.cumsum(y_sorted)
    fp_cum = np.cumsum(1 - y_sorted)
    # for threshold t: predicted positive = scores >= t = the first k sorted, k = #(s >= t)
    k = len(s) - np.searchsorted(np.sort(s), thresholds, side="left")
    tp = tp_cum[k - 1].astype(float)
    fp = fp_cum[k - 1].astype(float)
    pos = float(y.sum())
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 0.0)
    recall = tp / pos if pos else np.zeros_like(tp)
    denom = precision + recall
    f1 = np.where(denom > 0, 2 * precision * recall / np.where(denom > 0, denom, 1), 0.0)
    return {"threshold": thresholds, "precision": precision, "recall": recall, "f1": f1}


def best_f1_threshold(curve: dict[str, np.ndarray]) -> float:
    """The threshold of :func:`pr_curve` with the highest F1 (the lowest such threshold)."""
    return float(curve["threshold"][int(np.argmax(curve["f1"]))])


def candidate_runs(runs):  # (pandas.DataFrame) -> pandas.DataFrame
    """Finished runs of :func:`core.tracking.search_runs` with both a final dev accuracy and an
    inference time: ``run_id, experiment, run_name, dev_accuracy, ms_per_example, comparison``
    (the run's comparison tag, or None)."""
    import pandas as pd

    cols = ["run_id", "experiment", "run_name", "dev_accuracy", "ms_per_example", "comparison"]
    if runs is None or len(runs) == 0 or ACCURACY not in runs or TIME not in runs:
        return pd.DataFrame(columns=cols)
    df = runs.dropna(subset=[ACCURACY, TIME])
    if "status" in df:
        df = df[df["status"] == "FINISHED"]
    out = pd.DataFrame({
        "run_id": df["run_id"],
        "experiment": df.get("experiment", ""),
        "run_name": df.get("run_name", ""),
        "dev_accuracy": df[ACCURACY].astype(float),
        "ms_per_example": df[TIME].astype(float),
        "comparison": df.get(COMPARISON_TAG),
    })
    return out.reset_index(drop=True)


def candidate_scopes(candidates) -> list[str]:
    """Which runs to choose among: ``ALL``, ``"experiment: <name>"`` per experiment, and
    ``"comparison: <tag>"`` per comparison group that trained candidate networks (newest first,
    as the runs come)."""
    scopes = [ALL]
    if len(candidates):
        scopes += [f"experiment: {e}" for e in sorted(candidates["experiment"].dropna().unique())]
        tags = [c for c in candidates["comparison"].dropna().unique() if str(c).startswith(CANDIDATE_PREFIX)]
        scopes += [f"comparison: {c}" for c in tags]
    return scopes


def in_scope(candidates, scope: str):  # -> pandas.DataFrame
    """The candidates that :func:`candidate_scopes`' ``scope`` names."""
    if scope == ALL:
        return candidates
    kind, _, value = scope.partition(": ")
    column = {"experiment": "experiment", "comparison": "comparison"}.get(kind)
    if column is None or not value:
        raise ValueError(f"unknown scope {scope!r}")
    return candidates[candidates[column] == value].reset_index(drop=True)


def select_satisficing(candidates, max_ms: float):  # (pandas.DataFrame, float) -> (DataFrame, str | None)
    """Optimize dev accuracy subject to the satisficing limit ``ms_per_example <= max_ms``.

    ``candidates``: a table with ``run_id``, ``dev_accuracy`` and ``ms_per_example``.
    Returns the table sorted by accuracy (best first) with a ``feasible`` column, and the
    chosen run's id (highest accuracy among the feasible runs, the faster one on a tie) or
    ``None`` when no run meets the limit.
    """
    if not np.isfinite(max_ms) or max_ms < 0:
        raise ValueError("the inference-time limit must be a non-negative number of milliseconds")
    missing = {"run_id", "dev_accuracy", "ms_per_example"} - set(candidates.columns)
    if missing:
        raise ValueError(f"the candidate table lacks the column(s) {', '.join(sorted(missing))}")
    table = candidates.copy()
    table["feasible"] = table["ms_per_example"] <= max_ms
    table = table.sort_values(["dev_accuracy", "ms_per_example"], ascending=[False, True]).reset_index(drop=True)
    feasible = table[table["feasible"]]
    chosen = None if feasible.empty else str(feasible.iloc[0]["run_id"])
    return table, chosen


# --------------------------------------------------------------- what the page shows


def best_f1_slider_value(curve: dict[str, np.ndarray]) -> float:
    """:func:`best_f1_threshold` rounded *down* to the threshold slider's step (0.001), so the
    slider keeps every example of the best threshold on the positive side."""
    return math.floor(best_f1_threshold(curve) * 1000) / 1000


def metric_cards(m: dict[str, float]) -> list[tuple[str, str]]:
    """``(label, value)`` of precision, recall, F1 and accuracy of :func:`precision_recall_f1`, 3 decimals."""
    names = {"precision": "Precision", "recall": "Recall", "f1": "F1", "accuracy": "Accuracy"}
    return [(label, f"{m[key]:.3f}") for key, label in names.items()]


def confusion_caption(y_true: Any, positive: int, m: dict[str, float]) -> str:
    """The dev set's size and positives, and the confusion counts of :func:`precision_recall_f1`.
    ``y_true``: [N] 0/1 labels, checked as :func:`precision_recall_f1` checks them."""
    y = _binary_labels(y_true)
    return (f"Dev set: {len(y)} digits, {int(y.sum())} of them {positive}s. At this threshold: "
            f"TP {m['tp']}, FP {m['fp']}, FN {m['fn']}, TN {m['tn']}.")


def curve_table(curve: dict[str, np.ndarray]):  # -> pandas.DataFrame
    """:func:`pr_curve` as a table: one row per threshold."""
    import pandas as pd

    return pd.DataFrame(curve)


def newest_candidate_scope(scopes: list[str]) -> str | None:
    """The first (newest) ``"comparison: …"`` scope of :func:`candidate_scopes`, or None."""
    return next((sc for sc in scopes if sc.startswith("comparison: ")), None)


def limit_start(candidates) -> tuple[float, float]:
    """A starting inference-time limit and a step for it, both in µs per example: the median
    time of the candidates rounded up to 0.001 µs, and a quarter of it rounded up (at least 0.001)."""
    median_us = float((candidates["ms_per_example"] * 1000).median())
    return math.ceil(median_us * 1000) / 1000, max(math.ceil(median_us * 250) / 1000, 0.001)


@dataclass(frozen=True)
class SatisficingView:
    """:func:`select_satisficing` for a limit in µs, with what the page shows about it."""

    ranked: Any  # pandas.DataFrame: select_satisficing's table
    chosen: str | None  # run id, None when no run is fast enough
    max_ms: float  # the limit in ms per example
    message: str  # the choice, or why there is none
    table: Any  # pandas.DataFrame: the ranked runs as shown (times in µs, which one is chosen)


def satisficing_view(candidates, limit_us: float) -> SatisficingView:
    """Choose among ``candidates`` (a :func:`candidate_runs` table) under a limit of ``limit_us``
    µs per example and describe the choice."""
    max_ms = limit_us / 1000
    ranked, chosen = select_satisficing(candidates, max_ms)
    if chosen is None:
        fastest = float((candidates["ms_per_example"] * 1000).min())
        message = f"No run is that fast: the fastest needs {fastest:.3g} µs per example. Raise the limit."
    else:
        best = ranked[ranked["run_id"] == chosen].iloc[0]
        message = (f"Chosen: **{best['run_name']}** ({best['experiment']}) with dev accuracy "
                   f"{best['dev_accuracy']:.1%} at {best['ms_per_example'] * 1000:.3g} µs per example: the most "
                   f"accurate of the {int(ranked['feasible'].sum())} run(s) within {limit_us:.3g} µs.")
    table = ranked.assign(us_per_example=ranked["ms_per_example"] * 1000, chosen=ranked["run_id"] == chosen)
    table = table[["run_name", "experiment", "dev_accuracy", "us_per_example", "feasible", "chosen", "run_id",
                   "comparison"]]
    return SatisficingView(ranked, chosen, max_ms, message, table)
