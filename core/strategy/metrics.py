"""Single-number evaluation metrics and optimizing-vs-satisficing model selection.

For a binary classifier that outputs a score per example, an example is predicted
positive when its score is at least the threshold (scikit-learn's convention). Then

    precision = TP / (TP + FP)      recall = TP / (TP + FN)      F1 = 2·P·R / (P + R)

with precision = 0 when nothing is predicted positive, recall = 0 when there are no
positives and F1 = 0 when P + R = 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ACCURACY = "metrics.final_dev_accuracy"
TIME = "metrics.inference_ms_per_example"
COMPARISON = "tags.dll.comparison"
CANDIDATE_PREFIX = "candidates-"  # comparison tag of the page's candidate networks
ALL = "all tracked runs"


def _binary_inputs(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if len(y) != len(s):
        raise ValueError(f"got {len(y)} labels but {len(s)} scores")
    if len(y) == 0:
        raise ValueError("no examples to score")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
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
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
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
        "comparison": df.get(COMPARISON),
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
