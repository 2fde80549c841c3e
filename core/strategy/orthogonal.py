"""Orthogonalization: the chain of goals and the knobs that act on each of them.

A good knob moves one goal and leaves the others alone. Early stopping is the classic
knob that is *not* orthogonal: stopping sooner fits the training set less well and, at
the same time, changes how well the dev set is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    name: str
    problem: str  # what it means when this goal fails
    knobs: tuple[str, ...]


GOALS: tuple[Goal, ...] = (
    Goal("Fit the training set", "avoidable bias",
         ("bigger network", "train longer", "better optimizer (Adam)")),
    Goal("Fit the dev set", "variance", ("regularization (L2, dropout)", "more training data")),
    Goal("Fit the test set", "overfitting the dev set", ("bigger dev set",)),
    Goal("Do well in the real world", "wrong dev set or metric", ("change the dev/test set", "change the cost function")),
)

# Knobs that act on more than one goal at once: name -> indices of the goals it moves.
ENTANGLED: dict[str, tuple[int, ...]] = {"early stopping": (0, 1)}


def knob_table() -> list[dict[str, str]]:
    """Rows ``goal``, ``if it fails``, ``knobs``, in chain order; then the entangled knobs."""
    rows = [{"goal": f"{i + 1}. {g.name}", "if it fails": g.problem, "knobs": ", ".join(g.knobs)}
            for i, g in enumerate(GOALS)]
    for knob, goals in ENTANGLED.items():
        rows.append({"goal": " and ".join(f"{i + 1}. {GOALS[i].name}" for i in goals),
                     "if it fails": "— (not orthogonal)", "knobs": f"{knob}: moves both goals at once"})
    return rows


def knob_frame():  # -> pandas.DataFrame
    """:func:`knob_table` as a table."""
    import pandas as pd

    return pd.DataFrame(knob_table())
