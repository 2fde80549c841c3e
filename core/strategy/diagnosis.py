"""Bias/variance diagnosis with human-level error as the proxy for Bayes error.

The course's two gaps (all values are fractions, 0.15 = 15 %):

    avoidable bias = training error − human-level error
    variance       = dev error − training error

and, when the dev set comes from another distribution than the training set, a
*train-dev* set (same distribution as training, not trained on) splits the dev gap:

    variance       = train-dev error − training error
    data mismatch  = dev error − train-dev error
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Any

# A gap is "large" when it is at least LARGE_GAP (2 percentage points) AND at least
# RELATIVE_GAP times the other gap. The first rule ignores noise-sized gaps (a 0.5 %
# gap on a dev set of a few hundred examples is one or two mistakes); the second says
# where to look first: with 10 % avoidable bias and 3 % variance the bias is the
# problem to work on, the variance comes later.
LARGE_GAP = 0.02
RELATIVE_GAP = 0.5

BIAS_ADVICE = (
    "Train a bigger network (more layers or more units).",
    "Train longer.",
    "Use a better optimization algorithm (Momentum, RMSprop, Adam).",
)
VARIANCE_ADVICE = (
    "Get more training data.",
    "Add regularization (L2, dropout, data augmentation).",
    "Try a different network architecture.",
)
WELL_FITTED = "Well fitted: low bias and low variance. Check the test set, then the real world."
MISMATCH_ADVICE = (
    "Study how dev examples differ from training examples (error analysis on the dev set).",
    "Make training data more like the dev data: collect more of it, or synthesise it.",
)

# The course's four examples, all with human-level error ≈ 0 %: (train, dev, verdict).
COURSE_CASES: dict[str, tuple[float, float, str]] = {
    "High variance": (0.01, 0.11, "high variance"),
    "High bias": (0.15, 0.16, "high bias"),
    "High bias and high variance": (0.15, 0.30, "high bias and high variance"),
    "Low bias, low variance": (0.005, 0.01, "well fitted"),
}


def check_fraction(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1]; ``ValueError`` with a plain message otherwise."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ValueError(
            f"{name} must be a fraction between 0 and 1 (0 % to 100 %), got {v:g}"
            + (" — did you type a percentage? Divide it by 100." if 1 < v <= 100 else "")
        )
    return v


def is_large(gap: float, other: float, threshold: float = LARGE_GAP, relative: float = RELATIVE_GAP) -> bool:
    """The rule for a "large" gap (see ``LARGE_GAP``/``RELATIVE_GAP`` above)."""
    return gap >= threshold - 1e-12 and gap >= relative * max(other, 0.0) - 1e-12


def diagnose(train_error: float, dev_error: float, human_error: float = 0.0) -> dict[str, Any]:
    """Avoidable bias, variance and what to try next.

    All arguments are error *fractions* in [0, 1]. Returns a dict with
    ``avoidable_bias`` (= train − human), ``variance`` (= dev − train), ``high_bias``,
    ``high_variance`` (booleans, by :func:`is_large`), ``verdict`` ("high bias",
    "high variance", "high bias and high variance" or "well fitted"), ``advice`` (list of
    strings: the course's basic recipe, bias first when both are large) and ``notes``
    (list of strings about unusual inputs, e.g. training error below human level).
    """
    train = check_fraction(train_error, "training error")
    dev = check_fraction(dev_error, "dev error")
    human = check_fraction(human_error, "human-level error")
    bias = train - human
    variance = dev - train
    high_bias = is_large(bias, variance)
    high_variance = is_large(variance, bias)
    if high_bias and high_variance:
        verdict = "high bias and high variance"
    elif high_bias:
        verdict = "high bias"
    elif high_variance:
        verdict = "high variance"
    else:
        verdict = "well fitted"
    advice: list[str] = []
    if high_bias:
        advice += BIAS_ADVICE
    if high_variance:
        advice += VARIANCE_ADVICE
    if not advice:
        advice.append(WELL_FITTED)
    notes: list[str] = []
    if bias < 0:
        notes.append(
            "Training error is below human-level error: human level no longer estimates the best "
            "possible error, so avoidable bias cannot be read off, and progress usually gets slower."
        )
    if variance < 0:
        notes.append(
            "Dev error is below training error: check that the dev set is large enough and comes from "
            "the same distribution, and remember dropout makes the training loss look worse."
        )
    if high_bias and not high_variance and variance >= LARGE_GAP:
        notes.append(f"Variance ({variance:.1%}) is not small either: work on it once the bias is down.")
    if high_variance and not high_bias and bias >= LARGE_GAP:
        notes.append(f"Avoidable bias ({bias:.1%}) is not small either: work on it once the variance is down.")
    return {
        "avoidable_bias": bias,
        "variance": variance,
        "high_bias": high_bias,
        "high_variance": high_variance,
        "verdict": verdict,
        "advice": advice,
        "notes": notes,
    }


def mismatch_breakdown(train_error: float, train_dev_error: float, dev_error: float, human_error: float = 0.0) -> dict[str, float]:
    """The three gaps when train and dev distributions differ (fractions):
    ``avoidable_bias`` = train − human, ``variance`` = train-dev − train,
    ``data_mismatch`` = dev − train-dev."""
    train = check_fraction(train_error, "training error")
    train_dev = check_fraction(train_dev_error, "train-dev error")
    dev = check_fraction(dev_error, "dev error")
    human = check_fraction(human_error, "human-level error")
    return {"avoidable_bias": train - human, "variance": train_dev - train, "data_mismatch": dev - train_dev}


def runs_with_errors(runs):  # (pandas.DataFrame) -> pandas.DataFrame
    """Runs of :func:`core.tracking.search_runs` that carry both ``final_train_accuracy`` and
    ``final_dev_accuracy``, as ``run_id, experiment, run_name, status, train_error, dev_error``
    (errors = 1 − accuracy), newest first."""
    import pandas as pd

    cols = ["run_id", "experiment", "run_name", "status", "train_error", "dev_error"]
    need = ("metrics.final_train_accuracy", "metrics.final_dev_accuracy")
    if runs is None or len(runs) == 0 or any(c not in runs for c in need):
        return pd.DataFrame(columns=cols)
    df = runs.dropna(subset=list(need)).copy()
    df["train_error"] = 1.0 - df[need[0]].astype(float)
    df["dev_error"] = 1.0 - df[need[1]].astype(float)
    for c in ("experiment", "run_name", "status"):
        if c not in df:
            df[c] = ""
    return df[cols].reset_index(drop=True)


def run_label(row: Any) -> str:
    """One line naming a run for a picker: experiment · name · errors."""
    return (f"{row['experiment']} · {row['run_name']} · train {row['train_error']:.1%}, "
            f"dev {row['dev_error']:.1%} · {str(row['run_id'])[:8]}")


def waterfall_levels(
    human: float, train: float, dev: float, train_dev: float | None = None
) -> tuple[list[tuple[str, float]], list[str]]:
    """Levels and the names of the gaps between them for the error waterfall chart:
    human → training → dev, or human → training → train-dev → dev."""
    if train_dev is None:
        return [("Human-level", human), ("Training", train), ("Dev", dev)], ["avoidable bias", "variance"]
    levels = [("Human-level", human), ("Training", train), ("Train-dev", train_dev), ("Dev", dev)]
    return levels, ["avoidable bias", "variance", "data mismatch"]


# --------------------------------------------------------------- what the page shows

# The diagnosis fields' starting values (percentages): the course's "high bias" case.
DEFAULT_PERCENTS: dict[str, float] = {"human_pct": 0.0, "train_pct": 15.0, "dev_pct": 16.0}


def pct(value: float) -> str:
    """A fraction as a percentage with one decimal: ``0.123`` -> ``"12.3%"``."""
    return f"{value:.1%}"


def preset_label(name: str, train: float, dev: float) -> str:
    """Button label of a course case, e.g. ``"High bias (15% / 16%)"`` (errors as fractions in;
    whole percentages lose their ``.0``; the dev error is rounded to a whole percentage)."""
    return f"{name} ({train:.1%} / {dev:.0%})".replace(".0%", "%")


def percent_fields(train: float, dev: float, human: float | None = None) -> dict[str, float]:
    """Error fractions as the diagnosis' percentage fields (``train_pct``, ``dev_pct`` and, unless
    ``human`` is None, ``human_pct``), rounded to 3 decimals."""
    fields = {"train_pct": round(train * 100, 3), "dev_pct": round(dev * 100, 3)}
    if human is not None:
        fields["human_pct"] = round(human * 100, 3)
    return fields


def diagnose_percent(human_pct: float, train_pct: float, dev_pct: float) -> dict[str, Any]:
    """:func:`diagnose` for errors typed as percentages; ``ValueError`` naming every field that is
    not a percentage between 0 and 100 (e.g. "The training and dev error must be ...")."""
    fields = (("human-level", human_pct), ("training", train_pct), ("dev", dev_pct))
    bad = [name for name, v in fields if not 0 <= v <= 100]
    if bad:
        raise ValueError(f"The {' and '.join(bad)} error must be a percentage between 0 and 100")
    return diagnose(train_pct / 100, dev_pct / 100, human_pct / 100)


def percent_waterfall(human_pct: float, train_pct: float, dev_pct: float) -> tuple[list[tuple[str, float]], list[str]]:
    """:func:`waterfall_levels` for errors given as percentages (levels come out as fractions)."""
    return waterfall_levels(human_pct / 100, train_pct / 100, dev_pct / 100)


def gap_cards(dx: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, value)`` of the two gaps of a :func:`diagnose` result, in percentage points."""
    return [("Avoidable bias", f"{dx['avoidable_bias'] * 100:.2f} pp"), ("Variance", f"{dx['variance'] * 100:.2f} pp")]


def advice_markdown(dx: dict[str, Any]) -> str:
    """The advice of a :func:`diagnose` result as a Markdown list under "What to try"."""
    return "**What to try**\n" + "\n".join(f"- {a}" for a in dx["advice"])


def error_run_labels(table: Any) -> dict[str, str]:
    """``run_id`` -> :func:`run_label` for every row of a :func:`runs_with_errors` table."""
    return {str(row["run_id"]): run_label(row) for _, row in table.iterrows()}


def run_errors(table: Any, run_id: str | None) -> tuple[float, float, str] | None:
    """``(training error, dev error, label)`` of the run ``run_id`` in a :func:`runs_with_errors`
    table, or None when the table has no such run."""
    rows = table[table["run_id"] == run_id]
    if rows.empty:
        return None
    row = rows.iloc[0]
    return float(row["train_error"]), float(row["dev_error"]), run_label(row)


def largest_gap_advice(parts: dict[str, float]) -> str:
    """Which of :func:`mismatch_breakdown`'s gaps is the largest, and how to fix it (Markdown)."""
    biggest = max(parts, key=parts.get)
    fix = ("Fix it by making training data more like the dev data (collect or synthesise it), not with "
           "regularization." if biggest == "data_mismatch" else "Use the basic recipe in the next tab.")
    return f"Largest gap: **{biggest.replace('_', ' ')}** ({pct(parts[biggest])}). {fix}"


@dataclass(frozen=True)
class MismatchReport:
    """What the data-mismatch demo shows for one set of errors."""

    cards: list[tuple[str, str]]  # (label, value) for the four numbers above the charts
    levels: list[tuple[str, float]]  # human -> training -> train-dev -> dev (fractions)
    gaps: list[str]  # names of the gaps between the levels
    advice: str  # the largest gap and its fix


def mismatch_report(errors: dict[str, float], human_pct: float) -> MismatchReport:
    """The demo's numbers from its errors (``train``, ``train_dev``, ``dev`` fractions) and a
    human-level error in percent."""
    human = human_pct / 100
    parts = mismatch_breakdown(errors["train"], errors["train_dev"], errors["dev"], human)
    cards = [("Training error", pct(errors["train"])), ("Train-dev error", pct(errors["train_dev"])),
             ("Dev error", pct(errors["dev"])), ("Data mismatch", pct(parts["data_mismatch"]))]
    levels, gaps = waterfall_levels(human, errors["train"], errors["dev"], train_dev=errors["train_dev"])
    return MismatchReport(cards, levels, gaps, largest_gap_advice(parts))
