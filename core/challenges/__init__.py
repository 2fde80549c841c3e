"""Challenges: concrete goals on every page, checked against the learner's own tracked runs.

:func:`goals` lists a page's goals (:mod:`core.challenges.catalog`); :func:`board` checks every goal
against one learner's FINISHED runs and says which run met each; :func:`class_board` does it for
every learner of the class and is refused (``NotYours``) to anyone but an instructor. The runs are
read through :func:`core.tracking.search_runs` with the asking user, so a learner's board is built
from their own runs only. Both take an already-read runs table (``runs=``) so a page can cache it.
"""

from __future__ import annotations

import pandas as pd

from core import tracking
from core.challenges.base import Goal
from core.challenges.catalog import GOALS
from core.identity import NotYours, User

BOARD_COLUMNS = ["page", "goal", "title", "how", "run_id", "run_name"]


def pages() -> list[str]:
    """The pages that offer challenges, in the catalogue's order."""
    return list(dict.fromkeys(g.page for g in GOALS))


def goals(page: str) -> list[Goal]:
    """The goals of ``page`` (an experiment name such as ``basics``, or ``runs``); ``ValueError`` for a page
    without any."""
    found = [g for g in GOALS if g.page == page]
    if not found:
        raise ValueError(f"no challenges for page {page!r}: the pages with challenges are {', '.join(pages())}")
    return found


def own_runs(user: User, uri: str | None = None) -> pd.DataFrame:
    """``user``'s FINISHED runs (an instructor: the whole class's)."""
    return tracking.search_runs(filter_string="attributes.status = 'FINISHED'", uri=uri, user=user)


def check(runs: pd.DataFrame, page: str | None = None) -> pd.DataFrame:
    """Every goal (of ``page``, or all) against ``runs``: one row per goal with the run that met it
    (``run_id`` and ``run_name`` empty when none did yet)."""
    names = dict(zip(runs["run_id"], runs["run_name"], strict=True)) if len(runs) else {}
    rows = []
    for g in GOALS if page is None else goals(page):
        rid = g.check(runs)
        rows.append({"page": g.page, "goal": g.id, "title": g.title, "how": g.how, "run_id": rid or "",
                     "run_name": str(names.get(rid) or "") if rid else ""})
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def board(user: User, uri: str | None = None, *, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """``user``'s progress: every goal of the lab with the first of their runs that met it. ``runs``: the
    runs already read for ``user`` (only those ``user`` owns are used, even for an instructor)."""
    runs = own_runs(user, uri) if runs is None else runs
    return check(runs[runs["owner"] == user.id] if "owner" in runs else runs)


def class_board(user: User, uri: str | None = None, *, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """The class's progress, for an instructor: one row per learner (``owner``) and goal, with the run that
    met it. ``NotYours`` for anyone who is not an instructor."""
    if not user.instructor:
        raise NotYours("only an instructor can see the class's progress board")
    runs = own_runs(user, uri) if runs is None else runs
    parts = [check(mine).assign(learner=owner) for owner, mine in runs.groupby("owner", sort=True)] if len(runs) else []
    if not parts:
        return pd.DataFrame(columns=["learner", *BOARD_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    return out[["learner", *BOARD_COLUMNS]]


def progress(table: pd.DataFrame) -> pd.DataFrame:
    """Per page of a board: goals met and goals in all (``met``, ``total``), in the catalogue's order."""
    met = table.assign(done=table["run_id"] != "").groupby("page", sort=False)["done"].agg(["sum", "count"])
    met = met.reindex([p for p in pages() if p in met.index])
    return pd.DataFrame({"page": met.index, "met": met["sum"].astype(int).to_numpy(),
                         "total": met["count"].astype(int).to_numpy()})


__all__ = ["BOARD_COLUMNS", "GOALS", "Goal", "board", "check", "class_board", "goals", "own_runs", "pages", "progress"]
