"""Ghost runs in the live training views: pick an earlier tracked run of the same page and see it as a
faded, dotted trace under the live curves, so a learner sees what a change did while it trains.

:func:`pick` draws the "Ghost run" box (default: my previous run) and returns a run id or None;
:func:`overlay` adds the ghost of one chart's metric to a figure (a race: one ghost per lane).
Reads are cached per run id, keys and user, so a live view that redraws every second does not ask
the tracking store each time; every read checks that the run is the asker's (in core).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import ghosts
from core.identity import User
from core.plots.ghost import add_ghost
from ui import jobs
from ui.auth import current_user

NONE, PREVIOUS = "none", "previous"
HELP = ("An earlier tracked run of this page drawn faded and dotted under the live curves. Change one "
        "setting, train again, and the gap between the two lines is what your change did.")


@st.cache_data(ttl=4, max_entries=64, show_spinner=False)
def _listed(page: str, user: User, kind: str | None, grouped: bool | None,
            named: str | None = None, since: float | None = None) -> list[ghosts.Candidate]:
    """The candidates, read at most every 4 s; ``since`` (the live job's creation time) is only part of the
    cache key, so a new training reads them afresh (the run that ended just before it is listed as ended)."""
    return ghosts.candidates(page, user=user, kind=kind, grouped=grouped, running=True, named=named)


@st.cache_data(max_entries=128, show_spinner=False)
def _curves(run_id: str, keys: tuple[str, ...], user: User) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return ghosts.ghost_curves(run_id, keys, user=user)


@st.cache_data(max_entries=64, show_spinner=False)
def _group(run_id: str, user: User) -> dict[str, str]:
    return ghosts.group_of(run_id, user=user)


def pick(page: str, *, key: str, kind: str | None = None, grouped: bool | None = None,
         since: float | None = None, named: str | None = None) -> str | None:
    """A "Ghost run" select box: None, My previous run (the default), then the user's earlier tracked runs of
    ``page`` (of ``dll.kind`` ``kind`` when given, ``""`` for runs without a kind; ``grouped`` as in
    :func:`core.ghosts.candidates`: True one per comparison, False none of a comparison), newest first, by run
    name and time. Returns the chosen run id, or None (no ghost, or no earlier run). ``key`` is the widget key
    (prefixed with the page name). ``since``: the live job's creation time (``snap.created``): my previous run
    is then the newest run that started before it; without it, the newest one that had ended before a new run
    appeared in this session. ``named``: only the runs whose name starts with it (one experiment of a
    page that has several)."""
    try:
        listed = _listed(page, current_user(), kind, grouped, named, since)
    except Exception as exc:  # noqa: BLE001 - an unreadable store must not break a live view
        st.caption(f"No ghost run: the earlier runs could not be read ({type(exc).__name__}).")
        return None
    known: list[str] | None = st.session_state.get(f"{key}.known")
    ids = [c.run_id for c in listed]
    if since is not None:
        previous = ghosts.previous_run(listed, None, since)
    else:
        if known is None or set(ids) - set(known) or st.session_state.get(f"{key}.prev") not in (*ids, None):
            st.session_state[f"{key}.prev"] = ghosts.previous_run(listed, known)
            st.session_state[f"{key}.known"] = ids
        previous = st.session_state[f"{key}.prev"]
    ended = {c.run_id: c for c in listed if c.ended}
    labels = {NONE: "None", PREVIOUS: "My previous run" + (f" ({ended[previous].label})" if previous in ended else
                                                           " (none yet)"),
              **{rid: c.label for rid, c in ended.items()}}
    if st.session_state.get(key) not in labels:  # a run deleted meanwhile: back to the default
        st.session_state.pop(key, None)
    choice = st.selectbox("Ghost run", list(labels), index=1, format_func=labels.get, key=key, help=HELP)
    if choice == NONE:
        return None
    return previous if choice == PREVIOUS else choice


def before(job: str, page: str, *, key: str, **kw: Any) -> None:
    """The "Ghost run" box of job ``job``'s live view, drawn before its first training when the learner has
    earlier runs to compare with (``key`` and ``kw`` as :func:`pick` gets them inside the live view, so the
    choice made here carries over); nothing while the job exists, or when there is no earlier run."""
    if jobs.current(job) is not None:
        return
    try:
        earlier = any(c.ended for c in _listed(page, current_user(), kw.get("kind"), kw.get("grouped"),
                                              kw.get("named")))
    except Exception:  # noqa: BLE001 - an unreadable store must not break the page
        return
    if earlier:
        pick(page, key=key, **kw)
        st.caption("Your choice is drawn faded under the live curves once you start a training.")


def overlay(fig: go.Figure, run_id: str | None, key: str, *, smoothing: float = 0.0,
            colors: Mapping[str, str] | None = None, group: bool = False, log_y: bool = False,
            label: str = "", color: str | None = None) -> go.Figure:
    """Add the ghost of metric ``key`` (as the run logged it to MLflow) of run ``run_id`` to ``fig``: faded and
    dotted, legend "ghost: <run name>". With ``group`` the run stands for its comparison (a race) and each of
    its lanes gets its own ghost, in the colour ``colors`` gives its lane (a run named "Adam lr=0.01" or
    "tagger: Adam" is lane "Adam"). ``label`` names the metric in the legend when a chart draws several
    ("ghost: <run> · D loss"), ``color`` fixes the ghost's colour. Nothing when ``run_id`` is None; a run that cannot be read leaves the
    figure as it was, with a caption saying why."""
    if run_id is None:
        return fig
    user = current_user()
    try:
        runs = _group(run_id, user) if group else {_name(run_id, user): run_id}
        for i, (name, rid) in enumerate(runs.items()):
            xy = _curves(rid, (key,), user).get(key)
            if xy is not None:
                add_ghost(fig, f"{name} · {label}" if label else name, *xy, smoothing=smoothing, log_y=log_y,
                          color=color or _lane_color(name, colors or {}), index=i)
    except Exception as exc:  # noqa: BLE001 - a ghost that cannot be read never breaks the live view
        st.caption(f"The ghost run could not be read: {exc}")
    return fig


def overlay_each(fig: go.Figure, run_id: str | None, metrics: Mapping[str, tuple[str, str | None]], *,
                 smoothing: float = 0.0) -> go.Figure:
    """:func:`overlay` of each metric of ``metrics`` (``{key: (label, colour)}``) onto one chart that draws
    several (a GAN's D and G losses, or D(x) and D(G(z)))."""
    for key, (label, color) in metrics.items():
        overlay(fig, run_id, key, label=label, color=color, smoothing=smoothing)
    return fig


def _name(run_id: str, user: User) -> str:
    """The run's name (as MLflow keeps it)."""
    names = {v: k for k, v in _group(run_id, user).items()}
    return names.get(run_id, run_id[:8])


def _lane_color(run_name: str, colors: Mapping[str, str]) -> str | None:
    """The colour of the lane a run belongs to: the lane named like the run, else the longest lane name found
    as words in it ("dates: no attention" is lane "no attention", not "attention")."""
    padded = f" {run_name.replace(':', ' ')} "
    found = [lane for lane in colors if lane == run_name or f" {lane} " in padded]
    return colors[max(found, key=lambda lane: (lane == run_name, len(lane)))] if found else None
