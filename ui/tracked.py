"""Networks a tracked run saved, loaded once per process for the pages that use a trained network.

A job hands back plain data and the run ids; a page that needs the trained network (to predict,
sample, translate or look inside) asks for it here by run id and gets it from the run's logged
weights, rebuilt by the topic's own loader in ``core``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from core.identity import User
from core.jobs import job_name, resolve
from ui.auth import current_user

T = TypeVar("T")


def network(load: Callable[[str], T], run_id: str) -> T:
    """``load(run_id, user)`` (a module-level function of ``core``) for the signed-in user, cached per
    process by run id and user. Whatever ``load`` raises (a ``ValueError`` with a plain message when
    the run saved no weights, ``NotYours`` when it is another learner's) reaches the caller."""
    return _cached(job_name(load), run_id, current_user())


@st.cache_resource(max_entries=16, show_spinner="Loading the trained network from its tracked run…")
def _cached(loader: str, run_id: str, user: User) -> Any:
    return resolve(loader)(run_id, user)


def network_or_none(load: Callable[[str], T], run_id: str, what: str = "The trained network") -> T | None:
    """:func:`network`, or ``None`` after one plain warning when the run cannot give it back (deleted
    on the Runs page, or it saved no weights)."""
    try:
        return network(load, run_id)
    except (ValueError, PermissionError) as exc:
        st.warning(f"{what} cannot be loaded from its tracked run: {exc}.", icon=":material/warning:")
        return None
