"""ML strategy topic: what to work on next, decided from numbers.

- ``diagnosis``: :func:`diagnose` (avoidable bias, variance, the basic recipe), the
  data-mismatch breakdown and the course's four example cases.
- ``splits``: train/dev/test split planning by dataset size.
- ``metrics``: precision, recall, F1 at a threshold, the precision–recall curve, and
  optimizing-vs-satisficing model selection over tracked runs.
- ``errors``: error-analysis tagging and the per-category ceiling on improvement.
- ``orthogonal``: the chain of goals and the knobs acting on each.
- ``mismatch``: the data-mismatch demo (train, train-dev and a shifted dev set).
- ``experiments``: the other trainings of the page (background jobs of tracked runs).
"""

from core.strategy.diagnosis import COURSE_CASES, LARGE_GAP, RELATIVE_GAP, diagnose, mismatch_breakdown
from core.strategy.metrics import pr_curve, precision_recall_f1, select_satisficing
from core.strategy.splits import SplitPlan, plan_split

__all__ = [
    "COURSE_CASES",
    "LARGE_GAP",
    "RELATIVE_GAP",
    "SplitPlan",
    "diagnose",
    "mismatch_breakdown",
    "plan_split",
    "pr_curve",
    "precision_recall_f1",
    "select_satisficing",
]
