"""Data logic of the Runs page: filter, paginate, compare and rank tracked runs.

Everything here works on the DataFrame that :func:`core.tracking.search_runs` returns
(one row per run: ``run_id``, ``experiment``, ``run_name``, ``status``, ``start_time``,
``end_time``, ``duration_s``, then ``params.*``, ``metrics.*`` and ``tags.*`` columns).
The functions are pure (DataFrame in, DataFrame or values out). No Streamlit, no MLflow here.

Which way is "better" for a metric is decided from its name by :func:`metric_direction`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from core.tags import TAG_COMPARISON, TAG_KIND, TAG_PAGE, TAG_VARIANT

Direction = Literal["min", "max"]

PARAM = "params."
METRIC = "metrics."
TAG = "tags."
PAGE_TAG = TAG + TAG_PAGE
COMPARISON_TAG = TAG + TAG_COMPARISON
KIND_TAG = TAG + TAG_KIND
VARIANT_TAG = TAG + TAG_VARIANT
MISSING = "—"

# Words that mark a metric where lower is better / higher is better (see metric_direction).
LOWER_IS_BETTER = (
    "loss", "error", "err", "time", "seconds", "sec", "latency", "duration", "perplexity",
    "ppl", "distance", "fid", "mse", "mae", "rmse", "nll", "wer", "cer", "regret",
)  # fmt: skip
HIGHER_IS_BETTER = (
    "accuracy", "acc", "bleu", "map", "auc", "f1", "precision", "recall", "score", "iou",
    "psnr", "ssim", "r2", "reward", "throughput",
)  # fmt: skip


# ------------------------------------------------------------------------ columns


def param_columns(df: pd.DataFrame) -> list[str]:
    """Bare names of the params that at least one run of ``df`` has, in column order."""
    return [c[len(PARAM) :] for c in df.columns if c.startswith(PARAM) and df[c].notna().any()]


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Bare names of the metrics that at least one run of ``df`` has, in column order."""
    return [c[len(METRIC) :] for c in df.columns if c.startswith(METRIC) and df[c].notna().any()]


def _col(prefix: str, name: str) -> str:
    return name if name.startswith(prefix) else prefix + name


# --------------------------------------------------------------------- directions


def _tokens(name: str) -> list[str]:
    """``"devAccuracy/top1"`` -> ``["dev", "accuracy", "top1"]`` (camelCase and separators)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", " ", name)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def metric_direction(name: str) -> Direction:
    """Whether lower (``"min"``) or higher (``"max"``) values of metric ``name`` are better.

    The rule: the name is split into words (at ``_ . / - space`` and camelCase). If a word
    is one of :data:`LOWER_IS_BETTER` (loss, error, time, seconds, perplexity, distance,
    fid, mse, ...) lower is better; otherwise if a word is one of :data:`HIGHER_IS_BETTER`
    (accuracy, acc, bleu, map, auc, f1, precision, recall, score, ...) higher is better.
    Words of four letters or more also count inside a longer word (``"valloss"``).
    Lower-is-better words win (``"fid_score"`` is a distance), and a name with no known
    word defaults to ``"min"``, since most logged training quantities are costs.
    """
    tokens = _tokens(name)

    def has(words: Sequence[str]) -> bool:
        return any(t == w or (len(w) >= 4 and w in t) for t in tokens for w in words)

    if has(LOWER_IS_BETTER):
        return "min"
    if has(HIGHER_IS_BETTER):
        return "max"
    return "min"


# ------------------------------------------------------------------------ filters


def _same_value(a: object, b: str) -> bool:
    """Equal as text, or as numbers when both read as numbers (``"0.10"`` == ``"0.1"``)."""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return False
    left, right = str(a).strip(), b.strip()
    if left == right:
        return True
    try:
        return float(left) == float(right)
    except ValueError:
        return False


def filter_runs(
    df: pd.DataFrame,
    experiments: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    param: str | None = None,
    value: str | None = None,
    text: str | None = None,
    *,
    kinds: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Runs of ``df`` that pass every given filter (``None`` or empty: no filter).

    ``experiments``: experiment names; ``statuses``: run statuses (FINISHED, FAILED, ...);
    ``param`` (bare name or ``params.`` column) with ``value``: runs whose param equals the
    value (as text, or as numbers); ``param`` without ``value``: runs that have the param;
    ``text``: case-insensitive substring of the run name, id, experiment, page, comparison
    tag or any ``param=value``; ``kinds``: values of the run tag ``dll.kind``. The index is reset.
    """
    mask = pd.Series(True, index=df.index)
    experiments = list(experiments or [])
    statuses = list(statuses or [])
    if experiments:
        mask &= df["experiment"].isin(experiments)
    if statuses:
        mask &= df["status"].isin(statuses)
    kinds = list(kinds or [])
    if kinds:
        mask &= df[KIND_TAG].isin(kinds) if KIND_TAG in df.columns else False
    if param:
        col = _col(PARAM, param)
        if col not in df.columns:
            mask &= False
        elif value is None or value == "":
            mask &= df[col].notna()
        else:
            mask &= df[col].map(lambda v: _same_value(v, str(value))).astype(bool)
    if text and text.strip():
        needle = text.strip().lower()
        mask &= _search_text(df).str.contains(needle, regex=False)
    return df[mask].reset_index(drop=True)


def _search_text(df: pd.DataFrame) -> pd.Series:
    """One lower-case string per run holding everything :func:`filter_runs` searches."""
    parts = [df[c].fillna("").astype(str) for c in ("run_name", "run_id", "experiment") if c in df.columns]
    parts += [df[c].fillna("").astype(str) for c in (PAGE_TAG, COMPARISON_TAG, KIND_TAG, VARIANT_TAG) if c in df.columns]
    for name in param_columns(df):
        col = df[PARAM + name]
        parts.append(col.map(lambda v, n=name: "" if pd.isna(v) else f"{n}={v}"))
    if not parts:
        return pd.Series("", index=df.index)
    joined = parts[0]
    for p in parts[1:]:
        joined = joined + " " + p
    return joined.str.lower()


def tag_values(df: pd.DataFrame, tag: str) -> list[str]:
    """The values run tag ``tag`` (e.g. ``dll.kind``) takes in ``df``, sorted."""
    col = TAG + tag
    return sorted(df[col].dropna().astype(str).unique()) if col in df.columns else []


def paginate(df: pd.DataFrame, page: int, page_size: int) -> tuple[pd.DataFrame, int]:
    """Rows of 1-based ``page`` and the number of pages (at least 1).

    ``page`` is clamped into ``[1, n_pages]``, so a page number left over from a larger
    result still shows something. ``ValueError`` when ``page_size`` < 1.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    n_pages = max(1, math.ceil(len(df) / page_size))
    page = clamp_page(page, n_pages)
    start = (page - 1) * page_size
    return df.iloc[start : start + page_size], n_pages


def clamp_page(page: int, n_pages: int) -> int:
    """``page`` moved into ``[1, n_pages]``."""
    return int(min(max(int(page), 1), max(int(n_pages), 1)))


# ---------------------------------------------------------------- table columns


def key_params(df: pd.DataFrame, limit: int = 5) -> list[str]:
    """Up to ``limit`` bare param names worth a table column.

    Params whose value varies across the runs come first (a param missing in some runs
    varies), then constant ones; within each group, the ones more runs have, then by name.
    """
    if limit < 1:
        return []
    scored = []
    for name in param_columns(df):
        col = df[PARAM + name]
        varies = col.nunique(dropna=False) > 1
        scored.append((not varies, -int(col.notna().sum()), name))
    return [name for *_, name in sorted(scored)[:limit]]


def key_metrics(df: pd.DataFrame, limit: int = 6) -> list[str]:
    """Up to ``limit`` bare metric names for table columns: the ones most runs have first."""
    if limit < 1:
        return []
    scored = sorted((-int(df[METRIC + m].notna().sum()), m) for m in metric_columns(df))
    return [m for _, m in scored[:limit]]


def format_duration(seconds: float | None) -> str:
    """``4.2`` -> ``"4.2 s"``, ``185`` -> ``"3 min 05 s"``, ``7380`` -> ``"2 h 03 min"``;
    unknown (a run still going) -> ``"—"``."""
    if seconds is None or not np.isfinite(seconds) or seconds < 0:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def run_labels(df: pd.DataFrame) -> pd.Series:
    """A unique, readable label per run: its name, with a short id when names repeat."""
    names = df["run_name"].fillna("").astype(str)
    short = df["run_id"].astype(str).str[:6]
    names = names.where(names != "", short)
    repeated = names.duplicated(keep=False)
    labels = names.where(~repeated, names + " (" + short + ")")
    return pd.Series(labels.to_numpy(), index=df.index, name="label")


def page_of(df: pd.DataFrame) -> pd.Series:
    """The lab page that made each run (``dll.page`` tag), else its experiment's name."""
    page = df[PAGE_TAG] if PAGE_TAG in df.columns else pd.Series(None, index=df.index, dtype=object)
    return page.where(page.notna(), df["experiment"])


def display_table(df: pd.DataFrame, params: Sequence[str] = (), metrics: Sequence[str] = ()) -> pd.DataFrame:
    """The runs as a table for people: Run, (Learner, when the runs have more than one owner: an
    instructor's list), Page, Status, Started, Duration, then the given params (text) and metrics (final
    values). Indexed by ``run_id``, row order kept.

    A param and a metric with the same name get " (param)" / " (metric)" suffixes.
    """
    out = pd.DataFrame(
        {
            "Run": run_labels(df).to_numpy(),
            "Page": page_of(df).to_numpy(),
            "Status": df["status"].to_numpy(),
            "Started": df["start_time"].to_numpy(),
            "Duration": [format_duration(s) for s in df["duration_s"]],
        },
        index=pd.Index(df["run_id"].to_numpy(), name="run_id"),
    )
    if "owner" in df.columns and df["owner"].nunique() > 1:
        out.insert(1, "Learner", df["owner"].to_numpy())
    clash = set(params) & set(metrics)
    for p in params:
        col = df[PARAM + p] if PARAM + p in df.columns else pd.Series(None, index=df.index)
        out[f"{p} (param)" if p in clash else p] = col.to_numpy()
    for m in metrics:
        col = df[METRIC + m] if METRIC + m in df.columns else pd.Series(np.nan, index=df.index)
        out[f"{m} (metric)" if m in clash else m] = pd.to_numeric(col, errors="coerce").to_numpy()
    return out


# -------------------------------------------------------------------- comparing


def params_diff(selected: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Params of the selected runs side by side, and the names of those that differ.

    Returns ``(table, differing)``: ``table`` has one row per param (index: bare param
    name, differing params first, then alphabetical), one text column per run (headed by
    :func:`run_labels`, ``"—"`` where the run lacks the param) and a boolean ``"differs"``
    column. A param differs when the runs do not all hold the same value (a missing value
    counts as a value).
    """
    labels = list(run_labels(selected))
    names = sorted(param_columns(selected))
    rows = {name: [MISSING if pd.isna(v) else str(v) for v in selected[PARAM + name]] for name in names}
    differs = {name: len(set(values)) > 1 for name, values in rows.items()}
    order = sorted(names, key=lambda n: (not differs[n], n))
    table = pd.DataFrame([rows[n] for n in order], index=pd.Index(order, name="param"), columns=labels, dtype=object)
    table["differs"] = pd.Series([differs[n] for n in order], index=table.index, dtype=bool)
    return table, [n for n in order if differs[n]]


def highlight_differences(table: pd.DataFrame, color: str = "#fff3b0"):  # -> pandas Styler
    """A Styler of a :func:`params_diff` table with the differing rows' background ``color``."""

    def row_style(row: pd.Series) -> list[str]:
        style = f"background-color: {color}; font-weight: 600" if row.get("differs", False) else ""
        return [style] * len(row)

    return table.style.apply(row_style, axis=1)


def best_runs(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The best run for each metric (bare names; default every metric some run has).

    Columns: ``metric``, ``direction`` (``"min"``/``"max"`` from :func:`metric_direction`),
    ``better`` (``"lower"``/``"higher"``), ``run_id``, ``run_name``, ``value``, ``runs``
    (how many runs have the metric). Metrics no run has are left out; on a tie the first
    run in ``df``'s order wins.
    """
    columns = ["metric", "direction", "better", "run_id", "run_name", "value", "runs"]
    rows = []
    for m in metric_columns(df) if metrics is None else metrics:
        col = METRIC + m
        if col not in df.columns:
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        if values.notna().sum() == 0:
            continue
        direction = metric_direction(m)
        pos = int(np.nanargmin(values.to_numpy()) if direction == "min" else np.nanargmax(values.to_numpy()))
        row = df.iloc[pos]
        rows.append(
            {
                "metric": m,
                "direction": direction,
                "better": "lower" if direction == "min" else "higher",
                "run_id": row["run_id"],
                "run_name": row["run_name"],
                "value": float(values.iloc[pos]),
                "runs": int(values.notna().sum()),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: a debiased exponential moving average.

    ``last = weight·last + (1 − weight)·v`` starting from 0, divided by
    ``1 − weight**n`` (n = finite values seen so far) so the start is not pulled toward 0.
    ``weight`` 0 returns the values unchanged; non-finite values pass through and do not
    enter the average. ``ValueError`` unless ``0 <= weight < 1``.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    arr = np.asarray(values, dtype=float)
    out = np.empty_like(arr)
    last, n = 0.0, 0
    for i, v in enumerate(arr):
        if not np.isfinite(v):
            out[i] = v
            continue
        last = last * weight + (1.0 - weight) * v
        n += 1
        out[i] = last / (1.0 - weight**n)
    return out


def comparison_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Groups of runs started together (same ``dll.comparison`` tag), two runs or more.

    Columns: ``group`` (tag value), ``label`` ("page · N runs · start"), ``run_ids``
    (list, in ``df``'s order); newest group first.
    """
    columns = ["group", "label", "run_ids"]
    if COMPARISON_TAG not in df.columns:
        return pd.DataFrame(columns=columns)
    rows = []
    pages = page_of(df)
    for group, part in df[df[COMPARISON_TAG].notna()].groupby(COMPARISON_TAG, sort=False):
        if len(part) < 2:
            continue
        started = part["start_time"].min()
        when = started.strftime("%Y-%m-%d %H:%M UTC") if pd.notna(started) else "unknown start"
        rows.append(
            {
                "group": group,
                "label": f"{pages.loc[part.index[0]]} · {len(part)} runs · {when}",
                "run_ids": list(part["run_id"]),
                "_start": started,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows).sort_values("_start", ascending=False, kind="stable")
    return out[columns].reset_index(drop=True)


def merge_selection(*groups: Iterable[str]) -> list[str]:
    """Run ids from several sources (table rows, picks, a group) without repeats, in order."""
    seen: dict[str, None] = {}
    for group in groups:
        for rid in group:
            seen.setdefault(rid, None)
    return list(seen)


def to_csv(df: pd.DataFrame) -> bytes:
    """The table as UTF-8 CSV bytes (no index; times in ISO 8601)."""
    return df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S%z").encode("utf-8")



# ------------------------------------------------------------ runs that differ by seed


def is_seed_param(name: str) -> bool:
    """Whether the bare param ``name`` is a random seed: ``seed``, ``data.seed``, ``init_seed``, ``global.seed``."""
    last = name.rsplit(".", 1)[-1].lower()
    return last == "seed" or last.endswith("_seed")


def seed_params(df: pd.DataFrame) -> list[str]:
    """Bare names of the seed params (see :func:`is_seed_param`) that some run of ``df`` has."""
    return [p for p in param_columns(df) if is_seed_param(p)]


def _text(value: object) -> str:
    return MISSING if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()


def natural_key(text: str) -> tuple:
    """Sort key that puts numbers first, by value, then other text: "2" < "10" < "adam"."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def seed_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Runs of ``df`` grouped so that the runs of a group differ only in their seed params.

    Two runs share a group when they come from the same experiment and every other param
    has the same text value (a param one run lacks counts as the value ``"—"``). Columns:
    ``group`` (0, 1, ... in order of first appearance), ``label`` (the experiment and the
    non-seed params that tell the groups apart, e.g. ``"optimizers · lr=0.1"``), ``run_ids``
    (list, by the first seed param's value), ``seeds`` (list of the runs' seed values as text, ``"seed=3"``) and
    ``n`` (runs in the group). A group of one run is kept (it has no spread).
    """
    columns = ["group", "label", "run_ids", "seeds", "n"]
    if df.empty:
        return pd.DataFrame(columns=columns)
    seeds = seed_params(df)
    others = [p for p in param_columns(df) if p not in seeds]
    keys = [
        (str(exp), tuple(_text(v) for v in values))
        for exp, *values in zip(df["experiment"], *(df[PARAM + p] for p in others), strict=True)
    ]
    order: dict[tuple, list[int]] = {}
    for pos, key in enumerate(keys):
        order.setdefault(key, []).append(pos)
    firsts = list(order)
    # the params whose value differs between the groups are what labels them
    differing = [i for i, _ in enumerate(others) if len({k[1][i] for k in firsts}) > 1]
    rows = []
    for g, (key, positions) in enumerate(order.items()):
        shown = [f"{others[i]}={key[1][i]}" for i in differing[:4]]
        label = " · ".join([key[0], ", ".join(shown)] if shown else [key[0]])
        part = df.iloc[positions]
        if seeds:  # seeds in their natural order: 0, 1, 2, 10
            values = part[PARAM + seeds[0]].map(_text)
            part = part.iloc[sorted(range(len(part)), key=lambda j: natural_key(values.iloc[j]))]
        seed_text = [
            ", ".join(f"{s}={_text(v)}" for s, v in zip(seeds, row, strict=True)) or MISSING
            for row in zip(*(part[PARAM + s] for s in seeds), strict=True)
        ] if seeds else [MISSING] * len(part)  # fmt: skip
        rows.append({"group": g, "label": label, "run_ids": list(part["run_id"]), "seeds": seed_text,
                     "n": len(part)})
    out = pd.DataFrame(rows, columns=columns)
    repeated = out["label"].duplicated(keep=False)  # more than 4 params differ: number the lookalikes
    out.loc[repeated, "label"] = out.loc[repeated, "label"] + " #" + (out.loc[repeated, "group"] + 1).astype(str)
    return out


def mean_std_by_step(histories: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The mean and spread of one metric over several runs, step by step.

    ``histories``: one DataFrame per run with ``step`` and ``value`` columns (as
    :func:`core.tracking.metric_history` returns them, sorted by step then time). Within a run a
    step logged twice counts once, with its last value; non-finite values are left out. Runs are
    aligned on the step number: at each step of the union, ``mean`` is over the runs that logged
    it, ``std`` is the sample standard deviation (ddof = 1; NaN where only one run has the step)
    and ``n`` says how many runs that was. Columns ``step``, ``mean``, ``std``, ``n``, by step.
    """
    parts = []
    for hist in histories:
        if hist is None or len(hist) == 0:
            continue
        values = pd.to_numeric(hist["value"], errors="coerce")
        one = pd.DataFrame({"step": hist["step"].astype(int), "value": values.astype(float)})
        one = one[np.isfinite(one["value"])].drop_duplicates("step", keep="last")
        parts.append(one)
    if not parts:
        return pd.DataFrame({"step": pd.Series(dtype=int), "mean": pd.Series(dtype=float),
                             "std": pd.Series(dtype=float), "n": pd.Series(dtype=int)})
    stats = pd.concat(parts).groupby("step")["value"].agg(["mean", "std", "count"])
    return pd.DataFrame({"step": stats.index.to_numpy(dtype=int), "mean": stats["mean"].to_numpy(),
                         "std": stats["std"].to_numpy(), "n": stats["count"].to_numpy(dtype=int)})


def seed_summary(df: pd.DataFrame, groups: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Final values of ``metrics`` per group of :func:`seed_groups`: their mean, sample std and count.

    One row per group and metric: ``group``, ``label``, ``metric``, ``mean``, ``std`` (ddof = 1, NaN
    with one value), ``n`` (runs of the group whose final value of the metric is a number).
    """
    by_id = df.set_index("run_id")
    rows = []
    for _, g in groups.iterrows():
        for m in metrics:
            col = METRIC + m
            raw = by_id.loc[g["run_ids"], col] if col in by_id.columns else pd.Series(dtype=float)
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            rows.append({"group": g["group"], "label": g["label"], "metric": m,
                         "mean": float(values.mean()) if len(values) else np.nan,
                         "std": float(values.std(ddof=1)) if len(values) > 1 else np.nan, "n": len(values)})
    return pd.DataFrame(rows, columns=["group", "label", "metric", "mean", "std", "n"])


def format_mean_std(mean: float, std: float) -> str:
    """``0.1234, 0.0056`` -> ``"0.1234 ± 0.0056"``; no std (one run) -> ``"0.1234"``; no mean -> ``"—"``."""
    if not np.isfinite(mean):
        return MISSING
    return f"{mean:.4g}" if not np.isfinite(std) else f"{mean:.4g} ± {std:.2g}"


# ------------------------------------------------------------------ param importance


def eta_squared(groups: Sequence[object], y: Sequence[float]) -> float:
    """η² of a one-way ANOVA: between-group sum of squares / total sum of squares, in [0, 1].

    ``groups``: the group (any hashable) of each value of ``y``. It is the share of ``y``'s
    variance that the group means explain (the R² of a regression on one-hot group indicators).
    ``ValueError`` when the lengths differ, ``y`` is empty or holds a single repeated value.
    """
    y = np.asarray(y, dtype=float)
    labels = list(groups)
    if len(labels) != len(y):
        raise ValueError(f"groups and y must have the same length, got {len(labels)} and {len(y)}")
    total = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    if total == 0.0:
        raise ValueError("the metric has the same value in every run, so nothing explains it")
    frame = pd.DataFrame({"g": pd.Series(labels, dtype=object).astype(str), "y": y})
    stats = frame.groupby("g")["y"].agg(["mean", "count"])
    between = float((stats["count"] * (stats["mean"] - y.mean()) ** 2).sum())
    return min(max(between / total, 0.0), 1.0)


def r_squared(x: Sequence[float], y: Sequence[float]) -> float:
    """R² of the least-squares line ``y ≈ a·x + b``: 1 − residual SS / total SS, in [0, 1].

    A constant ``x`` explains nothing (0). ``ValueError`` when the lengths differ, ``y`` is empty
    or holds a single repeated value.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    syy = float(((y - y.mean()) ** 2).sum()) if len(y) else 0.0
    if syy == 0.0:
        raise ValueError("the metric has the same value in every run, so nothing explains it")
    dx = x - x.mean()
    sxx = float((dx**2).sum())
    if sxx == 0.0:
        return 0.0
    sxy = float((dx * (y - y.mean())).sum())
    return min(max(sxy * sxy / (sxx * syy), 0.0), 1.0)


def _as_numbers(values: pd.Series) -> np.ndarray | None:
    """The values as floats when every one reads as a finite number (``"0.1"``, ``"3"``), else None."""
    try:
        out = np.array([float(v) for v in values], dtype=float)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out).all() else None


def param_importance(
    df: pd.DataFrame, metric: str, params: Sequence[str] | None = None, *, decades: float = 2.0
) -> pd.DataFrame:
    """How much of the spread of ``metric`` (final values) across the runs of ``df`` each param explains.

    A param whose values all read as numbers is scored by the R² of a least-squares line of the
    metric on it (:func:`r_squared`), on log10 of the values when they are all positive and span
    at least ``decades`` powers of ten (a learning rate from 1e-4 to 1e-1); runs without the param
    are left out. Any other param is categorical and scored by η² (:func:`eta_squared`), a
    missing value being one more category. Each score is the share of the metric's variance that
    setting alone accounts for, one setting at a time: it is not causal and the scores need not
    add up to 1.

    Returns one row per param, best first: ``param``, ``kind`` (``"categorical"``, ``"numeric"``,
    ``"numeric, log scale"``), ``score`` (NaN when the param cannot be scored), ``runs`` (used),
    ``values`` (distinct values) and ``note`` (why a param has no score: a single value, or every
    run its own category, which would make η² 1 whatever the metric). ``params``: bare names
    (default: every param of ``df``). ``ValueError`` when fewer than three runs have a number for
    the metric, or the metric is the same in all of them.
    """
    col = _col(METRIC, metric)
    name = col[len(METRIC) :]
    y_all = pd.to_numeric(df[col], errors="coerce") if col in df.columns else pd.Series(np.nan, index=df.index)
    have = df[np.isfinite(y_all.to_numpy(dtype=float))]
    y_all = y_all[have.index].to_numpy(dtype=float)
    if len(have) < 3:
        raise ValueError(f"Importance needs at least 3 runs with a final value of {name}; found {len(have)}.")
    if np.ptp(y_all) == 0:
        raise ValueError(f"{name} is the same in all {len(have)} runs, so no setting explains it.")
    rows = []
    for p in param_columns(df) if params is None else params:
        pcol = _col(PARAM, p)
        bare = pcol[len(PARAM) :]
        raw = have[pcol] if pcol in have.columns else pd.Series(None, index=have.index, dtype=object)
        present = raw.notna().to_numpy()
        numbers = _as_numbers(raw[present]) if present.any() else None
        row = {"param": bare, "kind": "categorical", "score": np.nan, "runs": len(have), "values": 0, "note": ""}
        if numbers is not None:
            x, y = numbers, y_all[present]
            row.update(kind="numeric", runs=len(x), values=len(np.unique(x)))
            if (x > 0).all() and np.log10(x.max() / x.min()) >= decades:
                x = np.log10(x)
                row["kind"] = "numeric, log scale"
            if row["values"] < 2:
                row["note"] = "one value in every run"
            elif len(x) < 3:
                row["note"] = "fewer than 3 runs have it"
            elif np.ptp(y) == 0:
                row["note"] = f"{name} does not vary among the runs that have it"
            else:
                row["score"] = r_squared(x, y)
        else:
            labels = [_text(v) for v in raw]
            k = len(set(labels))
            row["values"] = k
            if k < 2:
                row["note"] = "one value in every run"
            elif k == len(labels):
                row["note"] = "every run has its own value"
            else:
                row["score"] = eta_squared(labels, y_all)
        rows.append(row)
    out = pd.DataFrame(rows, columns=["param", "kind", "score", "runs", "values", "note"])
    return out.sort_values(["score", "param"], ascending=[False, True], na_position="last", kind="stable").reset_index(
        drop=True
    )


# ------------------------------------------------------------- images across steps

_STEP_NAME = re.compile(r"^(?P<series>.*?)(?:^|[_\-. ])(?:step|epoch|iter|iteration|it|ep)[_\-. ]?(?P<step>\d+)$", re.I)


def image_step(path: str) -> tuple[str, int | None]:
    """The series and step an image artifact's path names: ``"images/samples_epoch_003.png"`` ->
    ``("images/samples", 3)``; ``"frames/step/0040.png"`` -> ``("frames/step", 40)`` (a name of
    digits only); a path with no step (``"images/confusion_matrix.png"``) -> ``(path without
    extension, None)``. A step is a number after a word step, epoch, iter(ation), it or ep."""
    folder, _, file = path.rpartition("/")
    stem = file.rsplit(".", 1)[0] if "." in file else file
    match = _STEP_NAME.match(stem)
    if match:
        series = match["series"]
        return (f"{folder}/{series}" if folder and series else series or folder or "image"), int(match["step"])
    if stem.isdigit() and folder:
        return folder, int(stem)
    return (f"{folder}/{stem}" if folder else stem), None


def images_by_step(found: Mapping[str, Sequence[tuple[str, bytes]]]) -> dict[str, dict[str, dict[int, bytes]]]:
    """Stepped images of several runs: ``series -> run id -> step -> image bytes``.

    ``found``: run id -> ``(artifact path, bytes)`` pairs (:func:`core.tracking.image_artifacts`).
    Images whose name carries no step (:func:`image_step`) are left out. Series sorted by name.
    """
    out: dict[str, dict[str, dict[int, bytes]]] = {}
    for rid, images in found.items():
        for path, data in images:
            series, step = image_step(path)
            if step is not None:
                out.setdefault(series, {}).setdefault(rid, {})[step] = data
    return {s: out[s] for s in sorted(out)}


def step_at_or_before(steps: Iterable[int], step: int) -> int | None:
    """The largest of ``steps`` that is ≤ ``step`` (the image a run showed at that point), else None."""
    earlier = [s for s in steps if s <= step]
    return max(earlier) if earlier else None
