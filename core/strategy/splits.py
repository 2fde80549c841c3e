"""How to cut a dataset into train/dev/test sets, by its size.

The dev and test sets only need to be big enough to tell models apart and to trust the
final number; everything else is better spent on training. The rule used here:

    dev share = test share = min(20 %, max(10,000 / n, 1 %))

- up to 50,000 examples: 60 / 20 / 20 (the classic split for thousands of examples);
- 50,000 to 1,000,000: dev and test stay at 10,000 examples each (80 / 10 / 10 at 100,000);
- from 1,000,000 on: 98 / 1 / 1, the course's split for millions of examples.

The shares are continuous in ``n`` (no jumps at the joins).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

SMALL_SHARE = 0.20  # dev (and test) share for small sets: 60/20/20
LARGE_SHARE = 0.01  # dev (and test) share for millions: 98/1/1
DEV_TARGET = 10_000  # examples in dev (and test) in between
MAX_N = 10**11


@dataclass(frozen=True)
class SplitPlan:
    """Counts and shares of a train/dev/test split of ``n`` examples."""

    n: int
    train: int
    dev: int
    test: int

    @property
    def ratios(self) -> tuple[float, float, float]:
        return self.train / self.n, self.dev / self.n, self.test / self.n

    @property
    def regime(self) -> str:
        share = dev_share(self.n)
        if share >= SMALL_SHARE:
            return "small data: 60/20/20"
        if share <= LARGE_SHARE:
            return "big data: 98/1/1"
        return f"in between: dev and test fixed at {DEV_TARGET:,} examples each"


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise ValueError(f"the dataset size must be a whole number of examples, got {n!r}")
    if not 3 <= int(n) <= MAX_N:
        raise ValueError(f"the dataset size must be between 3 and {MAX_N:,} examples, got {int(n):,}")
    return int(n)


def dev_share(n: int) -> float:
    """The share of ``n`` examples that goes to the dev set (and the same to the test set)."""
    n = _check_n(n)
    return min(SMALL_SHARE, max(DEV_TARGET / n, LARGE_SHARE))


def plan_split(n: int) -> SplitPlan:
    """Train/dev/test counts for ``n`` examples (they add up to ``n``; dev and test get at
    least one example each)."""
    n = _check_n(n)
    k = max(1, round(n * dev_share(n)))
    return SplitPlan(n=n, train=n - 2 * k, dev=k, test=k)


def split_rows(plan: SplitPlan) -> list[dict[str, Any]]:
    """One row per set: ``set`` ("train", "dev", "test"), ``examples`` and ``share`` of the data."""
    counts = (plan.train, plan.dev, plan.test)
    return [{"set": name, "examples": count, "share": share}
            for name, count, share in zip(("train", "dev", "test"), counts, plan.ratios, strict=True)]


def split_table(plan: SplitPlan) -> pd.DataFrame:
    """:func:`split_rows` as a table (what the page offers as CSV)."""
    return pd.DataFrame(split_rows(plan))


def split_cards(plan: SplitPlan) -> list[tuple[str, str, str]]:
    """``(label, count, share)`` per set for metric cards, e.g. ``("Train", "6,000", "60.0% of the data")``."""
    return [(r["set"].capitalize(), f"{r['examples']:,}", f"{r['share']:.1%} of the data") for r in split_rows(plan)]


def rule_caption(plan: SplitPlan) -> str:
    """One sentence naming the plan's regime and the rule behind it."""
    return f"Rule: {plan.regime}. Dev and test each get min(20 %, max(10,000 / n, 1 %)) of the data."


def share_curve(
    lo: float = 2, hi: float = 9, num: int = 141
) -> tuple[np.ndarray, list[tuple[float, float, float]]]:
    """Dataset sizes spaced evenly on a log scale from 10**lo to 10**hi (whole, without repeats)
    and the (train, dev, test) shares of each, for the chart of the rule."""
    ns = np.unique(np.logspace(lo, hi, num).round().astype(int))
    shares = []
    for k in ns:
        d = dev_share(int(k))
        shares.append((1 - 2 * d, d, d))
    return ns, shares
