"""What a challenge is, and the small readers its checks share.

A :class:`Goal` is checked against a table of tracked runs shaped like
:func:`core.tracking.search_runs` returns it (``run_id``, ``experiment``, ``status``, ``start_time``,
then ``params.*``, ``metrics.*`` and ``tags.*`` columns). Its ``check`` is a pure function of that
table: the id of the FIRST run (by start time) that meets the goal, or ``None``. Only runs that
ended FINISHED count. A column that no run has (a setting nobody used yet) simply meets nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.tags import TAG_COMPARISON, TAG_KIND

Check = Callable[[pd.DataFrame], "str | None"]


@dataclass(frozen=True)
class Goal:
    """One challenge: ``id`` (unique in the lab), the ``page`` it belongs to (an experiment name, or
    ``runs`` for goals over every page), a ``title`` in our words, ``how`` it is checked (one plain
    sentence) and the ``check`` itself."""

    id: str
    page: str
    title: str
    how: str
    check: Check


def finished(runs: pd.DataFrame, page: str | None = None, kind: str | None = None) -> pd.DataFrame:
    """The FINISHED runs (of ``page``'s experiment and with the ``dll.kind`` tag ``kind`` when given),
    oldest first."""
    if runs is None or runs.empty or "status" not in runs:
        return pd.DataFrame(columns=["run_id", "experiment", "status", "start_time"])
    keep = runs["status"] == "FINISHED"
    if page is not None:
        keep &= runs.get("experiment", pd.Series("", index=runs.index)) == page
    if kind is not None:
        keep &= text(runs, f"tags.{TAG_KIND}") == kind
    return runs[keep].sort_values("start_time", kind="stable")


def number(runs: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as floats (NaN where a run lacks it or it is not a number)."""
    if column not in runs:
        return pd.Series(np.nan, index=runs.index, dtype=float)
    return pd.to_numeric(runs[column], errors="coerce")


def text(runs: pd.DataFrame, column: str) -> pd.Series:
    """``column`` as strings ("" where a run lacks it)."""
    if column not in runs:
        return pd.Series("", index=runs.index, dtype=object)
    return runs[column].fillna("").astype(str)


def decoded(runs: pd.DataFrame, column: str) -> pd.Series:
    """A param logged as JSON (a list of layer sizes, a list of classes) decoded per run (``None`` where
    a run lacks it or it is not JSON)."""

    def parse(value: str) -> Any:
        try:
            return json.loads(value) if value else None
        except ValueError:
            return None

    return text(runs, column).map(parse)


def first(runs: pd.DataFrame, mask: pd.Series | np.ndarray) -> str | None:
    """The id of the first run (``runs`` is oldest first) where ``mask`` holds."""
    mask = pd.Series(mask, index=runs.index).fillna(False).astype(bool)
    hit = runs[mask]
    return None if hit.empty else str(hit["run_id"].iloc[0])


def beats_twin(runs: pd.DataFrame, is_a: pd.Series, is_b: pd.Series, metric: str, *, lower: bool = True,
               same: tuple[str, ...] = ()) -> str | None:
    """The first run of kind A that beats a run of kind B started with it (the same ``dll.comparison`` tag
    and the same values of the ``same`` columns) on ``metric`` (``lower``: smaller is better)."""
    group = text(runs, f"tags.{TAG_COMPARISON}")
    for col in same:
        group = group + "|" + text(runs, col)
    values = number(runs, metric)
    has_group = text(runs, f"tags.{TAG_COMPARISON}") != ""
    a = runs[is_a & has_group & values.notna()]
    b_best: dict[str, float] = {}
    for idx in runs.index[is_b & has_group & values.notna()]:
        v = float(values[idx])
        g = group[idx]
        b_best[g] = min(b_best.get(g, v), v) if lower else max(b_best.get(g, v), v)  # A must beat the best twin
    for idx in a.index:
        twin = b_best.get(group[idx])
        if twin is not None and (values[idx] < twin if lower else values[idx] > twin):
            return str(runs.at[idx, "run_id"])
    return None


def nth_distinct(runs: pd.DataFrame, group: pd.Series, value: pd.Series, n: int) -> str | None:
    """The run (``runs`` oldest first) that brings some group to ``n`` distinct values: e.g. the fourth
    training-set size of one learning curve, the third seed of one set-up. An empty group never counts."""
    seen: dict[str, set[str]] = {}
    for idx in runs.index:
        if group[idx] == "" or value[idx] == "":
            continue
        values = seen.setdefault(group[idx], set())
        values.add(value[idx])
        if len(values) >= n:
            return str(runs.at[idx, "run_id"])
    return None
