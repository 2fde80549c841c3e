"""The learning-rate finder block, drawn on the CNN and the transfer-learning pages.

``block(page, lr_key=..., lr_setting=..., start=...)`` draws the sweep's settings and its "Find a learning
rate" button, the live loss-against-rate curve (log x) with the suggestion marked, and "Use this rate",
which puts the suggestion into the page's learning-rate widget (``lr_key``). The page starts the job
itself (``start(job_key, sweep)``), because only the page knows its training set-up; the sweep runs in
core (:mod:`core.lr_finder`) as a tracked run of kind ``lr-finder``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from core.lr_finder import FinderResult, LrFinderConfig
from core.plots.lr_finder import lr_finder_figure
from core.settings import Setting
from ui import form, jobs

ENDINGS = {
    "exploded": "The sweep ended early: the smoothed loss grew past {factor:g}× its best — larger rates only "
                "make it worse.",
    "non-finite": "The sweep ended early: the loss became NaN or infinite — larger rates only make it worse.",
    "": "The sweep tried every rate up to the largest without the loss exploding: a larger largest rate shows "
        "where it turns.",
}


def job_key(page: str) -> str:
    """The finder's job (and session-key prefix) on ``page``."""
    return f"{page}.lrfind"


def usable_rate(rate: float, s: Setting) -> float:
    """``rate`` as the page's learning-rate widget can hold it: rounded to 2 significant digits, kept within
    the setting's range, or the nearest (in log scale) of its fixed values when the widget offers a few."""
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"a learning rate must be a positive number, got {rate!r}")
    allowed = s.allowed()
    if allowed:
        return min(allowed, key=lambda v: abs(math.log(float(v)) - math.log(rate)))
    value = float(f"{rate:.2g}")
    if s.lo is not None:
        value = max(value, float(s.lo))
    if s.hi is not None:
        value = min(value, float(s.hi))
    return value


def _use(lr_key: str, value: float) -> None:
    """"Use this rate": runs before the page does, so the widget is drawn with the new value."""
    st.session_state[lr_key] = value
    st.session_state[f"{lr_key}.from_finder"] = value


def block(page: str, *, lr_key: str, lr_setting: Setting, start: Callable[[str, LrFinderConfig], None]) -> None:
    """The finder on ``page``: its settings and button, the live sweep, the suggestion and "Use this rate"."""
    job = job_key(page)
    with st.expander("Find a learning rate (LR range test)", icon=":material/search:",
                     expanded=jobs.current(job) is not None):
        st.markdown(
            "Before a long training, sweep the learning rate: a copy of the network above (same data, optimizer "
            "and mini-batch size) takes one mini-batch per rate while the rate grows from tiny to huge "
            "(Smith 2017; fast.ai's *lr_find*). **You see** the loss against the rate: flat at first, then "
            "falling, then exploding. The **suggested rate** (red dot) is where the smoothed loss falls fastest; "
            "the grey dot is the rate of the lowest loss divided by 10. **Try:** use the suggestion, train, and "
            "compare with a rate ten times larger."
        )
        with st.form(f"{job}_form", border=False):
            c1, c2, c3 = st.columns(3)
            values = form.fields(LrFinderConfig, ((c1, "lr_min"), (c2, "lr_max"), (c3, "steps")), keys=f"{page}.lrf_")
            go = form.submit("Find a learning rate", job, icon=":material/search:")
        if go:
            try:
                sweep = LrFinderConfig(**values)
            except ValueError as exc:
                st.error(str(exc), icon=":material/error:")
            else:
                start(job, sweep)
        snap = jobs.panel(job, _view)
        result = snap.result if snap is not None and snap.done else None
        if isinstance(result, FinderResult) and result.suggestion is not None:
            _use_button(page, lr_key, lr_setting, result)


def _rows(snap) -> tuple[list[float], list[float], list[float]]:
    rows = snap.metrics.get("lr_finder", []) if snap is not None else []
    rows = [r for r in rows if "lr" in r and "smoothed" in r]
    return [r["lr"] for r in rows], [r["loss"] for r in rows], [r["smoothed"] for r in rows]


def _view(snap) -> None:
    result = snap.result if isinstance(snap.result, FinderResult) else None
    if result is not None and result.lrs:
        lrs, losses, smoothed = result.lrs, result.losses, result.smoothed
    else:
        lrs, losses, smoothed = _rows(snap)
    if not lrs:
        return
    found = None if result is None else result.suggestion
    st.plotly_chart(lr_finder_figure(lrs, losses, smoothed, steep=found and found.steep,
                                     minimum=found and found.minimum), key=f"{snap.page}.chart")
    if result is None:
        return
    if result.status == "FINISHED":
        st.caption(ENDINGS.get(result.ended, "").format(factor=LrFinderConfig().stop_factor)
                   + f" {len(result.lrs)} rates tried. Tracked as run `{result.run_id}` (kind *lr-finder*).")
    if result.status == "FINISHED" and found is None:
        st.warning("The sweep was too short to suggest a rate: start it from a smaller rate.")


def _use_button(page: str, lr_key: str, s: Setting, result: FinderResult) -> None:
    found = result.suggestion
    value = usable_rate(found.steep, s)
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.markdown(f"Suggested learning rate: **{value:g}** (steepest descent at {found.steep:.3g}; "
                  f"lowest loss / 10: {found.minimum:.3g}).")
    right.button("Use this rate", key=f"{page}.lrf_use", icon=":material/check:", type="primary",
                 on_click=_use, args=(lr_key, value),
                 help="Puts the suggested rate into the learning-rate box of the training form above.")
    if st.session_state.get(f"{lr_key}.from_finder") == value:
        st.caption(f"The training form's learning rate is now {value:g}: press Train to use it.")
