"""What the Regularization page shows of its experiments, without any drawing: the job's
live series picked by name, chart titles, rows for the error bars and tables, the sentences
built from a finished result's numbers, and the augmentation preview's labels.

Every function is pure (data in, plain Python or pandas out), so the page only places the
widgets and charts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.regularization.augment import AUGMENTATIONS, DESCRIPTIONS, AugmentSpec, preview
from core.regularization.lab import RegLane, RegResult, Setup, diagnosis, prepare_setup, results_table
from core.regularization.measures import BatchNormLook

Rows = list[dict[str, Any]]

# ------------------------------------------------------------------------- live series


def step_series(metrics: Mapping[str, Rows]) -> dict[str, Rows]:
    """The per-step series (one per lane): those whose name has no "/" (the per-epoch and
    train series are ``lane/epochs`` and ``lane/train``)."""
    return {k: v for k, v in metrics.items() if "/" not in k}


def curve_title(metric: str, train: bool = True) -> str:
    """The title of a per-epoch chart of ``metric`` ("error" or "loss"), with or without
    the dashed train curves."""
    if train:
        return f"{metric.capitalize()} per epoch: train dashed, dev solid"
    return f"Dev {metric} per epoch"


# ---------------------------------------------------------------------- finished result


def error_rows(result: RegResult) -> list[tuple[str, float | None, float | None]]:
    """``(lane, train error, dev error)`` per lane for the error bars; empty when no lane
    has a train error (nothing finished)."""
    rows = [(ln.name, ln.train_error, ln.dev_error) for ln in result.lanes]
    return rows if any(r[1] is not None for r in rows) else []


def lane_diagnoses(result: RegResult) -> list[str]:
    """One Markdown bullet per finished lane: its train and dev error as percentages and the
    course's reading of them (see :func:`~core.regularization.lab.diagnosis`)."""
    return [
        f"- **{ln.name}**: train error {ln.train_error:.1%}, dev error {ln.dev_error:.1%} "
        f"→ {diagnosis(ln.train_error, ln.dev_error)}"
        for ln in result.lanes
        if ln.dev_error is not None
    ]


def results_frame(result: RegResult) -> pd.DataFrame:
    """:func:`~core.regularization.lab.results_table` as a DataFrame (one row per lane)."""
    return pd.DataFrame(results_table(result))


def comparison_caption(result: RegResult) -> str:
    """The caption under a results table: the runs' comparison tag and the data sizes."""
    return f"Comparison tag `{result.comparison}` · data sizes {result.sizes}"


def download_names(what: str) -> tuple[str, str]:
    """``(file name, button label)`` of an experiment's CSV download; ``what`` names the
    experiment in the label ("early-stopping"), the file uses underscores."""
    if not what.strip():
        raise ValueError("name the experiment")
    return f"regularization_{what.replace('-', '_').replace(' ', '_')}.csv", f"Download {what} results (CSV)"


# ----------------------------------------------------------------------- early stopping


def early_stopped_lane(result: RegResult) -> RegLane | None:
    """The first lane that trained with early stopping (patience > 0) and has a best epoch."""
    return next((ln for ln in result.lanes if ln.spec and ln.spec.patience and ln.history.best_epoch), None)


def early_stop_marks(result: RegResult | None) -> dict[str, dict[str, int]] | None:
    """``{lane: {"best": best epoch, "stopped": epochs run}}`` for the curves' marks, or
    ``None`` without a result or an early-stopped lane."""
    lane = early_stopped_lane(result) if result is not None else None
    if lane is None:
        return None
    return {lane.name: {"best": lane.history.best_epoch, "stopped": len(lane.history.epochs)}}


def early_stop_summary(lane: RegLane | None) -> str | None:
    """A sentence on where early stopping stopped, which epoch it went back to and the
    returned network's dev loss next to that epoch's; ``None`` when the lane did not finish."""
    if lane is None or not lane.final:
        return None
    hist = lane.history
    best_row = hist.epochs[hist.best_epoch - 1]
    how = "stopped early" if hist.stopped_early else "ran all epochs (the dev set kept improving)"
    return (
        f"Early stopping {how} after epoch {len(hist.epochs)} and went back to epoch "
        f"{hist.best_epoch}. Dev loss of the returned network: **{lane.final['dev_loss']:.4f}** "
        f"(at epoch {hist.best_epoch} it was {best_row['dev_loss']:.4f})."
    )


# --------------------------------------------------------------------------- batch norm


def bn_look_intro(look: BatchNormLook, lane: str) -> str:
    """The sentence above the look inside the first batch-norm layer of ``lane``."""
    return (
        f"**Inside the first batch-norm layer** of *{lane}*, fed one dev mini-batch "
        f"of {look.batch_size} examples: the running averages (used in eval mode) next to the batch's "
        "own statistics (used in training)."
    )


def bn_checks(look: BatchNormLook) -> pd.DataFrame:
    """The look's three largest differences as a table with columns "check" and "largest difference"."""
    return pd.DataFrame([
        {"check": "eval-mode output − formula with the running μ, σ²", "largest difference": look.eval_vs_running},
        {"check": "training-mode output − formula with the batch's μ, σ²", "largest difference": look.train_vs_batch},
        {"check": "eval-mode output − training-mode output", "largest difference": look.eval_vs_batch},
    ])


# ------------------------------------------------------------------------------- sweep


def lambda_sq_norms(result: RegResult) -> dict[str, float]:
    """Σ_l ‖W^[l]‖²_F of every λ lane (name "λ=…") that has weight norms."""
    return {ln.name: sum(v * v for v in ln.weight_norms) for ln in result.lanes
            if ln.name.startswith("λ=") and ln.weight_norms}


# ------------------------------------------------------------------------ augmentation


def transform_legend() -> str:
    """Every transformation with what it does, as one Markdown line."""
    return " · ".join(f"**{t}**: {DESCRIPTIONS[t]}" for t in AUGMENTATIONS)


def preview_grid(setup: Setup, spec: AugmentSpec, n_examples: int = 4) -> np.ndarray:
    """The first ``n_examples`` training images of the set-up and their copies, as the
    training will get them: [rows, 1 + copies, C, H, W]."""
    return preview(prepare_setup(setup).train[0], spec, n_examples=n_examples, seed=setup.seed)


def preview_titles(copies: int) -> list[str]:
    """Column titles of the preview grid: "original", "copy 1", …, "copy ``copies``"."""
    return ["original"] + [f"copy {i + 1}" for i in range(copies)]


def preview_cell(dataset: str) -> int:
    """Pixel size of one preview image: smaller for the 8×8 digits than for 28×28 MNIST."""
    return 95 if dataset == "digits" else 110


def growth_caption(n_train: int, copies: int) -> str:
    """How many images the training set grows to with ``copies`` copies of each."""
    return f"The training set grows from {n_train} to {n_train * (copies + 1)} images."
