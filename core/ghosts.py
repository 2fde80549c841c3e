"""Ghost runs: an earlier tracked run of the same page, read back to be drawn faded under a live view.

:func:`candidates` lists the asking user's own runs of a page (newest first, optionally of one kind,
optionally one entry per comparison: a race's lanes share one), :func:`previous_run` says which of
them is "my previous run" while a new one is appearing, :func:`ghost_curves` reads the logged history
of the keys a live chart draws, and :func:`group_of` finds the other lanes of the run's comparison.
Every read checks ownership (``NotYours`` for another learner's run), here in core.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from core import tracking
from core.identity import User

_SAFE_TAG = re.compile(r"[A-Za-z0-9 ._:/+-]{1,200}")
_SAFE_PREFIX = re.compile(r"[A-Za-z0-9 .,:;=?()/+-]{1,100}")  # no "_" nor "%": they are LIKE wildcards


@dataclass(frozen=True)
class Candidate:
    """One run a learner may pick as a ghost (plain data)."""

    run_id: str
    name: str
    status: str
    start_time: datetime | None
    comparison: str = ""
    lanes: int = 1  # runs of its comparison, when it stands for them (grouped)

    @property
    def ended(self) -> bool:
        return self.status != "RUNNING"

    @property
    def label(self) -> str:
        """``"<run name> · 03 Dec 21:58"`` (UTC), what the ghost picker shows."""
        when = f" · {self.start_time:%d %b %H:%M}" if self.start_time is not None else ""
        more = f" + {self.lanes - 1} more" if self.lanes > 1 else ""
        return f"{self.name or self.run_id[:8]}{more}{when}"


def _page_experiment(page: str, uri: str | None) -> str | None:
    """The page's experiment id, or None when the page has tracked nothing yet (never creates one, nor an
    empty local store)."""
    if not tracking.store_ready(uri):
        return None
    return next((e["id"] for e in tracking.list_experiments(uri) if e["name"] == page), None)


def candidates(page: str, *, user: User, kind: str | None = None, uri: str | None = None, limit: int = 25,
               grouped: bool | None = None, running: bool = False, named: str | None = None) -> list[Candidate]:
    """``user``'s own runs of ``page`` (an instructor's own too, never the class's), newest first, at most
    ``limit``: ended ones only unless ``running``. ``kind`` keeps the runs tagged with that ``dll.kind``
    (``""``: the runs without one). ``grouped=True`` keeps one run per comparison tag (the newest lane of a
    race stands for the race; runs outside comparisons stay); ``False`` only the runs outside any
    comparison; None all. ``named`` keeps the runs whose name starts with it (one experiment of a page that has
    several, e.g. ``"overfitting: "``).
    ``ValueError`` for an empty page name, a bad kind or name, or a ``limit`` below 1."""
    if not page or not _SAFE_TAG.fullmatch(page):
        raise ValueError(f"{page!r} is not a page name")
    if kind and not _SAFE_TAG.fullmatch(kind):
        raise ValueError(f"{kind!r} is not a run kind")
    if named is not None and not _SAFE_PREFIX.fullmatch(named):
        raise ValueError(f"{named!r} is not the start of a run name")
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    exp = _page_experiment(page, uri)
    if exp is None:
        return []
    where = " and ".join(([f"tags.`{tracking.TAG_KIND}` = '{kind}'"] if kind else [])
                         + ([f"attributes.run_name LIKE '{named}%'"] if named else []))
    df = tracking.search_runs([exp], where, max_results=4 * limit + 20, uri=uri, user=user, owner=user.id)
    out: list[Candidate] = []
    groups: set[str] = set()
    rows = df.to_dict("records")
    sizes = Counter(_text(r.get(f"tags.{tracking.TAG_COMPARISON}")) for r in rows)
    for row in rows:
        comparison = _text(row.get(f"tags.{tracking.TAG_COMPARISON}"))
        if (row["owner"] != user.id or (row["status"] == "RUNNING" and not running)
                or (kind == "" and _text(row.get(f"tags.{tracking.TAG_KIND}")))
                or (grouped is False and comparison) or comparison in groups):
            continue
        if grouped and comparison:
            groups.add(comparison)
        start = row["start_time"]
        out.append(Candidate(row["run_id"], str(row["run_name"] or ""), str(row["status"]),
                             None if start is None or start != start else start.to_pydatetime(), comparison,
                             sizes[comparison] if grouped and comparison else 1))
        if len(out) >= limit:
            break
    return out


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def previous_run(now: Sequence[Candidate], known: Sequence[str] | None, since: float | None = None) -> str | None:
    """Which run is "my previous run": ``now`` is the list of :func:`candidates` (with ``running=True``,
    newest first).

    With ``since`` (the live job's creation time, seconds since the epoch): the newest ended run that
    started before it. Without: ``known`` is the run ids ``now`` held when this was last asked (None the
    first time); the first time, the newest ended run; afterwards, runs that appeared since are the live
    ones, and the previous run is the newest ended run that was already known. Either way a training that
    has just finished never becomes its own ghost."""
    if since is not None:
        limit = datetime.fromtimestamp(since, UTC)
        return next((c.run_id for c in now if c.ended and c.start_time is not None and c.start_time < limit), None)
    if known is None:
        return next((c.run_id for c in now if c.ended), None)
    old = set(known)
    return next((c.run_id for c in now if c.ended and c.run_id in old), None)


def ghost_curves(run_id: str, keys: Sequence[str], *, user: User,
                 uri: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The logged history of each metric in ``keys`` of the run: ``{key: (steps, values)}`` sorted by
    step (the last value logged at a step wins); a key the run never logged is left out. ``NotYours``
    for another learner's run, ``ValueError`` for an unknown run id."""
    tracking.check_owner(run_id, user, uri)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key in dict.fromkeys(keys):
        hist = tracking.metric_history(run_id, key, uri, user=user)
        if hist.empty:
            continue
        hist = hist.drop_duplicates("step", keep="last")
        out[key] = (hist["step"].to_numpy(dtype=float), hist["value"].to_numpy(dtype=float))
    return out


def group_of(run_id: str, *, user: User, uri: str | None = None) -> dict[str, str]:
    """The lanes started together with the run (same comparison tag) as ``{run name: run id}``, oldest
    first; just the run itself when it has no comparison tag."""
    tags = tracking.run_tags(run_id, uri, user=user)
    name = tags.get("mlflow.runName") or run_id[:8]
    comparison = tags.get(tracking.TAG_COMPARISON)
    if not comparison or not _SAFE_TAG.fullmatch(comparison):
        return {name: run_id}
    page = tags.get(tracking.TAG_PAGE, "")
    exp = _page_experiment(page, uri) if page else None
    where = f"tags.`{tracking.TAG_COMPARISON}` = '{comparison}'"
    df = tracking.search_runs(None if exp is None else [exp], where, uri=uri, user=user, owner=user.id)
    lanes = {str(r["run_name"] or r["run_id"][:8]): r["run_id"] for r in df.iloc[::-1].to_dict("records")}
    return lanes or {name: run_id}
